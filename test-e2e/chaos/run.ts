/**
 * The chaos convergence run: the real server (SQLite file) behind a misbehaving TCP proxy, three
 * browser contexts with two demo tabs each writing at random, the network cut, delayed and
 * stalled, tabs closed and reopened, the server killed with SIGKILL and restarted. Then it
 * quiesces and checks that nothing was lost, nothing stored twice, and every replica agrees.
 * `npm run chaos` and test-e2e/chaos.spec.ts both call `runChaos`.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Browser, BrowserContext } from '@playwright/test';
import { startTcpProxy, type TcpProxy } from '../../test/helpers/tcp-proxy';
import { TestServer } from '../server';
import { seededRandom, type Random } from './random';
import { ChaosTab, sleep, type Todo, type WriteLog } from './tab';
import { checkLog, compactedWinners, liveRecords, readEventLog } from './verify';

const REPOSITORY = 'todos';
const CONTEXTS = 3;
const TABS_PER_CONTEXT = 2;
const RECORD_IDS = Array.from({ length: 300 }, (_, i) => `r${String(i).padStart(3, '0')}`);
/** Server crashes during the run, spread over it. */
const SERVER_KILLS = 2;
const QUIESCE_TIMEOUT_MS = 60_000;

export interface ChaosOptions {
  seed: number;
  /** How long the tabs write while the chaos runs. */
  seconds: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  seed: number;
  seconds: number;
  /** Writes that resolved in a tab. */
  writes: number;
  rejected: number;
  unknown: number;
  lost: number;
  duplicates: number;
  converged: boolean;
  serverEvents: number;
  records: number;
  faults: { cuts: number; stalls: number; delays: number; reopens: number; kills: number };
  problems: string[];
}

export function summary(report: ChaosReport): string {
  return `writes ${report.writes}, lost ${report.lost}, duplicates ${report.duplicates}, converged ${report.converged ? 'yes' : 'no'}`;
}

export function passed(report: ChaosReport): boolean {
  return report.lost === 0 && report.duplicates === 0 && report.converged && report.problems.length === 0;
}

export async function runChaos(browser: Browser, options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  const random = seededRandom(options.seed);
  const server = await TestServer.start();
  let proxy: TcpProxy | undefined;
  const contexts: BrowserContext[] = [];
  try {
    proxy = await startTcpProxy(server.port);
    const tabs: ChaosTab[] = [];
    for (let c = 0; c < CONTEXTS; c++) {
      const context = await browser.newContext();
      contexts.push(context);
      for (let t = 0; t < TABS_PER_CONTEXT; t++) tabs.push(new ChaosTab(`c${c}t${t}`, context, proxy.url, random.fork()));
    }
    await Promise.all(tabs.map((tab) => tab.open()));
    log(`seed ${options.seed}: ${CONTEXTS} contexts × ${TABS_PER_CONTEXT} tabs, ${RECORD_IDS.length} record ids, ${options.seconds} s of chaos`);

    const writes: WriteLog = { resolved: [], rejected: [], unknown: 0 };
    const faults = await chaos(server, proxy, tabs, writes, random, options.seconds * 1000, log);
    log(`quiescing after ${writes.resolved.length} resolved writes`);
    const problems = await quiesce(server, proxy, tabs, log);

    const winners = await compactedWinners(proxy.url, REPOSITORY);
    const expected = liveRecords(winners);
    const diverged = await awaitConvergence(tabs, expected);
    await server.stop();
    const eventLog = readEventLog(server.databasePath, REPOSITORY);
    const check = checkLog(eventLog, writes.resolved, winners);

    for (const tab of diverged) problems.push(`tab ${tab} does not hold the server's records`);
    if (check.compactionMismatches.length > 0) problems.push(`compaction disagrees with LWW over the log for ${check.compactionMismatches.slice(0, 5).join(', ')}`);
    if (check.lost.length > 0) problems.push(`lost writes, e.g. ${JSON.stringify(check.lost.slice(0, 5))}`);
    const rejections = new Set(writes.rejected.map((r) => r.reason));
    if (rejections.size > 0) log(`rejected writes (${writes.rejected.length}): ${[...rejections].slice(0, 3).join(' | ')}`);
    return {
      seed: options.seed,
      seconds: options.seconds,
      writes: writes.resolved.length,
      rejected: writes.rejected.length,
      unknown: writes.unknown,
      lost: check.lost.length,
      duplicates: check.duplicates,
      converged: diverged.length === 0 && check.compactionMismatches.length === 0,
      serverEvents: eventLog.length,
      records: expected.length,
      faults,
      problems,
    };
  } finally {
    for (const context of contexts) await context.close().catch(() => {});
    await proxy?.close();
    await server.dispose();
  }
}

