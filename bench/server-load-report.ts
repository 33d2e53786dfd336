/**
 * bench:server's table: each configuration's figures beside the goal (issue #19: 4,000 events/s
 * at 1,000 connections in 10 namespaces, ack p99 ≤ 100 ms) and beside the figures measured before
 * that issue's server work, with this generator, at the same rate (docs/performance.md §17).
 */
import type { Result } from './server-load';

const GOAL = { rate: 4000, ackP99Ms: 100 };

/** Before the server work (commit 4b09488), this generator, 1,000 clients, 10 namespaces; load average in the note. */
const BEFORE: Record<string, Partial<Record<number, { ackP50: number; ackP99: number; deliveryP99: number; note: string }>>> = {};

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
    'errors',
  ];
  const rows = results.map((r) => [
    r.instances > 1 ? `${r.name} (${r.instances} instances)` : r.name,
    r.offered.toFixed(0),
    r.ingest.toFixed(0),
    r.deliveries.toFixed(0),
    r.expectedDeliveries.toFixed(0),
    ms(r.ack.p50),
    ms(r.ack.p99),
    ms(r.delivery.p50),
    ms(r.delivery.p99),
    r.rssMb.map((mb) => `${mb.toFixed(0)} MB`).join(' + '),
    r.heapMb.map((mb) => `${mb.toFixed(0)} MB`).join(' + '),
    r.serverCpu.map((share) => `${(share * 100).toFixed(0)}%`).join(' + '),
    // The server's CPU per event ingested: what the work costs, whatever else the machine runs.
    r.ingest > 0 ? ((r.serverCpu.reduce((a, b) => a + b, 0) * 1e6) / r.ingest).toFixed(0) : '—',
    `${(r.generatorCpu * 100).toFixed(0)}%`,
    r.errors,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), '', ...results.map(verdict)].join('\n');
}

/** The goal and the before figure, in words. */
function verdict(r: Result): string {
  const before = BEFORE[r.name]?.[r.offered];
  const then = before ? `; before: ack p50 ${ms(before.ackP50)}, p99 ${ms(before.ackP99)}, delivery p99 ${ms(before.deliveryP99)} (${before.note})` : '; no before figure at this rate';
  const met = r.ack.p99 <= GOAL.ackP99Ms && r.ingest >= r.offered * 0.99;
  const goal =
    r.offered < GOAL.rate
      ? `below the goal's rate (${GOAL.rate} events/s)`
      : met
        ? `goal met (ack p99 ≤ ${GOAL.ackP99Ms} ms at ${r.offered} events/s)`
        : `goal missed: ack p99 ${ms(r.ack.p99)} is ${(r.ack.p99 / GOAL.ackP99Ms).toFixed(1)}× the ${GOAL.ackP99Ms} ms goal`;
  return `${r.instances > 1 ? `${r.name} (${r.instances})` : r.name} at ${r.offered} events/s: ${goal}${then}`;
}

const ms = (value: number) => (Number.isNaN(value) ? '—' : `${value.toFixed(1)} ms`);
