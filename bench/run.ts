/**
 * `npm run bench [-- --out FILE] [--quick] [--peer none]`: builds, starts the sync server on a temporary SQLite
 * file, drives Chromium through Playwright, and prints the product's figures beside the physical
 * floor measured in the same run (the bare platform doing the same work), with their ratios, and
 * beside RxDB 17 doing the same scenarios in the same run (bench/peers/rxdb-peer.ts; `--peer none` skips it).
 */
import { chromium, type Browser, type BrowserContext, type Page } from '@playwright/test';
import * as esbuild from 'esbuild';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve as absolute } from 'node:path';
import { gzipSync } from 'node:zlib';
import { WebSocket, WebSocketServer } from 'ws';
import { pageCaller } from './page-call';
import type { Bench } from './pages/bench';
import { latencyCells, stallCells, syncCells, throughputCells } from './peers/rxdb-cells';
import { startRxdbPeer, type RxdbFigures, type SyncTime } from './peers/rxdb-peer';
import { seedRecord } from './seed-record';
import { profileSharedWorkers, sharedWorkerTargets } from './worker-profile';
import { PEER_TOKENS, printPeerFigures, runPeerScenarios } from './data-api';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const outIndex = args.indexOf('--out');
const outFile = outIndex >= 0 ? args[outIndex + 1] : undefined;
/** The scenarios a `--flag a,b` names, undefined without the flag. */
const scenariosOf = (flag: string) => {
  const index = args.indexOf(flag);
  return index >= 0 ? new Set((args[index + 1] ?? '').split(',')) : undefined;
};
/** `--only remote,initialSync` runs just those scenarios: for A/B comparisons of one path. */
const only = scenariosOf('--only');
const runs = (scenario: 'crossTab' | 'remote' | 'writes' | 'initialSync') => !only || only.has(scenario);
/** `--profile crossTab,writes,initialSync`: the shared workers' CPU profile during those
 *  scenarios (an unminified build, so function names are readable). */
const profiled = scenariosOf('--profile');
/** `--peer none`: the product and its floors only, for quick A/Bs. */
const withRxdb = !(args.includes('--peer') && args[args.indexOf('--peer') + 1] === 'none');
/** How long the peer may take for one initial sync before the bench gives it up. */
const PEER_SYNC_CAP_MS = 120_000;
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const TABS = 8;
const N = { crossTab: quick ? 100 : 500, remote: quick ? 60 : 300, initial: 10_000, initial100k: quick ? 20_000 : 100_000, writes: quick ? 2_000 : 10_000 };
const HARD_LIMIT_MS = (withRxdb ? 25 : 15) * 60_000;
/** The build's own budget (esbuild.mjs), so the goal printed is the one the build enforces. */
const FACADE_BUDGET_BYTES = Number(/FACADE_BUDGET_BYTES = Math\.min\((\d+)/.exec(readFileSync('esbuild.mjs', 'utf8'))?.[1]);

const progress = (line: string) => process.stdout.write(`  … ${line}\n`);
const round = (x: number, digits = 2) => Number(x.toFixed(digits));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** What the build reads, linked into the benchmark's temp directory (public/ is copied: the
 *  build copies its static files and cannot copy through a link to a directory). */
const SOURCES = ['src', 'worker', 'protocol', 'server', 'react', 'test-e2e', 'bench', 'node_modules', 'package.json', 'tsconfig.json', 'tsconfig.base.json'];

/** Builds into the benchmark's temp directory, not ./dist: a build starts by deleting dist/, and
 *  neither may the benchmark pull dist/ from under anyone's tests nor their rebuild from under it. */
