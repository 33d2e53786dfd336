/**
 * A fuzz run against a real server process: generated frames from authenticated and
 * unauthenticated connections in parallel, a well-behaved client beside them, then the checks:
 * the process is alive and healthy, the good client still works, the event log holds only valid
 * events from authenticated connections, and the server's memory stayed bounded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../server/store/sqlite';
import { spawnServer, type SpawnedServer } from '../helpers/server';
import { runFuzzConnection, type FuzzContext } from './connection';
import { freePort, RemoteProcess, type Memory } from './inspector';
import { Ledger } from './ledger';
import { Random } from './random';
import { emptyStats, Violations, type Stats } from './report';
import { SteadyClient } from './steady-client';

export interface CampaignOptions {
  seed: number;
  frames: number;
  /** Sending stops after this long even when frames remain. */
  maxSendMs: number;
  authenticatedConnections: number;
  unauthenticatedConnections: number;
  maxMessageBytes: number;
  /** How much the server's RSS and its V8 heap, measured after a full GC, may grow from warm-up to the end. */
  rssGrowthLimitBytes: number;
  heapGrowthLimitBytes: number;
  onProgress?(progress: Progress): void;
}

export interface Progress {
  framesSent: number;
  elapsedMs: number;
  violations: number;
  /** The server's RSS now (not after GC). */
  rssBytes: number;
}

export interface CampaignResult {
  seed: number;
  stats: Stats;
  violations: readonly string[];
  violationCount: number;
  /** The server's memory after a full GC once warmed up and after the run, and its peak RSS. */
  memory: { warm: Memory; end: Memory; peakRss: number };
  storedEvents: number;
  eventsReadBack: number;
  sendMs: number;
  totalMs: number;
}

const NAMESPACES = ['fuzz-a', 'fuzz-b'];
/** The server's memory baseline is taken once this share of the frames is out: its caches are warm by then. */
const WARM_UP_SHARE = 0.1;
const STEADY_PUSH_EVERY_MS = 250;
const AUTH_TIMEOUT_MS = 1000;
const PROGRESS_EVERY_MS = 2000;

