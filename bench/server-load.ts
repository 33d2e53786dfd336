/**
 * `npm run bench:server [-- --clients 1000 --namespaces 10 --rate 2000 --duration 15]`: a load
 * generator on loopback. K WebSocket clients spread over N namespaces push events at a target
 * total rate; every other client of the namespace receives them as broadcasts. Runs the same load
 * against SQLite, PostgreSQL with one instance, and PostgreSQL with two instances (clients split
 * across both), each server a child process on a free port with a fresh database, and prints
 * ingest, deliveries, ack latency and server memory side by side.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { ServerMessage } from '../protocol';
import { createTestDatabase } from '../test/helpers/postgres';
import { spawnServer, type SpawnedServer } from '../test/helpers/server';

interface Options {
  clients: number;
  namespaces: number;
  /** Events per second, all clients together. */
  rate: number;
  /** Seconds measured per configuration, after the warm-up. */
  duration: number;
  warmup: number;
  poolSize: number;
  only: string[] | undefined;
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
  return {
    clients: Math.round(number('clients', 1000)),
    namespaces: Math.round(number('namespaces', 10)),
    rate: number('rate', 2000),
    duration: number('duration', 15),
    warmup: number('warmup', 3),
    poolSize: Math.round(number('pool-size', 10)),
    only: value('only')?.split(','),
  };
}

interface Configuration {
  name: string;
  /** Starts the servers; returns them and how to remove their database. */
  start(env: Record<string, string>): Promise<{ servers: SpawnedServer[]; drop(): Promise<void> }>;
}

const CONFIGURATIONS: Configuration[] = [
  {
    name: 'sqlite',
    start(env) {
      const dir = mkdtempSync(join(tmpdir(), 'tabsync-bench-server-'));
      return startAll(1, { ...env, DATABASE_URL: join(dir, 'sync.db') }, async () => rmSync(dir, { recursive: true, force: true }));
    },
  },
  { name: 'postgres', start: (env) => startPostgres(1, env) },
  { name: 'postgres-2', start: (env) => startPostgres(2, env) },
];

async function startPostgres(instances: number, env: Record<string, string>) {
  const database = await createTestDatabase();
  return startAll(instances, { ...env, DATABASE_URL: database.url }, () => database.drop());
}

/** Starts `count` servers on one database; on failure stops those started and drops it. */
async function startAll(count: number, env: Record<string, string>, drop: () => Promise<void>) {
  const started = await Promise.allSettled(Array.from({ length: count }, () => spawnServer(env)));
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(servers.map((s) => s.stop()));
    await drop();
    throw failed.reason;
  }
  return { servers, drop };
}

const EVENT_ID_PREFIX = 'bench-';
const eventNumber = (eventId: string) => Number(eventId.slice(EVENT_ID_PREFIX.length));

/** What the clients observed of the events of the measured window (numbers first..end). */
class Tally {
  first = Infinity;
  end = Infinity;
  acked = 0;
  delivered = 0;
  readonly latencies: number[] = [];
  readonly errors = new Map<string, number>();
  /** eventId → when it was sent. */
  readonly inFlight = new Map<string, number>();

  private measured(eventId: string): boolean {
    const n = eventNumber(eventId);
    return n >= this.first && n < this.end;
  }

  receive(raw: WebSocket.RawData): void {
    const message = JSON.parse(String(raw)) as ServerMessage;
    if (message.type === 'ack') {
      const now = performance.now();
      for (const id of message.eventIds) {
        const sent = this.inFlight.get(id);
        this.inFlight.delete(id);
        if (sent === undefined || !this.measured(id)) continue;
        this.acked++;
        this.latencies.push(now - sent);
      }
    } else if (message.type === 'events' && message.hasMore === undefined) {
      for (const event of message.events) if (this.measured(event.eventId)) this.delivered++;
    } else if (message.type === 'error') {
      this.count(message.code ?? 'unknown');
    }
  }

  count(error: string): void {
    this.errors.set(error, (this.errors.get(error) ?? 0) + 1);
  }
}

const CONNECT_CONCURRENCY = 100;
const RECORDS_PER_NAMESPACE = 1000;

async function connectClients(servers: SpawnedServer[], options: Options, tally: Tally): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  const connectOne = async (index: number) => {
    const server = servers[index % servers.length]!;
    const socket = new WebSocket(server.syncUrl);
    sockets.push(socket);
    socket.on('error', () => tally.count('socket error'));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('open', () => {
        socket.send(JSON.stringify({ type: 'auth', token: tokenOf(index % options.namespaces) }));
        socket.once('message', (raw) => {
          const reply = JSON.parse(String(raw)) as ServerMessage;
          if (reply.type !== 'auth_success') return reject(new Error(`auth refused: ${String(raw)}`));
          socket.on('message', (data) => tally.receive(data));
          resolve();
        });
      });
    });
  };
  for (let start = 0; start < options.clients; start += CONNECT_CONCURRENCY) {
    const batch = Array.from({ length: Math.min(CONNECT_CONCURRENCY, options.clients - start) }, (_, k) => connectOne(start + k));
    await Promise.all(batch);
  }
  return sockets;
}

const tokenOf = (namespace: number) => `bench-token-${namespace}`;