async function build(dir: string): Promise<{ facadeGzipBytes: number; workerGzipBytes: number }> {
  progress('building');
  for (const name of SOURCES) symlinkSync(absolute(name), join(dir, name));
  cpSync('public', join(dir, 'public'), { recursive: true });
  await new Promise<void>((resolve, reject) => {
    spawn(process.execPath, [absolute('esbuild.mjs'), '--quiet', ...(profiled ? ['--no-minify'] : [])], { cwd: dir, stdio: 'inherit' }).on('exit', (code) => (code === 0 ? resolve() : reject(new Error('build failed'))));
  });
  const common = { bundle: true, minify: true, target: 'es2022', logLevel: 'warning' } as const;
  const benchOut = join(dir, 'dist/public/bench');
  await esbuild.build({ ...common, format: 'esm', entryPoints: { bench: 'bench/pages/bench.ts' }, outdir: benchOut });
  await esbuild.build({ ...common, format: 'iife', entryPoints: { 'floor-shared-worker': 'bench/pages/floor-shared-worker.ts', 'floor-worker': 'bench/pages/floor-worker.ts' }, outdir: benchOut });
  copyFileSync('bench/pages/index.html', join(benchOut, 'index.html'));
  const facade = await esbuild.build({ ...common, format: 'esm', entryPoints: ['src/index.ts'], write: false });
  const facadeBytes = facade.outputFiles[0]?.contents ?? new Uint8Array();
  return {
    facadeGzipBytes: gzipSync(facadeBytes, { level: 9 }).length,
    workerGzipBytes: gzipSync(readFileSync(join(dir, 'dist/public/sync-worker.js')), { level: 9 }).length,
  };
}

/** The floors' far end: echoes a record, or sends N records as one JSON frame. */
function startEchoServer(): Promise<{ url: string; close(): void }> {
  return new Promise((resolve) => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 }, () => {
      const address = wss.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({ url: `ws://127.0.0.1:${port}`, close: () => wss.close() });
    });
    wss.on('connection', (socket) => {
      socket.on('message', (raw) => {
        const message = JSON.parse(String(raw)) as { echo?: unknown; records?: number };
        if (message.echo) socket.send(JSON.stringify(message.echo));
        else if (message.records) socket.send(JSON.stringify(Array.from({ length: message.records }, (_, i) => seedRecord(i))));
      });
    });
  });
}

async function startServer(dir: string): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(dir, 'dist/server/main.js')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: join(dir, 'sync.db'), LOG_LEVEL: 'silent', PUBLIC_DIR: join(dir, 'dist/public'),
      AUTH_TOKENS: `live=live,seed10k=seed10k,seed100k=seed100k,${PEER_TOKENS}`, RATE_LIMIT: '100000', RATE_LIMIT_BYTES: String(2 ** 40) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 100; attempt++) {
    try { if ((await fetch(`${url}/api/health`)).ok) return { url, process: child }; } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('sync server did not start');
}

/** Pushes `count` records into a namespace through the protocol, 500 per batch, awaiting acks. */
async function seed(serverUrl: string, token: string, count: number): Promise<void> {
  const socket = new WebSocket(`${serverUrl.replace('http', 'ws')}/sync`);
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject); });
  const messages: ((m: { type: string }) => void)[] = [];
  socket.on('message', (raw) => messages.shift()?.(JSON.parse(String(raw))));
  const next = () => new Promise<{ type: string }>((resolve) => messages.push(resolve));
  socket.send(JSON.stringify({ type: 'auth', token }));
  if ((await next()).type !== 'auth_success') throw new Error('seeding: auth failed');
  const createdAt = new Date().toISOString();
  for (let start = 0; start < count; start += 500) {
    const events = Array.from({ length: Math.min(500, count - start) }, (_, k) => {
      const record = seedRecord(start + k);
      return { eventId: `${token}-${start + k}`, dataId: record.id, operation: 0, createdAt, data: record };
    });
    socket.send(JSON.stringify({ type: 'push_events_batch', repository: 'todos', events }));
    const reply = await next();
    if (reply.type !== 'ack') throw new Error(`seeding: ${JSON.stringify(reply)}`);
    if (start % 20_000 === 0) progress(`seeding ${token}: ${start + events.length}/${count}`);
  }
  socket.close();
}

