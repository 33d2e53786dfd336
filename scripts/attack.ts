/**
 * The heavy memory attacks of issue 14 against a real server process on loopback, with figures:
 * `npm run attack` (add `-- --postgres` to run the pinned readers on PostgreSQL as well, or
 * `-- --only flood` for one scenario). Each scenario is bounded in time and count; the server
 * runs with a small V8 heap (--max-old-space-size) so that a page held as parsed objects would
 * abort it, as the run did. Exits 1 when a bound is broken.
 */
import { spawn as spawnProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { openPostgresStore } from '../server/store/postgres';
import { openSqliteStore } from '../server/store/sqlite';
import type { EventStore } from '../server/store/event-store';
import { authed } from '../test/helpers/client';
import { mib, MiB, percentile, probeHealth, rssBytes, seed, smallObjectData } from '../test/helpers/memory';
import { createTestDatabase } from '../test/helpers/postgres';
import { spawnServer, type SpawnedServer } from '../test/helpers/server';

const { values } = parseArgs({ options: { postgres: { type: 'boolean', default: false }, only: { type: 'string' } } });

/** The server's V8 heap limit: a 60 MiB page of small objects parsed would need several times it. */
const HEAP_LIMIT_MB = 256;
const RSS_BOUND = 400 * MiB;
const HEALTH_P99_BOUND_MS = 200;
/** While 8 MiB pages of 1 MiB records stream to two readers, health answers, if more slowly. */
const PINNED_HEALTH_P99_BOUND_MS = 1000;

const failures: string[] = [];
function check(ok: boolean, what: string): void {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

function spawn(env: Record<string, string>): Promise<SpawnedServer> {
  return spawnServer({ NODE_OPTIONS: `--max-old-space-size=${HEAP_LIMIT_MB}`, ...env });
}

/** Samples the server's RSS while `work` runs, and its health latencies. */
async function observe(server: SpawnedServer, work: (stop: () => boolean) => Promise<unknown>, seconds: number) {
  let peakRss = rssBytes(server.pid);
  let peakBuffered = 0;
  const deadline = Date.now() + seconds * 1000;
  const stop = () => Date.now() > deadline;
  const [latencies] = await Promise.all([
    probeHealth(server.url, stop, (h) => {
      peakRss = Math.max(peakRss, rssBytes(server.pid));
      peakBuffered = Math.max(peakBuffered, h.sendBufferBytes);
    }),
    work(stop),
  ]);
  return { peakRss, peakBuffered, latencies };
}

function describeLatencies(latencies: number[]): string {
  return `health p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms (${latencies.length} answers)`;
}

/** 60 MiB of small-object records (1 MiB each, as pushes under MAX_MESSAGE_BYTES), 4 readers that stop reading. */
async function pinnedReaders(label: string, databaseUrl: string, open: () => Promise<EventStore>): Promise<void> {
  console.log(`\npinned readers (${label}): 60 MiB of small-object records, 4 readers that stop reading and ping, 2 that read, 20 s`);
  const store = await open();
  await seed(store, 'default', 'todos', 60, () => smallObjectData(MiB), 4);
  await store.close();
  const server = await spawn({ DATABASE_URL: databaseUrl });
  try {
    const before = rssBytes(server.pid);
    const pinned = await Promise.all([0, 1, 2, 3].map(() => authed(server.syncUrl)));
    const pings = setInterval(() => pinned.forEach((r) => r.send({ type: 'ping' })), 1000);
    for (const reader of pinned) {
      reader.send({ type: 'request_all_events' });
      reader.socket.pause();
    }
    let completed = 0;
    const { peakRss, peakBuffered, latencies } = await observe(server, async (stop) => {
      // Two ordinary catch-ups at the same time, again and again.
      await Promise.all([0, 1].map(async () => {
        const reader = await rawReader(server.syncUrl);
        while (!stop()) {
          await catchUpWithoutParsing(reader);
          completed++;
        }
        reader.terminate();
      }));
    }, 20);
    clearInterval(pings);
    pinned.forEach((r) => r.socket.terminate());
    console.log(`  server RSS ${mib(before)} → peak ${mib(peakRss)}; unsent bytes peak ${mib(peakBuffered)}; ${completed} complete catch-ups meanwhile`);
    console.log(`  ${describeLatencies(latencies)}`);
    check(server.lines.every((l) => !l.includes('heap out of memory')) && (await alive(server)), `the server is alive with a ${HEAP_LIMIT_MB} MB heap limit`);
    check(peakRss < RSS_BOUND, `RSS below ${mib(RSS_BOUND)}`);
    check(completed >= 2, 'ordinary catch-ups complete while readers are pinned');
    check(percentile(latencies, 99) < PINNED_HEALTH_P99_BOUND_MS, `health p99 below ${PINNED_HEALTH_P99_BOUND_MS} ms`);
  } finally {
    await server.stop();
  }
}

/** An authenticated socket (dev mode) with no parsing listener of its own. */
function rawReader(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  return new Promise((resolve, reject) => {
    socket.once('open', () => socket.send(JSON.stringify({ type: 'auth' })));
    socket.once('message', (data: Buffer) => (String(data).includes('"auth_success"') ? resolve(socket) : reject(new Error(String(data)))));
    socket.once('error', reject);
  });
}

/**
 * One catch-up (request_all_events by default), read to its `sync_complete` without parsing the
 * pages: parsing them would make this process, which also times the health checks, the slow one.
 * Resolves with the number of events, counted by their `"eventId":` keys.
 */
function catchUpWithoutParsing(socket: WebSocket, request: object = { type: 'request_all_events' }): Promise<number> {
  const end = 'repository' in request ? `{"type":"sync_complete","repository":` : '{"type":"sync_complete"}';
  let events = 0;
  return new Promise((resolve) => {
    const onMessage = (data: Buffer) => {
      if (data.subarray(0, 64).toString().startsWith(end)) {
        socket.off('message', onMessage);
        resolve(events);
      }
      for (let at = data.indexOf('"eventId":'); at >= 0; at = data.indexOf('"eventId":', at + 1)) events++;
    };
    socket.on('message', onMessage);
    socket.send(JSON.stringify(request));
  });
}

async function alive(server: SpawnedServer): Promise<boolean> {
  return fetch(`${server.url}/api/health`).then((r) => r.ok, () => false);
}

/** 3 unauthenticated sockets sending empty frames as fast as they can, never reading, for 30 s. */
async function flood(dir: string): Promise<void> {
  console.log('\nflood: 3 unauthenticated sockets send empty frames and never read, 30 s');
  const server = await spawn({ DATABASE_URL: join(dir, 'flood.db'), AUTH_TOKENS: 'secret=alpha', AUTH_TIMEOUT_MS: '60000' });
  try {
    const before = rssBytes(server.pid);
    let frames = 0;
    const { peakRss, peakBuffered, latencies } = await observe(server, async () => {
      const flooder = spawnProcess(process.execPath, ['--import', 'tsx', 'scripts/attack-flooder.ts', server.syncUrl, '3', '30']);
      let output = '';
      flooder.stdout.on('data', (chunk: Buffer) => (output += String(chunk)));
      await new Promise((resolve) => flooder.once('close', resolve));
      frames = Number(output.trim());
    }, 30);
    console.log(`  ${frames.toLocaleString('en')} frames (${mib(frames * 6)} on the wire); server RSS ${mib(before)} → peak ${mib(peakRss)}; unsent bytes peak ${mib(peakBuffered)}`);
    console.log(`  ${describeLatencies(latencies)}`);
    check(await alive(server), 'the server is alive');
    check(peakRss - before < 100 * MiB, 'RSS grew by less than 100 MiB');
    check(percentile(latencies, 99) < HEALTH_P99_BOUND_MS, `health p99 below ${HEALTH_P99_BOUND_MS} ms`);
  } finally {
    await server.stop();
  }
}

/** 10 catch-ups of 50,000 events on SQLite, one after another on one socket, while health is asked. */
async function longCatchUps(dir: string): Promise<void> {
  console.log('\nlong catch-ups (sqlite): 10 × 50,000 events on one socket');
  const databaseUrl = join(dir, 'long.db');
  const store = openSqliteStore(databaseUrl);
  await seed(store, 'default', 'todos', 50_000, (i) => ({ title: `todo ${i}`, done: i % 2 === 0 }));
  await store.close();
  const server = await spawn({ DATABASE_URL: databaseUrl });
  try {
    const reader = await rawReader(server.syncUrl);
    let done = false;
    let events = 0;
    const started = performance.now();
    const reading = (async () => {
      for (let i = 0; i < 10; i++) events += await catchUpWithoutParsing(reader, { type: 'request_events', repository: 'todos' });
      done = true;
    })();
    const latencies = await probeHealth(server.url, () => done);
    await reading;
    reader.terminate();
    console.log(`  ${events.toLocaleString('en')} events in ${((performance.now() - started) / 1000).toFixed(1)} s; ${describeLatencies(latencies)}`);
    check(events === 500_000, 'every catch-up complete');
    check(percentile(latencies, 99) < HEALTH_P99_BOUND_MS, `health p99 below ${HEALTH_P99_BOUND_MS} ms`);
  } finally {
    await server.stop();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'tabsync-attack-'));
const only = values.only;
try {
  if (!only || only === 'pinned') {
    const path = join(dir, 'pinned.db');
    await pinnedReaders('sqlite', path, async () => openSqliteStore(path));
    if (values.postgres) {
      const database = await createTestDatabase();
      try {
        await pinnedReaders('postgres', database.url, () => openPostgresStore(database.url, { poolSize: 2 }));
      } finally {
        await database.drop();
      }
    }
  }
  if (!only || only === 'flood') await flood(dir);
  if (!only || only === 'catch-up') await longCatchUps(dir);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(failures.length === 0 ? '\nall bounds held' : `\n${failures.length} bound(s) broken:\n${failures.join('\n')}`);
process.exitCode = failures.length === 0 ? 0 : 1;
