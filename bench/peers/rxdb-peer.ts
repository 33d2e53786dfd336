/**
 * RxDB 17 as the bench's peer, driven in the same run, browser and minutes as the product, with
 * the same records and the same scenario shapes as bench/run.ts (see docs/performance.md §19 for
 * what differs between the two harnesses). Its page is bench/pages/rxdb-bench.ts, its server
 * bench/peers/rxdb-server.ts.
 */
import type { Browser, BrowserContext, Page } from '@playwright/test';
import * as esbuild from 'esbuild';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { pageCaller } from '../page-call';
import { summary } from '../pages/timing';
import type { RxBench } from '../pages/rxdb-bench';
import type { RxdbCollectionName } from './rxdb-schema';
import { startRxdbServer, type RxdbServer } from './rxdb-server-process';

export type Latency = { p50Ms: number; p99Ms: number; n: number };
/** Writes per second; a phase cut at `capS` counts what `completed` by then. */
export type Throughput = { sequentialPerSec: number; concurrentPerSec: number; bulkPerSec: number; completed: { sequential: number; parallel: number; of: number }; capS: number };
/** An initial sync's time, or the cap it did not finish within. */
export type SyncTime = { records: number; ms: number; longestStallMs: number; cappedAtS?: number };
export interface RxdbFigures { crossTab?: Latency; remote?: Latency; writes?: Throughput; initialSync?: SyncTime[] }

const call = pageCaller<RxBench>('rxbench');
const WARM_UP = 20;
/** How long each of the peer's write phases may run (the product's take seconds). */
const WRITES_CAP_MS = 120_000;

export interface PeerOptions { browser: Browser; dir: string; origin: string; tabs: number; progress: (line: string) => void }

/** Builds the peer's page into the bench's served directory and starts its server. */
export async function startRxdbPeer(options: PeerOptions) {
  const benchOut = join(options.dir, 'dist/public/bench');
  await esbuild.build({ bundle: true, minify: true, target: 'es2022', logLevel: 'warning', format: 'esm', entryPoints: { 'rxdb-bench': 'bench/pages/rxdb-bench.ts' }, outdir: benchOut });
  copyFileSync('bench/pages/rxdb-index.html', join(benchOut, 'rxdb-index.html'));
  const server = await startRxdbServer();
  return {
    /** crossTab, remote and writes (each when given a count), one profile after the other as bench/run.ts does. */
    latencyAndWrites: (n: { crossTab?: number; remote?: number; writes?: number }) => latencyAndWrites(options, server, n),
    initialSync: (syncs: { name: RxdbCollectionName; records: number }[], capMs: number) => initialSyncs(options, server, syncs, capMs),
    stop: () => server.stop(),
  };
}

async function openPage(context: BrowserContext, origin: string, query = ''): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${origin}/bench/rxdb-index.html${query}`);
  if (!query) await page.waitForFunction(() => 'rxbench' in globalThis);
  return page;
}

async function latencyAndWrites(o: PeerOptions, server: RxdbServer, n: { crossTab?: number; remote?: number; writes?: number }): Promise<RxdbFigures> {
  const figures: RxdbFigures = {};
  const profileA = await o.browser.newContext();
  const profileB = await o.browser.newContext();
  try {
    if (n.crossTab || n.remote) {
      const tabs: Page[] = [];
      for (let i = 0; i < o.tabs; i++) tabs.push(await openPage(profileA, o.origin));
      for (const [i, tab] of tabs.entries()) await call(tab, 'connect', server.url, 'live', i === 1);
      const sender = tabs[0]!;
      const leader = await call(sender, 'isLeader');
      if (n.crossTab) {
        o.progress(`RxDB crossTab: ${o.tabs} tabs in one profile, ${n.crossTab} writes one at a time (writing tab is ${leader ? '' : 'not '}the leader)`);
        await call(sender, 'crossTab', WARM_UP);
        figures.crossTab = await call(sender, 'crossTab', n.crossTab);
      }
      if (n.remote) figures.remote = await remote(o, server, sender, profileB, n.remote);
    }
    await profileA.close(); // as bench/run.ts does before the writes
    if (n.writes) {
      o.progress(`RxDB writes: ${n.writes} upserts one by one, then ${n.writes} in parallel`);
      const writesPage = await openPage(profileB, o.origin);
      await call(writesPage, 'connect', server.url, 'live', false);
      figures.writes = await call(writesPage, 'writes', n.writes, WRITES_CAP_MS);
    }
  } finally {
    await profileA.close();
    await profileB.close();
  }
  return figures;
}

/** Profile A's tab writes; profile B's subscription sees it through the RxDB server. */
async function remote(o: PeerOptions, server: RxdbServer, sender: Page, profileB: BrowserContext, n: number): Promise<Latency> {
  o.progress(`RxDB remote: profile A → RxDB server → profile B, ${n} writes`);
  const receiver = await openPage(profileB, o.origin);
  await call(receiver, 'connect', server.url, 'live', false);
  const samples: number[] = [];
  for (let i = 0; i < n + WARM_UP; i++) {
    const id = `remote-${i}`;
    const arrival = call(receiver, 'arrivalOf', id);
    const t0 = await call(sender, 'timedUpsert', id);
    if (i >= WARM_UP) samples.push((await arrival) - t0); else await arrival;
  }
  return summary(samples);
}

/** Each sync in a fresh profile, from navigation start; one that passes `capMs` is given up. */
async function initialSyncs(o: PeerOptions, server: RxdbServer, syncs: { name: RxdbCollectionName; records: number }[], capMs: number): Promise<RxdbFigures> {
  const results: SyncTime[] = [];
  for (const { name, records } of syncs) {
    o.progress(`RxDB initialSync: seeding ${records} records, then a fresh profile syncs them`);
    await server.seed(name, records);
    const context = await o.browser.newContext();
    try {
      const page = await openPage(context, o.origin, `?server=${encodeURIComponent(server.url)}&sync=${name}&records=${records}`);
      type Result = Awaited<ReturnType<RxBench['initialSync']>>;
      const done = page.evaluate(() => (globalThis as unknown as { initialSyncResult: Promise<Result> }).initialSyncResult);
      let cancelCap = () => {};
      const cap = new Promise<undefined>((resolve) => { const timer = setTimeout(resolve, capMs); cancelCap = () => clearTimeout(timer); });
      const result = await Promise.race([done, cap]).finally(() => cancelCap());
      if (result && result.held < records) throw new Error(`RxDB initial sync incomplete: ${result.held} of ${records}`);
      results.push(result ? { records, ms: result.ms, longestStallMs: result.longestStallMs } : { records, ms: NaN, longestStallMs: NaN, cappedAtS: capMs / 1000 });
      if (!result) void done.catch(() => {}); // the page closes with its context
    } finally {
      await context.close();
    }
  }
  return { initialSync: results };
}