async function openBenchPage(context: BrowserContext, serverUrl: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${serverUrl}/bench/index.html`);
  await page.waitForFunction(() => 'bench' in globalThis);
  return page;
}

/** A fresh page that syncs `records` records of `token`'s namespace from its first moment. */
async function openSyncingPage(context: BrowserContext, serverUrl: string, token: string, records: number): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${serverUrl}/bench/index.html?sync=${token}&records=${records}`);
  return page;
}

const initialSyncResult = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { initialSyncResult: ReturnType<Bench['initialSync']> }).initialSyncResult);

const call = pageCaller<Bench>('bench');

type RxdbPeer = Awaited<ReturnType<typeof startRxdbPeer>>;

/** What every scenario runs against: the browser, the sync server, the floors' echo server. */
interface BenchRun {
  browser: Browser;
  serverUrl: string;
  echoUrl: string;
  /** Starts the shared workers' CPU profile for a scenario named by `--profile`; the result stops it. */
  profile(scenario: string): Promise<() => Promise<void>>;
  debuggingPort: number;
}

const NONE = { p50Ms: NaN, p99Ms: NaN, n: 0 };
type Latency = typeof NONE;
type Floor = { p50Ms: number } | { ms: number };
const floorOf = (x: Floor) => ('p50Ms' in x ? x.p50Ms : x.ms);

/** `TABS` tabs of one profile, a write in the first to the second's watch; then the floor, with
 *  the receiver as the worker's one other tab, then with every tab of the profile (the product's
 *  fan-out: the same number of messages, and of tabs woken on the same cores). */
async function measureCrossTab(run: BenchRun, tabs: readonly Page[]): Promise<{ crossTab: Latency; crossTabFloor: Latency; crossTabFloorAllTabs: Latency }> {
  const [sender, receiver, ...others] = tabs as [Page, Page, ...Page[]];
  progress(`crossTab: ${TABS} tabs in one profile, ${N.crossTab} writes one at a time`);
  await call(sender, 'crossTab', 20); // warm-up
  const profiling = await run.profile('crossTab');
  const crossTab = await call(sender, 'crossTab', N.crossTab);
  await profiling();
  await call(receiver, 'joinFloorCrossTab', true);
  await call(sender, 'floorCrossTab', 20);
  const crossTabFloor = await call(sender, 'floorCrossTab', N.crossTab);
  for (const other of others) await call(other, 'joinFloorCrossTab', false);
  await call(sender, 'floorCrossTab', 20);
  return { crossTab, crossTabFloor, crossTabFloorAllTabs: await call(sender, 'floorCrossTab', N.crossTab) };
}

/** A write in profile A's `sender` to its arrival in profile B, through the server; then the floor. */
async function measureRemote(run: BenchRun, sender: Page, profileB: BrowserContext): Promise<{ samples: number[]; floor: Floor }> {
  progress(`remote: profile A → server → profile B, ${N.remote} writes`);
  const remotePage = await openBenchPage(profileB, run.serverUrl);
  await call(remotePage, 'connectProduct', 'live', false);
  const samples: number[] = [];
  for (let i = 0; i < N.remote + 20; i++) {
    const id = `remote-${i}`;
    const arrival = call(remotePage, 'arrivalOf', id);
    const t0 = await call(sender, 'timedUpsert', id);
    if (i >= 20) samples.push((await arrival) - t0); else await arrival;
  }
  const floor = await call(sender, 'floorWorker', { kind: 'remote', echoUrl: run.echoUrl, n: N.remote });
  return { samples: samples.sort((a, b) => a - b), floor };
}

async function measureWrites(run: BenchRun, profileB: BrowserContext) {
  progress(`writes: ${N.writes} upserts one by one, then ${N.writes} in parallel`);
  const writesPage = await openBenchPage(profileB, run.serverUrl);
  await call(writesPage, 'connectProduct', 'live', false);
  // Profiled phase by phase (`--profile writes`): the two spend their time differently.
  let profiling = await run.profile('writes');
  const { sequentialPerSec } = await call(writesPage, 'writesOneByOne', N.writes);
  await profiling();
  profiling = await run.profile('writes');
  const { concurrentPerSec } = await call(writesPage, 'writesAtOnce', N.writes);
  await profiling();
  return { writes: { sequentialPerSec, concurrentPerSec }, writesFloor: await call(writesPage, 'floorWrites', N.writes) };
}