/** Pushes `rate` events per second, round-robin over the clients, for `seconds`. */
async function push(sockets: WebSocket[], options: Options, tally: Tally, seconds: number, sequence: { next: number }): Promise<void> {
  const start = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = (performance.now() - start) / 1000;
      const due = Math.floor(Math.min(elapsed, seconds) * options.rate) - sent;
      for (let i = 0; i < due; i++) {
        const n = sequence.next++;
        const socket = sockets[n % sockets.length]!;
        const eventId = `${EVENT_ID_PREFIX}${n}`;
        const event = {
          eventId,
          dataId: `record-${n % RECORDS_PER_NAMESPACE}`,
          operation: 1,
          createdAt: new Date().toISOString(),
          data: { title: `item ${n}`, done: n % 2 === 0, n },
        };
        tally.inFlight.set(eventId, performance.now());
        socket.send(JSON.stringify({ type: 'push_event', repository: 'todos', event }));
      }
      sent += due;
      if (elapsed >= seconds) {
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
}

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  // The fields after the command name, which is in parentheses and may contain spaces.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux build that matters
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

interface Result {
  name: string;
  instances: number;
  ingest: number;
  deliveries: number;
  expectedDeliveries: number;
  p50: number;
  p99: number;
  rssMb: number[];
  /** Share of one core used by each server, and by this load generator, during the window. */
  serverCpu: number[];
  generatorCpu: number;
  errors: string;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
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
  const { servers, drop } = await configuration.start(env);
  const sockets: WebSocket[] = [];
  const stopAll = async () => {
    for (const socket of sockets) socket.terminate();
    await Promise.all(servers.map((s) => s.stop()));
    await drop();
  };
  cleanups.add(stopAll);
  const tally = new Tally();
  try {
    const connecting = performance.now();
    sockets.push(...(await connectClients(servers, options, tally)));
    progress(`${configuration.name}: ${options.clients} clients connected in ${((performance.now() - connecting) / 1000).toFixed(1)} s; ${options.rate} events/s, ${options.warmup} s warm-up + ${options.duration} s measured`);

    const sequence = { next: 0 };
    await push(sockets, options, tally, options.warmup, sequence);
    const rss = servers.map(() => 0);
    const sampler = setInterval(() => servers.forEach((s, i) => (rss[i] = Math.max(rss[i]!, rssBytes(s.pid)))), 500);
    tally.first = sequence.next;
    const cpuBefore = servers.map((s) => cpuSeconds(s.pid));
    const generatorBefore = process.cpuUsage();
    await push(sockets, options, tally, options.duration, sequence);
    const serverCpu = servers.map((s, i) => (cpuSeconds(s.pid) - cpuBefore[i]!) / options.duration);
    const generator = process.cpuUsage(generatorBefore);
    tally.end = sequence.next;
    // The window's last events are still being acked and broadcast: wait for them (a backlog
    // shows in the latency), then a moment more for the broadcasts that follow each commit.
    const settleUntil = performance.now() + 10_000;
    while (tally.inFlight.size > 0 && performance.now() < settleUntil) await delay(20);
    await delay(500);
    clearInterval(sampler);

    const sorted = [...tally.latencies].sort((x, y) => x - y);
    const ingest = tally.acked / options.duration;
    return {
      name: configuration.name,
      instances: servers.length,
      ingest,
      deliveries: tally.delivered / options.duration,
      expectedDeliveries: ingest * (options.clients / options.namespaces - 1),
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      rssMb: rss.map((bytes) => bytes / 1024 / 1024),
      serverCpu,
      generatorCpu: (generator.user + generator.system) / 1e6 / options.duration,
      errors: [...tally.errors].map(([code, count]) => `${code} ${count}`).join(', ') || 'none',
    };
  } finally {
    await stopAll();
    cleanups.delete(stopAll);
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const progress = (line: string) => process.stdout.write(`  … ${line}\n`);
/** What is still running: stopped (servers) and removed (databases) on every way out. */
const cleanups = new Set<() => Promise<void>>();

function table(results: readonly Result[]): string {
  const header = ['configuration', 'ingest ev/s', 'deliveries/s', '(expected)', 'ack p50', 'ack p99', 'server RSS', 'server CPU', 'load gen CPU', 'errors'];
  const rows = results.map((r) => [
    r.instances > 1 ? `${r.name} (${r.instances} instances)` : r.name,
    r.ingest.toFixed(0),
    r.deliveries.toFixed(0),
    r.expectedDeliveries.toFixed(0),
    `${r.p50.toFixed(1)} ms`,
    `${r.p99.toFixed(1)} ms`,
    r.rssMb.map((mb) => `${mb.toFixed(0)} MB`).join(' + '),
    r.serverCpu.map((share) => `${(share * 100).toFixed(0)}%`).join(' + '),
    `${(r.generatorCpu * 100).toFixed(0)}%`,
    r.errors,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

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
  const limitMs = configurations.length * (options.warmup + options.duration + 90) * 1000;
  const watchdog = setTimeout(() => {
    console.error(`bench:server: hard time limit (${limitMs / 1000} s) reached, stopping`);
    void exitAfterCleanup(2);
  }, limitMs);

  console.log(
    `server load: ${options.clients} clients in ${options.namespaces} namespaces, ${options.rate} events/s in total, ` +
      `PG_POOL_SIZE ${options.poolSize}`,
  );
  const results: Result[] = [];
  for (const configuration of configurations) {
    const result = await runConfiguration(configuration, options);
    progress(`${configuration.name}: ${result.ingest.toFixed(0)} events/s ingested, ${result.deliveries.toFixed(0)} deliveries/s, ack p99 ${result.p99.toFixed(1)} ms`);
    results.push(result);
  }
  clearTimeout(watchdog);
  console.log(`\n${table(results)}`);
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
