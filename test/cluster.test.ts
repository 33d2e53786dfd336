/**
 * Two server processes over one PostgreSQL database, as behind a load balancer: fan-out between
 * them, idempotency and sequences across them, an instance killed with SIGKILL, and PostgreSQL
 * itself going down and coming back while both keep running.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { SequencedEvent, ServerMessage, SyncEvent } from '../protocol';
import type { EventStore } from '../server/store/event-store';
import { openPostgresStore } from '../server/store/postgres';
import { authed, type AuthedClient, type TestClient } from './helpers/client';
import { createTestDatabase, type TestDatabase } from './helpers/postgres';
import { spawnServer, type SpawnedServer } from './helpers/server';
import { makeEvent } from './store-contract';

const TOKEN = 'token-cluster';
const NAMESPACE = 'cluster';
const REPOSITORY = 'todos';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function push(client: TestClient, events: SyncEvent[]): Promise<ServerMessage> {
  client.send(events.length === 1 ? { type: 'push_event', repository: REPOSITORY, event: events[0] } : { type: 'push_events_batch', repository: REPOSITORY, events });
  // Broadcasts of other clients' events may arrive first: the reply is the next ack or error.
  for (;;) {
    const reply = await client.next(undefined, 10_000);
    if (reply.type === 'ack' || reply.type === 'error') return reply;
  }
}

/** Broadcast events a client receives, in arrival order. */
function received(client: TestClient): SequencedEvent[] {
  const events: SequencedEvent[] = [];
  client.socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as ServerMessage;
    if (message.type === 'events' && message.hasMore === undefined) events.push(...(message.events as SequencedEvent[]));
  });
  return events;
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(25);
  }
}

/** The local PostgreSQL cluster's control command (the version is the one installed). */
function postgresCluster(action: 'stop' | 'start'): void {
  const version = readdirSync('/etc/postgresql').sort().at(-1);
  if (!version) throw new Error('no PostgreSQL cluster under /etc/postgresql');
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', action, ...(action === 'stop' ? ['-m', 'fast'] : [])], {
    stdio: 'ignore',
    timeout: 30_000,
  });
}