/** Fresh profiles syncing 10,000 and 100,000 seeded records; the floor for the 10,000. */
async function measureInitialSync(run: BenchRun) {
  progress(`initialSync: seeding ${N.initial} and ${N.initial100k} records`);
  await seed(run.serverUrl, 'seed10k', N.initial);
  await seed(run.serverUrl, 'seed100k', N.initial100k);
  progress(`initialSync: a fresh profile opens the page and syncs ${N.initial} records`);
  const fresh10k = await run.browser.newContext();
  const initial = await initialSyncResult(await openSyncingPage(fresh10k, run.serverUrl, 'seed10k', N.initial));
  await fresh10k.close();
  const floorContext = await run.browser.newContext();
  const initialFloor: Floor = await call(await openBenchPage(floorContext, run.serverUrl), 'floorWorker', { kind: 'initialSync', echoUrl: run.echoUrl, records: N.initial });
  await floorContext.close();
  progress(`initialSync: a fresh profile syncs ${N.initial100k} records`);
  const fresh100k = await run.browser.newContext();
  const syncing = initialSyncResult(await openSyncingPage(fresh100k, run.serverUrl, 'seed100k', N.initial100k));
  // The worker starts with the page's connect(): profile it from its first moment on.
  while (profiled?.has('initialSync') && (await sharedWorkerTargets(run.debuggingPort)).length === 0) await new Promise((r) => setTimeout(r, 5));
  const profiling = await run.profile('initialSync');
  const initial100k = await syncing;
  await profiling();
  await fresh100k.close();
  return { initial, initialFloor, initial100k };
}

const percentileOf = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

/** Every scenario `--only` names, the product's and the peer's in turn, in the order that keeps
 *  one profile's tabs from taking the CPU another's figures are measured with. */
async function measureAll(run: BenchRun, peer: RxdbPeer | undefined) {
  let rx: RxdbFigures = {};
  const profileA = await run.browser.newContext();
  const tabs: Page[] = [];
  for (let i = 0; i < TABS; i++) tabs.push(await openBenchPage(profileA, run.serverUrl));
  const sender = tabs[0]!;
  for (const [i, tab] of tabs.entries()) await call(tab, 'connectProduct', 'live', i === 1);
  const health = (await (await fetch(`${run.serverUrl}/api/health`)).json()) as { activeConnections: number };
  const cross = runs('crossTab') ? await measureCrossTab(run, tabs) : { crossTab: NONE, crossTabFloor: NONE, crossTabFloorAllTabs: NONE };
  const profileB = await run.browser.newContext();
  const remote = runs('remote') ? await measureRemote(run, sender, profileB) : { samples: [], floor: NONE };
  // Profile A stands for other devices: on one shared machine its eight tabs receiving every
  // write would take the CPU that this browser's own writes are measured with.
  await profileA.close();
  // The peer's crossTab, remote and writes, between the product's remote and writes (its profiles open and close as ours).
  if (peer) rx = await peer.latencyAndWrites({ ...(runs('crossTab') && { crossTab: N.crossTab }), ...(runs('remote') && { remote: N.remote }), ...(runs('writes') && { writes: N.writes }) });
  const writes = runs('writes') ? await measureWrites(run, profileB) : { writes: { sequentialPerSec: NaN, concurrentPerSec: NaN }, writesFloor: { sequentialPerSec: NaN, concurrentPerSec: NaN } };
  await profileB.close();
  const sync = runs('initialSync') ? await measureInitialSync(run) : { initial: { ms: NaN, held: N.initial }, initialFloor: { ms: NaN }, initial100k: { ms: NaN, held: N.initial100k, longestStallMs: NaN, longestTaskMs: NaN, knownVersions: undefined } };
  if (peer && runs('initialSync')) rx = { ...rx, ...(await peer.initialSync([{ name: 'seed10k', records: N.initial }, { name: 'seed100k', records: N.initial100k }], PEER_SYNC_CAP_MS)) };
  if (sync.initial.held < N.initial || sync.initial100k.held < N.initial100k) throw new Error(`initial sync incomplete: ${sync.initial.held}, ${sync.initial100k.held}`);
  return { ...cross, remote, ...writes, ...sync, rx, connectionsPerProfile: health.activeConnections };
}

