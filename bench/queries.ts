/**
 * The query and batch scenarios, tabsync beside Dexie and the bare floor in the same minutes:
 * a 50-record window sorted by an indexed field over N records, a write in another tab entering
 * it (p50, p99), the watching tab's memory; and a batch of upserts, durable and (tabsync only:
 * Dexie has no sync) visible in another profile. Each product gets fresh profiles of its own.
 */
import type { Browser, BrowserContext, Page } from '@playwright/test';
import { callIn, mb, ms, progress, sharedWorkerHeapMb, tabHeapMb, within, type PeerRow } from './peer-harness';
import type { Peers } from './pages/peers';

const call = callIn<Peers>('peers');
const WARM_UP = 20;

export interface PeerEnv {
  browser: Browser;
  serverUrl: string;
  debuggingPort: number;
}

async function openPeers(context: BrowserContext, serverUrl: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${serverUrl}/bench/peers.html`);
  await page.waitForFunction(() => 'peers' in globalThis);
  return page;
}

interface WindowFigures { seedMs: number; firstWindowMs: number; p50Ms: number; p99Ms: number; n: number; tabHeapMb: number; workerHeapMb: number; plan: string }

interface WindowSteps {
  connect?: (writer: Page, watcher: Page) => Promise<void>;
  seed: (writer: Page) => Promise<number>;
  watch: (watcher: Page) => Promise<number>;
  enter: (writer: Page, n: number) => Promise<{ p50Ms: number; p99Ms: number; n: number }>;
  /** What only this product has to tell, read while it watches. */
  inspect?: (watcher: Page) => Promise<Pick<WindowFigures, 'workerHeapMb' | 'plan'>>;
}

/** One product's run: two tabs of a fresh profile, the records stored, one tab watching, one writing. */
async function windowRun(env: PeerEnv, writes: number, steps: WindowSteps): Promise<WindowFigures> {
  const context = await env.browser.newContext();
  try {
    const writer = await openPeers(context, env.serverUrl);
    const watcher = await openPeers(context, env.serverUrl);
    await steps.connect?.(writer, watcher);
    const seedMs = await steps.seed(writer);
    const firstWindowMs = await steps.watch(watcher);
    await steps.enter(writer, WARM_UP);
    const latency = await steps.enter(writer, writes);
    const extra = (await steps.inspect?.(watcher)) ?? { workerHeapMb: Number.NaN, plan: '' };
    return { seedMs, firstWindowMs, ...latency, tabHeapMb: await tabHeapMb(context, watcher), ...extra };
  } finally {
    await context.close();
  }
}

export async function queryScenario(env: PeerEnv, records: number, writes: number): Promise<PeerRow[]> {
  progress(`query: tabsync, ${records} records stored, a window of 50 watched, ${writes} writes entering it`);
  const product = await windowRun(env, writes, {
    connect: async (writer, watcher) => { for (const page of [writer, watcher]) await call(page, 'connectItems', 'query'); },
    // Stored, then synced: the server's acks are not left to run under the measurement.
    seed: async (p) => { const t = await call(p, 'seedItems', records); await within(300, 'the stored records acknowledged', call(p, 'synced')); return t; },
    watch: (p) => call(p, 'watchItems'),
    enter: (p, n) => call(p, 'enterItems', n),
    inspect: async (watcher) => ({ workerHeapMb: await sharedWorkerHeapMb(env.debuggingPort, 'query-worker.js'), plan: (await call(watcher, 'plans')).join('; ') }),
  });
  progress(`query: Dexie, the same`);
  const dexie = await windowRun(env, writes, { seed: (p) => call(p, 'seedDexie', records), watch: (p) => call(p, 'watchDexie'), enter: (p, n) => call(p, 'enterDexie', n) });
  progress(`query: the floor, the same`);
  const floor = await windowRun(env, writes, { seed: (p) => call(p, 'seedFloor', records), watch: (p) => call(p, 'watchFloor'), enter: (p, n) => call(p, 'enterFloor', n) });
  const records$ = `${records / 1000}k`;
  return [
    [`window of 50 over ${records$}: write in tab A → tab B's callback, p50 (n=${product.n})`, ms(product.p50Ms), ms(dexie.p50Ms), ms(floor.p50Ms)],
    ['  p99', ms(product.p99Ms), ms(dexie.p99Ms), ms(floor.p99Ms)],
    ['  watch start → first window', ms(product.firstWindowMs), ms(dexie.firstWindowMs), ms(floor.firstWindowMs)],
    ['  watching tab heap (after GC)', mb(product.tabHeapMb), mb(dexie.tabHeapMb), mb(floor.tabHeapMb)],
    ['  shared worker heap (after GC)', mb(product.workerHeapMb), 'no worker', ''],
    [`  storing the ${records$} (upsertMany of 500 × 4 in flight / bulkPut 10k / put 10k), durable`, ms(product.seedMs), ms(dexie.seedMs), ms(floor.seedMs)],
    [`  tabsync's plan: ${product.plan}`, '', '', ''],
  ];
}

export async function batchScenario(env: PeerEnv, records: number): Promise<PeerRow[]> {
  progress(`batch: ${records} upserts; tabsync visible in another profile through the server`);
  const [a, b] = [await env.browser.newContext(), await env.browser.newContext()];
  let product: { durableMs: number; visibleMs: number };
  try {
    const [writer, reader] = [await openPeers(a, env.serverUrl), await openPeers(b, env.serverUrl)];
    for (const page of [writer, reader]) await call(page, 'connectItems', 'batch');
    await call(reader, 'countReaches', 0); // the count is watched before the batch starts
    await call(writer, 'synced');
    const visible = call(reader, 'countReaches', records);
    const { t0, durableMs } = await call(writer, 'batchItems', records);
    product = { durableMs, visibleMs: (await within(300, 'the batch in the other profile', visible)) - t0 };
  } finally {
    await a.close();
    await b.close();
  }
  const single = async (run: (p: Page) => Promise<number>) => {
    const context = await env.browser.newContext();
    try { return await run(await openPeers(context, env.serverUrl)); } finally { await context.close(); }
  };
  const dexie = await single((p) => call(p, 'bulkPutDexie', records));
  const floor = await single((p) => call(p, 'putFloor', records));
  return [
    [`batch of ${records} upserts: durable (${records / 500} upsertMany of 500 at once / one bulkPut / one put transaction)`, ms(product.durableMs), ms(dexie), ms(floor)],
    ['  visible in another profile, through the server', ms(product.visibleMs), 'no sync', ''],
  ];
}