export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const started = Date.now();
  const random = new Random(options.seed);
  const tokens = new Map(NAMESPACES.map((namespace, i) => [`${namespace}-token-${random.fork(i).int(1e8, 9e8)}`, namespace]));
  const dir = mkdtempSync(join(tmpdir(), 'tabsync-fuzz-'));
  const databaseUrl = join(dir, 'fuzz.db');
  const violations = new Violations();
  const ledger = new Ledger();
  let server: SpawnedServer | undefined;
  let remote: RemoteProcess | undefined;
  let stopping = false;
  let peakRss = 0;
  const sampleRss = () => {
    const bytes = remote?.rss() ?? 0;
    peakRss = Math.max(peakRss, bytes);
    return bytes;
  };
  const sampler = setInterval(sampleRss, 500);

  try {
    const inspectorPort = await freePort();
    server = await spawnServer({
      // The inspector lets the run force a full GC in the server before it reads its memory.
      NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --inspect=127.0.0.1:${inspectorPort}`,
      DATABASE_URL: databaseUrl,
      AUTH_TOKENS: [...tokens].map(([token, namespace]) => `${token}=${namespace}`).join(','),
      MAX_MESSAGE_BYTES: String(options.maxMessageBytes),
      // Rate limiting has its own tests; here it would drop frames at random and blur the checks.
      RATE_LIMIT: '1000000',
      RATE_LIMIT_BYTES: String(2 ** 40),
      RATE_LIMIT_PRINCIPAL_BYTES: String(2 ** 40),
      AUTH_TIMEOUT_MS: String(AUTH_TIMEOUT_MS),
    });
    const spawned = server;
    void spawned.exited.then(({ code, signal }) => {
      if (!stopping) violations.add(`the server exited during the run (${code ?? signal}): ${spawned.lines.slice(-3).join(' | ')}`);
    });
    remote = await RemoteProcess.attach(inspectorPort, server.pid);
    const stats = emptyStats();
    const progress = setInterval(() => {
      options.onProgress?.({ framesSent: stats.framesSent, elapsedMs: Date.now() - started, violations: violations.count, rssBytes: sampleRss() });
    }, PROGRESS_EVERY_MS);

    const [steadyToken, steadyNamespace] = [...tokens][0]!;
    const steady = await SteadyClient.connect(server.syncUrl, steadyToken, steadyNamespace, ledger, violations);
    let taken = 0;
    const warmUp = Math.max(1, Math.floor(options.frames * WARM_UP_SHARE));
    let warm: Promise<Memory | undefined> | undefined;
    const measure = remote;
    const context: FuzzContext = {
      syncUrl: server.syncUrl,
      maxMessageBytes: options.maxMessageBytes,
      tokens,
      ledger,
      stats,
      violations,
      authTimeoutMs: AUTH_TIMEOUT_MS,
      takeFrame() {
        if (stopping || taken >= options.frames || Date.now() - started > options.maxSendMs) return false;
        if (++taken === warmUp) warm = measure.memoryAfterGc().catch(() => undefined);
        return true;
      },
    };

    let sending = true;
    const steadyPushes = (async () => {
      while (sending && steady.connected) {
        await steady.push(1);
        await delay(STEADY_PUSH_EVERY_MS);
      }
    })().catch((error: unknown) => violations.add(`the well-behaved client: ${(error as Error).message}`));
    await Promise.all([
      ...Array.from({ length: options.authenticatedConnections }, (_, i) => runFuzzConnection(i, false, random.fork(100 + i), context)),
      ...Array.from({ length: options.unauthenticatedConnections }, (_, i) => runFuzzConnection(i, true, random.fork(200 + i), context)),
    ]).finally(() => clearInterval(progress));
    sending = false;
    await steadyPushes;
    const sendMs = Date.now() - started;

    await checkHealth(server, violations);
    const eventsReadBack = await checkSteadyClient(steady, violations);
    const end = await remote.memoryAfterGc();
    const memory = { warm: (await warm) ?? end, end, peakRss };
    for (const [what, key, limit] of [['RSS', 'rss', options.rssGrowthLimitBytes], ['heap', 'heapUsed', options.heapGrowthLimitBytes]] as const) {
      const growth = memory.end[key] - memory.warm[key];
      if (growth > limit) violations.add(`server ${what} after GC grew by ${mb(growth)} (${mb(memory.warm[key])} → ${mb(memory.end[key])}), over the ${mb(limit)} allowed`);
    }

    stopping = true;
    remote.close();
    await server.stop();
    const exit = await server.exited;
    if (exit.code !== 0) violations.add(`the server did not shut down cleanly on SIGTERM: ${exit.code ?? exit.signal}`);

    const store = openSqliteStore(databaseUrl);
    const { storedEvents } = await ledger.audit(store, NAMESPACES, violations).finally(async () => {
      // No token maps to the dev namespace: nothing may land there.
      if ((await store.maxSequence('default')) > 0) violations.add('events were stored in the namespace "default", which no token grants');
      await store.close();
    });
    checkPrototypes(violations);
    return { seed: options.seed, stats, violations: violations.list(), violationCount: violations.count, memory, storedEvents, eventsReadBack, sendMs, totalMs: Date.now() - started };
  } finally {
    stopping = true;
    clearInterval(sampler);
    remote?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** After the run the well-behaved client still pushes, catches up, and reads the whole namespace. */
async function checkSteadyClient(steady: SteadyClient, violations: Violations): Promise<number> {
  try {
    await steady.push(5);
    await steady.checkCatchUp();
    return await steady.readEverything();
  } catch (error) {
    violations.add(`the well-behaved client after the run: ${(error as Error).message}`);
    return 0;
  } finally {
    await steady.close();
  }
}

async function checkHealth(server: SpawnedServer, violations: Violations): Promise<void> {
  try {
    const response = await fetch(`${server.url}/api/health`);
    const body = (await response.json()) as { status?: string };
    if (response.status !== 200 || body.status !== 'ok') violations.add(`/api/health answered ${response.status} ${JSON.stringify(body)}`);
  } catch (error) {
    violations.add(`/api/health did not answer: ${(error as Error).message}`);
  }
}

/** The frames were also decoded in this process, by the same decoder: no prototype may have changed. */
function checkPrototypes(violations: Violations): void {
  const probe = {} as Record<string, unknown>;
  for (const key of ['polluted', 'admin']) {
    if (probe[key] !== undefined) violations.add(`Object.prototype was polluted with "${key}"`);
  }
  if (typeof probe['toString'] !== 'function') violations.add('Object.prototype.toString was overwritten');
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The run in a few lines: what was sent, what came back, memory, what is stored. */
export function summarize(result: CampaignResult): string[] {
  const { stats, memory } = result;
  return [
    `${stats.framesSent} frames in ${(result.sendMs / 1000).toFixed(1)} s, ${stats.reconnects} reconnects; total ${(result.totalMs / 1000).toFixed(1)} s`,
    `frames by kind: ${JSON.stringify(stats.framesByKind)}`,
    `errors by code: ${JSON.stringify(stats.errorsByCode)}`,
    `closes by code: ${JSON.stringify(stats.closesByCode)}`,
    `replies: ${JSON.stringify(stats.repliesByType)}; ${stats.eventsAcked} events acked, ${stats.broadcastsReceived} broadcasts`,
    `stored events: ${result.storedEvents}; the well-behaved client read back ${result.eventsReadBack} compacted events`,
    `server memory after GC: RSS ${mb(memory.warm.rss)} warmed up → ${mb(memory.end.rss)} at the end (peak ${mb(memory.peakRss)}); heap ${mb(memory.warm.heapUsed)} → ${mb(memory.end.heapUsed)}`,
    `violations: ${result.violationCount}`,
  ];
}