type Measured = Awaited<ReturnType<typeof measureAll>>;

/** The long-task API reports only tasks of 50 ms or more. */
const taskCell = (ms: number) => (!Number.isFinite(ms) ? '' : ms > 0 ? `${ms} ms` : 'none ≥ 50 ms');

/** The figures as printed and written with `--out`, rounded. */
function resultsOf(m: Measured, sizes: { facadeGzipBytes: number; workerGzipBytes: number }, loadAtStart: number) {
  const { crossTab, remote, initial, initial100k, writes } = m;
  return {
    crossTab: { p50Ms: round(crossTab.p50Ms), p99Ms: round(crossTab.p99Ms), floorP50Ms: round(floorOf(m.crossTabFloor)), floorAllTabsP50Ms: round(floorOf(m.crossTabFloorAllTabs)), n: crossTab.n },
    remote: { p50Ms: round(percentileOf(remote.samples, 50)), p99Ms: round(percentileOf(remote.samples, 99)), floorP50Ms: round(floorOf(remote.floor)), n: remote.samples.length },
    initialSync: { records: N.initial, ms: round(initial.ms, 0), floorMs: round(floorOf(m.initialFloor), 0), records100k: N.initial100k, ms100k: round(initial100k.ms, 0), longestStallMs100k: round(initial100k.longestStallMs, 0), longestTaskMs100k: round(initial100k.longestTaskMs, 0), knownVersions100k: initial100k.knownVersions },
    writes: { sequentialPerSec: round(writes.sequentialPerSec, 0), sequentialFloorPerSec: round(m.writesFloor.sequentialPerSec, 0), concurrentPerSec: round(writes.concurrentPerSec, 0), concurrentFloorPerSec: round(m.writesFloor.concurrentPerSec, 0) },
    connectionsPerProfile: m.connectionsPerProfile, tabs: TABS,
    // The floors say how busy the machine was; so does this (1-minute load average, start and end).
    machine: { cpus: cpus().length, loadAverage: [round(loadAtStart), round(loadavg()[0] ?? NaN)] },
    facadeGzipBytes: sizes.facadeGzipBytes, workerGzipBytes: sizes.workerGzipBytes,
    rxdb: roundedRxdb(m.rx),
  };
}