describe('two server instances over one PostgreSQL database', () => {
  let database: TestDatabase;
  let a: SpawnedServer;
  let b: SpawnedServer;
  /** Reads the log directly, as a third party. */
  let store: EventStore;
  const clients: TestClient[] = [];

  async function client(server: SpawnedServer): Promise<AuthedClient> {
    const connected = await authed(server.syncUrl, TOKEN);
    clients.push(connected);
    return connected;
  }

  before(async () => {
    database = await createTestDatabase();
    const env = { DATABASE_URL: database.url, AUTH_TOKENS: `${TOKEN}=${NAMESPACE}`, PG_POOL_SIZE: '4' };
    [a, b] = await Promise.all([spawnServer(env), spawnServer(env)]);
    store = await openPostgresStore(database.url, { poolSize: 2 });
  });

  after(async () => {
    for (const c of clients) await c.close();
    await a?.stop();
    await b?.stop();
    await store?.close();
    await database?.drop();
  });

  test('a client of A writes, a client of B receives the broadcast', async () => {
    const writer = await client(a);
    const reader = await client(b);
    const event = makeEvent('broadcast', 1);
    assert.equal((await push(writer, [event])).type, 'ack');
    const broadcast = await reader.next('events', 10_000);
    assert.deepEqual(broadcast.events.map((e) => e.eventId), [event.eventId]);
    assert.ok((broadcast.events[0]?.serverSequence ?? 0) > 0);
  });

  test('one eventId pushed through both instances at once is stored once, and acked by both', async () => {
    const viaA = await client(a);
    const viaB = await client(b);
    const events = Array.from({ length: 20 }, (_, i) => makeEvent(`twice-${i}`, i));
    for (const event of events) {
      const [fromA, fromB] = await Promise.all([push(viaA, [event]), push(viaB, [event])]);
      assert.equal(fromA.type, 'ack');
      assert.equal(fromB.type, 'ack');
    }
    const log = await store.readLog(NAMESPACE, 0, 10_000);
    for (const event of events) assert.equal(log.filter((l) => l.event.eventId === event.eventId).length, 1, event.eventId);
  });

  test('concurrent writers on both instances: sequences never repeat, every listener sees all in order', async () => {
    const start = await store.maxSequence(NAMESPACE);
    const listenerA = await client(a);
    const listenerB = await client(b);
    const seenA = received(listenerA);
    const seenB = received(listenerB);
    const writers = await Promise.all([client(a), client(a), client(b), client(b)]);
    await Promise.all(
      writers.map(async (writer, w) => {
        for (let i = 0; i < 15; i++) {
          const batch = Array.from({ length: 1 + (i % 3) }, (_, k) => makeEvent(`w${w}-${i}-${k}`, i));
          assert.equal((await push(writer, batch)).type, 'ack');
        }
      }),
    );
    const total = 4 * (5 * (1 + 2 + 3));
    const log = (await store.readLog(NAMESPACE, start, 10_000)).map((l) => l.event.serverSequence);
    assert.deepEqual(log, Array.from({ length: total }, (_, i) => start + i + 1), 'distinct, contiguous sequences');
    await until(() => seenA.length >= total && seenB.length >= total, 'every broadcast on both instances');
    for (const seen of [seenA, seenB]) {
      // The previous test's last commit may still be on its way to the other instance when these
      // listeners join (its notification, then its read of the log): that one may reach them too.
      const ofThisTest = seen.filter((e) => e.serverSequence > start);
      assert.deepEqual(ofThisTest.map((e) => e.serverSequence), log, 'each listener got every event once, in sequence order');
    }
  });

  test('PostgreSQL going down and up: requests fail with error internal meanwhile, both instances recover by themselves', async () => {
    const writer = await client(a);
    const reader = await client(b);
    const seen = received(reader);
    assert.equal((await push(writer, [makeEvent('before-outage', 1)])).type, 'ack');

    try {
      // Stop, push, start (rather than one restart): the push is sure to meet the outage.
      postgresCluster('stop');
      const reply = await push(writer, [makeEvent('during-outage', 2)]);
      assert.equal(reply.type, 'error');
      assert.equal(reply.type === 'error' && reply.code, 'internal');
    } finally {
      postgresCluster('start');
    }

    // The same processes, no restart: pushes go through again once the pool reconnects.
    const after = makeEvent('after-outage', 3);
    await until(async () => (await push(writer, [after])).type === 'ack', 'a push acked after the outage');
    // Fan-out too: B's LISTEN connection came back, and B re-read what it may have missed.
    await until(() => seen.some((e) => e.eventId === after.eventId), 'the broadcast on the other instance');
    const stored = (await store.readLog(NAMESPACE, 0, 10_000)).map((l) => l.event.eventId);
    assert.ok(stored.some((id) => id.endsWith('-before-outage')) && stored.includes(after.eventId), 'acked events are stored');
    assert.ok(!stored.some((id) => id.endsWith('-during-outage')), 'the push answered with an error was not stored');
  });

  test('A killed with SIGKILL: no acked event is lost, and its client resumes on B from its cursor', async () => {
    const onA = await client(a);
    const onB = await client(b);
    // The client of A syncs what B's client writes, keeping its cursor as the worker does.
    let cursor = 0;
    onA.socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as ServerMessage;
      if (message.type === 'events') for (const e of message.events) cursor = Math.max(cursor, e.serverSequence ?? 0);
    });
    const early = Array.from({ length: 5 }, (_, i) => makeEvent(`from-b-early-${i}`, i));
    assert.equal((await push(onB, early)).type, 'ack');
    await until(() => cursor >= early.length, 'the early events on A');

    // A stream of pushes through A, killed while it is being acknowledged.
    const outbox = Array.from({ length: 60 }, (_, i) => makeEvent(`from-a-${i}`, 100 + i));
    const acked = new Set<string>();
    onA.socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as ServerMessage;
      if (message.type === 'ack') for (const id of message.eventIds) acked.add(id);
    });
    for (const event of outbox) onA.send({ type: 'push_event', repository: REPOSITORY, event });
    await until(() => acked.size >= 10, 'the first acks');
    await a.kill('SIGKILL');
    await onA.closed;
    assert.ok(acked.size >= 10);

    const late = Array.from({ length: 5 }, (_, i) => makeEvent(`from-b-late-${i}`, 200 + i));
    assert.equal((await push(onB, late)).type, 'ack');

    // Reconnect to B, catch up from the cursor, then send what was never acked (the outbox).
    const resumed = await client(b);
    const pages = await resumed.collect({ type: 'request_events', repository: REPOSITORY, afterSequence: cursor });
    const caughtUp = new Set(pages.flatMap((p) => p.events.map((e) => e.eventId)));
    for (const id of acked) assert.ok(caughtUp.has(id), `acked ${id} survived the kill`);
    for (const event of late) assert.ok(caughtUp.has(event.eventId), `${event.eventId} written meanwhile is caught up`);
    for (const event of early) assert.ok(!caughtUp.has(event.eventId), 'nothing before the cursor is sent again');

    const unacked = outbox.filter((event) => !acked.has(event.eventId));
    if (unacked.length > 0) assert.equal((await push(resumed, unacked)).type, 'ack');
    const log = await store.readLog(NAMESPACE, 0, 10_000);
    for (const event of outbox) {
      assert.equal(log.filter((l) => l.event.eventId === event.eventId).length, 1, `${event.eventId} stored exactly once`);
    }
  });
});