/** Runs the writers and the faults for `durationMs`; returns the faults injected. */
async function chaos(server: TestServer, proxy: TcpProxy, tabs: readonly ChaosTab[], writes: WriteLog, random: Random, durationMs: number, log: (line: string) => void): Promise<ChaosReport['faults']> {
  const faults = { cuts: 0, stalls: 0, delays: 0, reopens: 0, kills: 0 };
  const end = Date.now() + durationMs;
  const running = () => Date.now() < end;
  const writers = tabs.map(async (tab) => {
    const pauses = random.fork();
    while (running()) {
      if (tab.isOpen) await tab.writeBurst(RECORD_IDS, writes);
      await sleep(pauses.int(10, 120));
    }
  });

  const killAt = Array.from({ length: SERVER_KILLS }, (_, i) => Date.now() + (durationMs * (i + 1)) / (SERVER_KILLS + 1));
  const reopens: Promise<void>[] = [];
  while (running()) {
    await sleep(random.int(150, 900));
    const next = killAt[0];
    if (next !== undefined && Date.now() >= next) {
      killAt.shift();
      await server.kill();
      faults.kills++;
      log(`server killed (SIGKILL) after ${writes.resolved.length} resolved writes`);
      await sleep(random.int(300, 2000));
      await server.restart();
      proxy.setUpstream(server.port);
      continue;
    }
    const roll = random.next();
    if (roll < 0.3) {
      proxy.cutAll();
      faults.cuts++;
    } else if (roll < 0.45) {
      proxy.setDelay(random.pick([0, 0, 5, 30, 120, 300]));
      faults.delays++;
    } else if (roll < 0.55) {
      // A stall: nothing passes for a while, then the link drops, as a dying network does.
      proxy.blackhole();
      await sleep(random.int(200, 1500));
      proxy.cutAll();
      proxy.restore();
      faults.stalls++;
    } else if (roll < 0.8) {
      reopens.push(random.pick(tabs).reopen(random.int(0, 1500)));
      faults.reopens++;
    }
  }
  await Promise.all(writers);
  await Promise.all(reopens);
  return faults;
}

/** Heals the network, reopens closed tabs, waits until every context pushed everything and
 *  finished a fresh catch-up. Returns what did not settle. */
async function quiesce(server: TestServer, proxy: TcpProxy, tabs: readonly ChaosTab[], log: (line: string) => void): Promise<string[]> {
  proxy.restore();
  proxy.setDelay(0);
  await server.health();
  await Promise.all(tabs.filter((tab) => !tab.isOpen).map((tab) => tab.open()));
  const problems: string[] = [];
  const firstPerContext = [...new Map(tabs.map((tab) => [tab.context, tab])).values()];
  for (const tab of firstPerContext) {
    // A negative count is settled too (and wrong): it is reported below instead of waited out.
    const drained = await poll(async () => {
      const status = await tab.status();
      return status.connected && status.authenticated && status.pending <= 0 && !status.syncing;
    });
    const status = await tab.status();
    if (!drained || status.pending !== 0) problems.push(`tab ${tab.name}: outbox not drained: ${JSON.stringify(status)}`);
  }
  // A final catch-up on a fresh socket, so a broadcast lost with a cut socket cannot hide.
  for (const tab of firstPerContext) {
    const before = (await tab.status()).lastSyncAt;
    await tab.restartSync();
    const caughtUp = await poll(async () => {
      const status = await tab.status();
      return status.lastSyncAt !== before && !status.syncing && status.authenticated;
    });
    if (!caughtUp) problems.push(`tab ${tab.name}: no final catch-up: ${JSON.stringify(await tab.status())}`);
  }
  for (const tab of firstPerContext) {
    const workers = await tab.workers();
    if (workers !== 1) problems.push(`tab ${tab.name}: ${workers} shared workers run in its browser context, not one`);
  }
  log(`quiet: ${problems.length === 0 ? 'every outbox drained, every context caught up' : problems.join('; ')}`);
  return problems;
}

/** The tabs still not holding `expected` after a grace period (broadcasts may be in flight),
 *  each with the records where it differs: what a replay needs to start from. */
async function awaitConvergence(tabs: readonly ChaosTab[], expected: readonly Todo[]): Promise<string[]> {
  const diverged = async () => {
    const found: string[] = [];
    for (const tab of tabs) {
      const held = await tab.records();
      if (!isDeepStrictEqual(held, expected)) found.push(`${tab.name} (${differences(held, expected)})`);
    }
    return found;
  };
  await poll(async () => (await diverged()).length === 0, 15_000);
  return diverged();
}

/** Up to five records where `held` and `expected` differ, each as the tab has it and as the server does. */
function differences(held: readonly Todo[], expected: readonly Todo[]): string {
  const byId = (records: readonly Todo[]) => new Map(records.map((record) => [record.id, JSON.stringify(record)]));
  const [tab, server] = [byId(held), byId(expected)];
  const ids = [...new Set([...tab.keys(), ...server.keys()])].filter((id) => tab.get(id) !== server.get(id)).sort();
  const shown = ids.slice(0, 5).map((id) => `${id}: tab ${tab.get(id) ?? 'absent'}, server ${server.get(id) ?? 'absent'}`);
  return `${ids.length} differ: ${shown.join('; ')}`;
}

async function poll(check: () => Promise<boolean>, timeoutMs = QUIESCE_TIMEOUT_MS): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}