async function main() {
  const started = Date.now();
  const loadAtStart = loadavg()[0] ?? NaN;
  const dir = mkdtempSync(join(tmpdir(), 'tabsync-bench-'));
  const sizes = await build(dir).catch((error: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  const echo = await startEchoServer();
  const server = await startServer(dir);
  let peer: RxdbPeer | undefined;
  let browser: Browser | undefined;
  const debuggingPort = await freePort();
  const profile = async (scenario: string) => (profiled?.has(scenario) ? profileSharedWorkers(debuggingPort, scenario) : async () => {});
  const watchdog = setTimeout(() => { console.error('bench: hard time limit reached'); server.process.kill('SIGKILL'); process.exit(2); }, HARD_LIMIT_MS);
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', ...(profiled ? [`--remote-debugging-port=${debuggingPort}`] : [])] });
    if (withRxdb) peer = await startRxdbPeer({ browser, dir, origin: server.url, tabs: TABS, progress });
    const measured = await measureAll({ browser, serverUrl: server.url, echoUrl: echo.url, profile, debuggingPort }, peer);
    // Queries, batches and the demo (bench/data-api.ts): `--only query,batch,demo`.
    const peerFigures = await runPeerScenarios({ dir, serverUrl: server.url, quick, only });
    const results = resultsOf(measured, sizes, loadAtStart);
    printTable(results);
    printPeerFigures(peerFigures);
    if (outFile) writeFileSync(outFile, `${JSON.stringify({ ...results, peers: peerFigures }, null, 2)}\n`);
    console.log(`\nbench finished in ${round((Date.now() - started) / 1000, 1)} s on ${results.machine.cpus} cores, load average ${results.machine.loadAverage.join(' → ')}${outFile ? `; figures written to ${outFile}` : ''}`);
  } finally {
    clearTimeout(watchdog);
    await browser?.close();
    peer?.stop();
    server.process.kill('SIGTERM');
    echo.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The peer's figures, rounded as ours are. */
const roundedRxdb = (rx: RxdbFigures): RxdbFigures => ({
  ...(rx.crossTab && { crossTab: { ...rx.crossTab, p50Ms: round(rx.crossTab.p50Ms), p99Ms: round(rx.crossTab.p99Ms) } }),
  ...(rx.remote && { remote: { ...rx.remote, p50Ms: round(rx.remote.p50Ms), p99Ms: round(rx.remote.p99Ms) } }),
  ...(rx.writes && { writes: { ...rx.writes, sequentialPerSec: round(rx.writes.sequentialPerSec, 0), concurrentPerSec: round(rx.writes.concurrentPerSec, 0), bulkPerSec: round(rx.writes.bulkPerSec, 0) } }),
  ...(rx.initialSync && { initialSync: rx.initialSync.map((sync): SyncTime => ({ ...sync, ms: round(sync.ms, 0), longestStallMs: round(sync.longestStallMs, 0) })) }),
});

/** The writer's in-memory versions (worker/storage/known-versions.ts), as diagnostics report them. */
const knownCell = (known: { entries: number; estimatedBytes: number } | undefined) =>
  known ? `${known.entries} / ${(known.estimatedBytes / 2 ** 20).toFixed(1)} MiB` : 'not the writer';

function printTable(r: {
  crossTab: { p50Ms: number; p99Ms: number; floorP50Ms: number; floorAllTabsP50Ms: number; n: number };
  remote: { p50Ms: number; p99Ms: number; floorP50Ms: number; n: number };
  initialSync: { records: number; ms: number; floorMs: number; records100k: number; ms100k: number; longestStallMs100k: number; longestTaskMs100k: number; knownVersions100k: { entries: number; estimatedBytes: number } | undefined };
  writes: { sequentialPerSec: number; sequentialFloorPerSec: number; concurrentPerSec: number; concurrentFloorPerSec: number };
  connectionsPerProfile: number; tabs: number; machine: { cpus: number; loadAverage: number[] }; facadeGzipBytes: number; workerGzipBytes: number;
  rxdb: RxdbFigures;
}) {
  const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(1)}×` : '–');
  const rx = r.rxdb;
  const [sync10k, sync100k] = [rx.initialSync?.[0], rx.initialSync?.[1]];
  // Goals: issue #19's, ratios in one run.
  const rows: string[][] = [
    ['scenario', 'product', 'floor', 'ratio', 'RxDB 17', 'vs RxDB', 'goal'],
    [`crossTab p50 (${r.tabs} tabs, n=${r.crossTab.n})`, `${r.crossTab.p50Ms} ms`, `${r.crossTab.floorP50Ms} ms`, ratio(r.crossTab.p50Ms, r.crossTab.floorP50Ms), ...latencyCells(r.crossTab.p50Ms, rx.crossTab?.p50Ms), '≤ 1.5 ms, ≤ 2.5× floor, ≥ 2.5× faster than RxDB'],
    [`  the floor fanning out to all ${r.tabs} tabs`, '', `${r.crossTab.floorAllTabsP50Ms} ms`, ratio(r.crossTab.p50Ms, r.crossTab.floorAllTabsP50Ms), '', '', ''],
    ['crossTab p99', `${r.crossTab.p99Ms} ms`, '', '', ...latencyCells(r.crossTab.p99Ms, rx.crossTab?.p99Ms), ''],
    [`remote p50 (n=${r.remote.n})`, `${r.remote.p50Ms} ms`, `${r.remote.floorP50Ms} ms`, ratio(r.remote.p50Ms, r.remote.floorP50Ms), ...latencyCells(r.remote.p50Ms, rx.remote?.p50Ms), '≤ 4 ms, ≥ 3× faster than RxDB'],
    ['remote p99', `${r.remote.p99Ms} ms`, '', '', ...latencyCells(r.remote.p99Ms, rx.remote?.p99Ms), ''],
    [`initialSync ${r.initialSync.records} records`, `${r.initialSync.ms} ms`, `${r.initialSync.floorMs} ms`, ratio(r.initialSync.ms, r.initialSync.floorMs), ...syncCells(r.initialSync.ms, sync10k), '≤ 1.25× floor, ≥ 6× faster than RxDB'],
    [`initialSync ${r.initialSync.records100k} records`, `${r.initialSync.ms100k} ms`, '', '', ...syncCells(r.initialSync.ms100k, sync100k), '≤ 6000 ms'],
    ['  the writer\'s known versions after it (entries, est. memory)', Number.isFinite(r.initialSync.ms100k) ? knownCell(r.initialSync.knownVersions100k) : '', '', '', '', '', 'bounded, reported'],
    ['  longest main-thread stall meanwhile', `${r.initialSync.longestStallMs100k} ms`, '', '', ...stallCells(r.initialSync.longestStallMs100k, sync100k), '≤ 50 ms'],
    // The stall is timer ticks that came late; this is how much of it was the page's own work.
    ['  of it, the page\'s longest task (long-task API)', taskCell(r.initialSync.longestTaskMs100k), '', '', '', '', ''],
    // Throughput: the ratio is how many times slower than the floor.
    ['writes, awaited one by one', `${r.writes.sequentialPerSec}/s`, `${r.writes.sequentialFloorPerSec}/s`, ratio(r.writes.sequentialFloorPerSec, r.writes.sequentialPerSec), ...throughputCells(r.writes.sequentialPerSec, rx.writes, 'sequential'), '≥ 1000/s'],
    ['writes, in parallel', `${r.writes.concurrentPerSec}/s`, `${r.writes.concurrentFloorPerSec}/s`, ratio(r.writes.concurrentFloorPerSec, r.writes.concurrentPerSec), ...throughputCells(r.writes.concurrentPerSec, rx.writes, 'parallel'), '≥ 10000/s'],
    ...(rx.writes && Number.isFinite(rx.writes.bulkPerSec) ? [['  RxDB: the same writes as one bulkUpsert', '', '', '', `${rx.writes.bulkPerSec}/s`, '', '']] : []),
    ['WebSocket connections per profile', String(r.connectionsPerProfile), '', '', '', '', '1'],
    ['facade, gzip', `${r.facadeGzipBytes} B`, '', '', '', '', `≤ ${FACADE_BUDGET_BYTES} B`],
    ['demo worker bundle, gzip', `${r.workerGzipBytes} B`, '', '', '', '', ''],
  ];
  // Scenarios left out with --only measured nothing: their rows go; so do the peer's columns with --peer none.
  const measured = (withRxdb ? rows : rows.map((row) => row.filter((_, c) => c !== 4 && c !== 5))).filter((row) => !row.slice(1).some((cell) => cell.startsWith('NaN')));
  const widths = measured[0]!.map((_, c) => Math.max(...measured.map((row) => row[c]!.length)));
  console.log('');
  for (const [i, row] of measured.entries()) {
    console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
    if (i === 0) console.log(widths.map((w) => '─'.repeat(w)).join('  '));
  }
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
