/**
 * The demo page (public/) as a user meets it, served by the bench's sync server: a todo added in
 * one tab until another tab rendered it (p50, p99), on an empty list and beside N records; and
 * with N records synced, the load until the first rendered row, a filter switch and "Show more"
 * until the list shows it, with the longest main-thread task (PerformanceObserver 'longtask').
 */
import type { BrowserContext, Page } from '@playwright/test';
import { join } from 'node:path';
import { callIn, mb, ms, progress, sharedWorkerHeapMb, within, type PeerRow } from './peer-harness';
import type { PeerEnv } from './queries';
import { seedNamespace } from './seed-namespace';
import { sharedWorkerTargets } from './worker-profile';
import type { DemoProbe } from './pages/demo-probe';
import { summary } from './pages/timing';

const call = callIn<DemoProbe>('demoProbe');
const WARM_UP = 10;
/** What the demo watches once settled: three filters' windows, two counts (public/app.ts). */
const DEMO_QUERIES = 5;

async function openDemo(context: BrowserContext, serverUrl: string, probe: string): Promise<Page> {
  const page = await context.newPage();
  await page.addInitScript({ path: probe });
  await page.goto(`${serverUrl}/`);
  await page.waitForFunction(() => 'demoProbe' in globalThis && 'todos' in globalThis);
  return page;
}

/** `n` todos added in `writer`, each until `reader` rendered it. */
async function addLatency(writer: Page, reader: Page, n: number) {
  await call(reader, 'reportRows');
  for (let i = 0; i < WARM_UP; i++) await call(writer, 'addTimed', `warm-up ${i}`);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) samples.push(await call(writer, 'addTimed', `bench todo ${i} ${Math.random().toString(36).slice(2, 8)}`));
  return summary(samples);
}

/** Until the profile's last shared worker of the demo has ended (its tabs are closed). */
async function workerGone(debuggingPort: number): Promise<void> {
  for (let i = 0; i < 100 && (await sharedWorkerTargets(debuggingPort)).some((t) => t.url.endsWith('/sync-worker.js')); i++) await new Promise((r) => setTimeout(r, 100));
}

const withTask = (x: { ms: number; longestTaskMs: number }) => `${ms(x.ms)} (task ${ms(x.longestTaskMs)})`;

export async function demoScenarios(env: PeerEnv & { dir: string }, counts: { records: number; writes: number }): Promise<PeerRow[]> {
  const probe = join(env.dir, 'dist/public/bench/demo-probe.js');
  const k = `${counts.records / 1000}k`;
  progress(`demo: seeding ${counts.records} todos on the server`);
  await seedNamespace(env.serverUrl, 'demobig', 'todos', counts.records, (i) => ({ id: `big-${String(i).padStart(6, '0')}`, title: `Seeded todo number ${i}`, done: i % 3 === 0 }));

  progress(`demo: ${counts.writes} todos added in one demo tab, rendered in another`);
  const small = await env.browser.newContext();
  const [a, b] = [await openDemo(small, env.serverUrl, probe), await openDemo(small, env.serverUrl, probe)];
  await call(a, 'authenticate', 'demo');
  const emptyList = await addLatency(a, b, counts.writes);
  await small.close();

  progress(`demo: a fresh profile syncs the ${counts.records} todos, then loads, filters, shows more`);
  const big = await env.browser.newContext();
  const first = await openDemo(big, env.serverUrl, probe);
  const t0 = Date.now();
  await call(first, 'authenticate', 'demobig');
  await within(300, `the demo profile's sync of ${k}`, call(first, 'countReaches', counts.records));
  const syncMs = Date.now() - t0;
  await first.close();
  await workerGone(env.debuggingPort);
  const cold = await openDemo(big, env.serverUrl, probe);
  const coldLoad = await call(cold, 'load');
  const warm = await openDemo(big, env.serverUrl, probe);
  const warmLoad = await call(warm, 'load');
  const steps = [];
  for (const step of ['active', 'done', 'all', 'more', 'more'] as const) steps.push({ step, when: 'right after load', ...(await call(warm, 'step', step)) });
  await call(warm, 'settled', DEMO_QUERIES);
  for (const step of ['active', 'done', 'all'] as const) steps.push({ step, when: 'settled', ...(await call(warm, 'step', step)) });
  const beside = await addLatency(cold, warm, counts.writes);
  const workerHeap = await sharedWorkerHeapMb(env.debuggingPort, '/sync-worker.js');
  await big.close();

  return [
    [`add a todo in tab A → rendered in tab B, p50 (n=${emptyList.n}, near-empty list)`, ms(emptyList.p50Ms), '', ''],
    ['  p99', ms(emptyList.p99Ms), '', ''],
    [`  the same beside ${k} todos, p50 / p99`, `${ms(beside.p50Ms)} / ${ms(beside.p99Ms)}`, '', ''],
    [`initial sync of ${k} todos into a fresh demo profile`, ms(syncMs), '', ''],
    [`load → first row rendered, ${k} held, worker not running (longest task)`, withTask({ ms: coldLoad.firstRenderMs, longestTaskMs: coldLoad.longestTaskMs }), '', ''],
    ['  load → counts shown', ms(coldLoad.countsMs), '', ''],
    ['  the same in a second tab, worker running (longest task)', withTask({ ms: warmLoad.firstRenderMs, longestTaskMs: warmLoad.longestTaskMs }), '', ''],
    [`  the demo's shared worker heap, ${k} held, its windows and counts watched (after GC)`, mb(workerHeap), '', ''],
    ...steps.map(({ step, when, ...figures }): PeerRow => [`  ${when}: click ${step === 'more' ? 'Show more' : step} → list shown (longest task; rows ${figures.rows})`, withTask(figures), '', '']),
  ];
}
