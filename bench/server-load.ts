// LEAD TO HELPER (branch server): read /work/wt-server/HELPER-RULES.md first (rules; HARD DEADLINE 20:05 UTC: commit on your branch and reply by then). Delete this line; do not commit it.
/**
 * `npm run bench:server [-- --clients 1000 --namespaces 10 --rate 4000 --duration 10 --only sqlite,postgres
 * --threads 2 --profile DIR]`: a load generator on loopback. K WebSocket clients spread over N
 * namespaces push events at a target total rate; every other client of the namespace receives
 * them as broadcasts. Runs the same load against SQLite, PostgreSQL with one instance, and
 * PostgreSQL with two instances (clients split across both), each server a child process on a
 * free port with a fresh database, and prints ingest, deliveries, ack and delivery latency,
 * server memory and CPU, and the generator's own CPU (its clients run in worker threads:
 * server-load-threads.ts), beside the goal and the figures before issue #19's server work.
 * `--profile DIR` runs each server under `--cpu-prof` and writes its profile to DIR.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createTestDatabase } from '../test/helpers/postgres';
import { spawnServer, type SpawnedServer } from '../test/helpers/server';
import { serverOfCommit } from './server-load-before';
import { table } from './server-load-report';
import { LoadThreads } from './server-load-threads';

interface Options {
  clients: number;
  namespaces: number;
  /** Events per second, all clients together. */
  rate: number;
  /** Seconds measured per configuration, after the warm-up. */
  duration: number;
  warmup: number;
  poolSize: number;
  /** Worker threads the clients are spread over. */
  threads: number;
  only: string[] | undefined;
  /** A directory for the servers' CPU profiles, or none. */
  profile: string | undefined;
  /** The server's entry module. */
  server: string;
  /** A commit whose server runs right before this one on each configuration (server-load-before.ts). */
  before: string | undefined;
  /** `--before-second`: that commit's server runs right after this one instead (pairs in both orders). */
  beforeSecond: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const value = (name: string) => {
    const inline = argv.find((a) => a.startsWith(`--${name}=`));
    if (inline) return inline.slice(name.length + 3);
    const index = argv.indexOf(`--${name}`);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  const number = (name: string, fallback: number) => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    const parsed = Number(raw);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive number, got "${raw}"`);
    return parsed;
  };
  const profile = value('profile');
  return {
    clients: Math.round(number('clients', 1000)),
    namespaces: Math.round(number('namespaces', 10)),
    rate: number('rate', 4000),
    duration: number('duration', 10),
    warmup: number('warmup', 3),
    poolSize: Math.round(number('pool-size', 10)),
    threads: Math.round(number('threads', 2)),
    only: value('only')?.split(','),
    profile: profile === undefined ? undefined : resolve(profile),
    server: 'server/main.ts',
    before: value('before'),
    beforeSecond: argv.includes('--before-second'),
  };
}

interface Configuration {
  name: string;
  /** Starts the servers; returns them and how to remove their database. */
  start(env: Record<string, string>, spawn: Spawn): Promise<Started>;
}

interface Started {
  servers: SpawnedServer[];
  drop(): Promise<void>;
  /** The PostgreSQL database the servers use (its backends' CPU is reported apart), or none: SQLite. */
  database?: string;
}

const CONFIGURATIONS: Configuration[] = [
  {
    name: 'sqlite',
    start(env, spawn) {
      const dir = mkdtempSync(join(tmpdir(), 'tabsync-bench-server-'));
      return startAll(1, { ...env, DATABASE_URL: join(dir, 'sync.db') }, spawn, async () => rmSync(dir, { recursive: true, force: true }));
    },
  },
  { name: 'postgres', start: (env, spawn) => startPostgres(1, env, spawn) },
  { name: 'postgres-2', start: (env, spawn) => startPostgres(2, env, spawn) },
];

async function startPostgres(instances: number, env: Record<string, string>, spawn: Spawn): Promise<Started> {
  const database = await createTestDatabase();
  const started = await startAll(instances, { ...env, DATABASE_URL: database.url }, spawn, () => database.drop());
  return { ...started, database: new URL(database.url).pathname.slice(1) };
}

/** Starts `count` servers on one database; on failure stops those started and drops it. */
/** How a server process is started: which entry, with or without a CPU profile. */
interface Spawn {
  server: string;
  profile: string | undefined;
}

async function startAll(count: number, env: Record<string, string>, { server, profile }: Spawn, drop: () => Promise<void>): Promise<Started> {
  const nodeArgs = [...(profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : []), '--import', 'tsx', server];
  const started = await Promise.allSettled(Array.from({ length: count }, () => spawnServer(env, nodeArgs)));
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(servers.map((s) => s.stop()));
    await drop();
    throw failed.reason;
  }
  return { servers, drop };
}

const tokenOf = (namespace: number) => `bench-token-${namespace}`;

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

/** CPU seconds a process has used so far, in user space and in the kernel (its socket writes and reads). */
function cpuTimes(pid: number): { user: number; system: number } {
  // The fields after the command name, which is in parentheses and may contain spaces.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux build that matters
  return { user: Number(fields[11]) / CLOCK_TICKS_PER_SECOND, system: Number(fields[12]) / CLOCK_TICKS_PER_SECOND };
}

function cpuSeconds(pid: number): number {
  const { user, system } = cpuTimes(pid);
  return user + system;
}

/**
 * CPU seconds used so far by the PostgreSQL processes that work for `database`: its backends (their
 * process title names the database) and the cluster's WAL writer, checkpointer and background
 * writer, which every commit makes work. Other databases' backends (other tests) are left out.
 */
function databaseCpuSeconds(database: string): Map<number, number> {
  const used = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
      const title = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!title.includes(` ${database} `) && !/walwriter|checkpointer|background writer/.test(title)) continue;
      used.set(Number(entry), cpuSeconds(Number(entry)));
    } catch {
      // The process ended meanwhile.
    }
  }
  return used;
}

/** What the processes of `after` used since `before` (a process started meanwhile counts whole). */
function cpuSince(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}

/** `some avg10` of /proc/pressure/cpu: the share of the last 10 s some runnable task waited for a CPU. */
function cpuPressure(): number {
  try {
    return Number(/some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/** The server's heap in use, as its /api/health reports it (0 when it does not answer in time). */
async function heapBytes(server: SpawnedServer): Promise<number> {
  try {
    const health = (await (await fetch(`${server.url}/api/health`, { signal: AbortSignal.timeout(2000) })).json()) as { memory?: { heapUsedBytes?: number } };
    return health.memory?.heapUsedBytes ?? 0;
  } catch {
    return 0;
  }
}

/** The highest RSS and heap of each server while the window runs, sampled every 500 ms. */
function sampleMemory(servers: readonly SpawnedServer[]): { stop(): { rssMb: number[]; heapMb: number[] } } {
  const rss = servers.map(() => 0);
  const heap = servers.map(() => 0);
  const asking = servers.map(() => false);
  const timer = setInterval(() => {
    servers.forEach((s, i) => {
      rss[i] = Math.max(rss[i]!, rssBytes(s.pid));
      if (asking[i]) return; // a server too busy to answer in 500 ms is not asked twice
      asking[i] = true;
      void heapBytes(s).then((bytes) => {
        heap[i] = Math.max(heap[i]!, bytes);
        asking[i] = false;
      });
    });
  }, 500);
  const mb = (bytes: number) => bytes / 1024 / 1024;
  return {
    stop() {
      clearInterval(timer);
      return { rssMb: rss.map(mb), heapMb: heap.map(mb) };
    },
  };
}

export interface Result {
  name: string;
  /** The commit whose server this was (--before), or none: this checkout's. */
  before?: string | undefined;
  instances: number;
  offered: number;
  ingest: number;
  deliveries: number;
  expectedDeliveries: number;
  ack: { p50: number; p99: number };
  delivery: { p50: number; p99: number };
  rssMb: number[];
  heapMb: number[];
  /** Share of one core used by each server, and by the load generator (all its threads), during the window. */
  serverCpu: number[];
  /** The part of serverCpu spent in the kernel. */
  serverSystemCpu: number[];
  /**
   * Server CPU milliseconds per 1,000 events acknowledged, from the window's start until the
   * last of its events was acknowledged and delivered: a server that falls behind does the
   * window's work after it, and that counts too.
   */
  cpuPerThousand: number;
  generatorCpu: number;
  /** Share of one core used by the database's PostgreSQL processes (databaseCpuSeconds), or none: SQLite. */
  databaseCpu: number | undefined;
  /** Load average (1 min) and CPU pressure (some avg10, %) when the window started and when it ended. */
  machine: { load: [number, number]; pressure: [number, number] };
  errors: string;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function percentiles(values: readonly number[]): { p50: number; p99: number } {
  const sorted = Float64Array.from(values).sort();
  return { p50: percentile(sorted as unknown as number[], 50), p99: percentile(sorted as unknown as number[], 99) };
}

async function runConfiguration(configuration: Configuration, options: Options): Promise<Result> {
  const env = {
    AUTH_TOKENS: Array.from({ length: options.namespaces }, (_, i) => `${tokenOf(i)}=bench-${i}`).join(','),
    PG_POOL_SIZE: String(options.poolSize),
    MAX_CONNECTIONS_PER_PRINCIPAL: String(options.clients),
    // Comfortably above what one client sends: the bench measures the server, not the limiter.
    RATE_LIMIT: '1000',
    HEARTBEAT_INTERVAL_MS: '60000',
  };
  const { servers, drop, database } = await configuration.start(env, options);
  let load: LoadThreads | undefined;
  const stopAll = async () => {
    load?.close();
    await Promise.all(servers.map((s) => s.stop()));
    await drop();
  };
  cleanups.add(stopAll);
  try {
    const connecting = performance.now();
    const clients = Array.from({ length: options.clients }, (_, i) => ({ url: servers[i % servers.length]!.syncUrl, token: tokenOf(i % options.namespaces) }));
    load = await LoadThreads.connect(clients, options.threads, DELIVERY_SAMPLE_EVERY);
    progress(`${configuration.name}: ${options.clients} clients connected in ${((performance.now() - connecting) / 1000).toFixed(1)} s; ${options.rate} events/s, ${options.warmup} s warm-up + ${options.duration} s measured`);

    await load.push(options.rate, options.warmup, false);
    const memory = sampleMemory(servers);
    const machineBefore = { load: loadavg()[0]!, pressure: cpuPressure() };
    const cpuBefore = servers.map((s) => cpuTimes(s.pid));
    const databaseBefore = database === undefined ? undefined : databaseCpuSeconds(database);
    const generatorBefore = process.cpuUsage();
    await load.push(options.rate, options.duration, true);
    const cpuAfter = servers.map((s) => cpuTimes(s.pid));
    const serverCpu = servers.map((_, i) => (cpuAfter[i]!.user + cpuAfter[i]!.system - cpuBefore[i]!.user - cpuBefore[i]!.system) / options.duration);
    const serverSystemCpu = servers.map((_, i) => (cpuAfter[i]!.system - cpuBefore[i]!.system) / options.duration);
    const generator = process.cpuUsage(generatorBefore);
    const databaseCpu = database === undefined || databaseBefore === undefined ? undefined : cpuSince(databaseBefore, databaseCpuSeconds(database)) / options.duration;
    const machine = { load: [machineBefore.load, loadavg()[0]!] as [number, number], pressure: [machineBefore.pressure, cpuPressure()] as [number, number] };
    // The window's last events are still being acked and broadcast: a backlog shows in the latency.
    const report = await load.settle(10_000);
    const settledCpu = servers.reduce((sum, s, i) => sum + cpuSeconds(s.pid) - cpuBefore[i]!.user - cpuBefore[i]!.system, 0);
    const { rssMb, heapMb } = memory.stop();

    const ingest = report.acked / options.duration;
    const errors = [...report.errors, ...(report.unacked > 0 ? [['unacked', report.unacked] as const] : [])];
    return {
      name: configuration.name,
      instances: servers.length,
      offered: options.rate,
      ingest,
      deliveries: report.delivered / options.duration,
      expectedDeliveries: ingest * (options.clients / options.namespaces - 1),
      ack: percentiles(report.ackLatencies),
      delivery: percentiles(report.deliveryLatencies),
      rssMb,
      heapMb,
      serverCpu,
      serverSystemCpu,
      cpuPerThousand: report.acked > 0 ? (settledCpu * 1e6) / report.acked : NaN,
      generatorCpu: (generator.user + generator.system) / 1e6 / options.duration,
      databaseCpu,
      machine,
      errors: errors.map(([code, count]) => `${code} ${count}`).join(', ') || 'none',
    };
  } finally {
    await stopAll();
    cleanups.delete(stopAll);
  }
}

/** One client in this many records its deliveries' latency; every client counts them. */
const DELIVERY_SAMPLE_EVERY = 10;

const progress = (line: string) => process.stdout.write(`  … ${line}\n`);
/** What is still running: stopped (servers) and removed (databases) on every way out. */
const cleanups = new Set<() => Promise<void>>();

/** Each client is a socket here and one in a server (which inherits this limit). */
function checkOpenFilesLimit(clients: number): void {
  const match = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  const limit = !match || match[1] === 'unlimited' ? Infinity : Number(match[1]);
  if (clients + 256 > limit) {
    throw new Error(`${clients} clients need more open files than allowed here (${limit}): run \`ulimit -n ${clients + 1024}\` first`);
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const unknown = options.only?.filter((name) => !CONFIGURATIONS.some((c) => c.name === name)) ?? [];
  if (unknown.length > 0) throw new Error(`--only: unknown ${unknown.join(', ')} (known: ${CONFIGURATIONS.map((c) => c.name).join(', ')})`);
  checkOpenFilesLimit(options.clients);
  const configurations = CONFIGURATIONS.filter((c) => !options.only || options.only.includes(c.name));
  // Hard limit: connecting, warming up, measuring, settling and stopping, per configuration.
  const limitMs = configurations.length * (options.before ? 2 : 1) * (options.warmup + options.duration + 90) * 1000;
  const watchdog = setTimeout(() => {
    console.error(`bench:server: hard time limit (${limitMs / 1000} s) reached, stopping`);
    void exitAfterCleanup(2);
  }, limitMs);

  console.log(
    `server load: ${options.clients} clients in ${options.namespaces} namespaces, ${options.rate} events/s in total, ` +
      `PG_POOL_SIZE ${options.poolSize}, ${options.threads} client threads; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  );
  const before = options.before === undefined ? undefined : { label: options.before, server: serverOfCommit(options.before) };
  const results: Result[] = [];
  for (const configuration of configurations) {
    const runs = [...(before ? [before] : []), { label: undefined, server: options.server }];
    if (options.beforeSecond) runs.reverse();
    for (const run of runs) {
      const result = { ...(await runConfiguration(configuration, { ...options, server: run.server })), before: run.label };
      progress(`${configuration.name}${run.label ? ` (before: ${run.label})` : ''}: ${result.ingest.toFixed(0)} events/s ingested, ${result.deliveries.toFixed(0)} deliveries/s, ack p99 ${result.ack.p99.toFixed(1)} ms`);
      results.push(result);
    }
  }
  clearTimeout(watchdog);
  console.log(`\n${table(results)}`);
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

async function exitAfterCleanup(code: number): Promise<never> {
  for (const cleanup of cleanups) await cleanup().catch(() => {});
  process.exit(code);
}

process.once('SIGINT', () => void exitAfterCleanup(130));
main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error('bench:server failed:', error);
    void exitAfterCleanup(1);
  },
);
