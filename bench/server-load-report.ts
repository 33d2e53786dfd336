/**
 * bench:server's table: each configuration's figures beside the goal (issue #19: 4,000 events/s
 * at 1,000 connections in 10 namespaces, ack p99 ≤ 100 ms) and, with `--before <commit>`, beside
 * that commit's server on the same load in the same minutes (docs/performance.md §17).
 */
import type { Result } from './server-load';

const GOAL = { rate: 4000, ackP99Ms: 100 };

export function table(results: readonly Result[]): string {
  const header = [
    'configuration',
    'offered',
    'ingest ev/s',
    'deliveries/s',
    '(expected)',
    'ack p50',
    'ack p99',
    'delivery p50',
    'delivery p99',
    'server RSS',
    'server heap',
    'server CPU',
    'CPU ms/1k ev',
    'gen CPU',
    'db CPU',
    'load, CPU pressure',
    'errors',
  ];
  const rows = results.map((r) => [
    label(r),
    r.offered.toFixed(0),
    r.ingest.toFixed(0),
    r.deliveries.toFixed(0),
    r.expectedDeliveries.toFixed(0),
    ms(r.ack.p50),
    ms(r.ack.p99),
    ms(r.delivery.p50),
    ms(r.delivery.p99),
    r.rssMb.map((mb) => `${mb.toFixed(0)} MB`).join(' + '),
    // A server that does not report its heap (an older one) shows none.
    r.heapMb.map((mb) => (mb > 0 ? `${mb.toFixed(0)} MB` : '—')).join(' + '),
    r.serverCpu.map((share, i) => `${(share * 100).toFixed(0)}% (${(r.serverSystemCpu[i]! * 100).toFixed(0)}% sys)`).join(' + '),
    // The server's CPU per event, until its last event was delivered: what the work costs, whatever else the machine runs.
    Number.isNaN(r.cpuPerThousand) ? '—' : r.cpuPerThousand.toFixed(0),
    `${(r.generatorCpu * 100).toFixed(0)}%`,
    r.databaseCpu === undefined ? '—' : `${(r.databaseCpu * 100).toFixed(0)}%`,
    // The machine when the window started → when it ended: what else ran beside this run.
    `${r.machine.load.map((l) => l.toFixed(1)).join('→')}, ${r.machine.pressure.map((p) => `${p.toFixed(0)}%`).join('→')}`,
    r.errors,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const verdicts = results.filter((r) => r.before === undefined).map((r) => verdict(r, results.find((b) => b.before !== undefined && b.name === r.name)));
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), '', ...verdicts].join('\n');
}

function label(r: Result): string {
  const name = r.instances > 1 ? `${r.name} (${r.instances} instances)` : r.name;
  return r.before === undefined ? name : `${name}, before ${r.before}`;
}

/** The goal, and the before figure of the same run, in words. */
function verdict(r: Result, before: Result | undefined): string {
  const met = r.ack.p99 <= GOAL.ackP99Ms && r.ingest >= r.offered * 0.99;
  const goal =
    r.offered < GOAL.rate
      ? `below the goal's rate (${GOAL.rate} events/s)`
      : met
        ? `goal met (ack p99 ≤ ${GOAL.ackP99Ms} ms at ${r.offered} events/s)`
        : `goal missed: ack p99 ${ms(r.ack.p99)} is ${(r.ack.p99 / GOAL.ackP99Ms).toFixed(1)}× the ${GOAL.ackP99Ms} ms goal` +
          (r.ingest < r.offered * 0.99 ? `, ${r.ingest.toFixed(0)} of ${r.offered} events/s acknowledged in time` : '');
  const then = before ? `; before (${before.before}): ack p50 ${ms(before.ack.p50)} → ${ms(r.ack.p50)}, p99 ${ms(before.ack.p99)} → ${ms(r.ack.p99)}` : '';
  return `${label(r)} at ${r.offered} events/s: ${goal}${then}`;
}

const ms = (value: number) => (Number.isNaN(value) ? '—' : `${value.toFixed(1)} ms`);
