/**
 * The worker core under a hostile server: a `ws` server on loopback answers the core's catch-up
 * with more than ten thousand generated frames (broken JSON, wrong types, missing fields, unknown
 * types, huge frames, deep nesting, prototype keys, events with invalid data, duplicate and
 * out-of-order sequences, acks for unknown ids, unrequested sync_complete, binary frames). After
 * the storm the core must be alive on the same socket, IndexedDB must hold exactly what the valid
 * events decide (every row valid against the schema), the cursor must never have gone backwards
 * nor past what was delivered, and a valid event sent afterwards must apply.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { openDB } from 'idb';
import * as v from 'valibot';
import type WebSocket from 'ws';
import { decodeFrame } from '../protocol/frame';
import { MAX_SERVER_FRAME_BYTES } from '../protocol/limits';
import { ServerMessageSchema, SyncEventSchema, type SyncEvent } from '../protocol/messages';
import { compareEvents } from '../protocol/order';
import { seededRandom, type Random } from '../test-e2e/chaos/random';
import { dumpDatabase, openTestCore, removeDatabase, sendTo, startFakeServer, TodoSchema, waitFor } from './helpers/worker';

const SEED = Number(process.env['FUZZ_SEED'] ?? 7);
const FRAMES = 10_000;
const IDS = Array.from({ length: 24 }, (_, i) => `rec-${i}`);
/** Frames that are not JSON text: sent as binary WebSocket messages. */
type Frame = string | Buffer;

// ── generating frames ──

/** The namespace the core authenticates into; a storm frame that names another moves the core's
 *  data to that namespace's database until one names this one again. */
const NAMESPACE = 'n';

/** A valid todo event; sequences stay in the low range so that only invalid frames carry huge ones. */
function validEvent(random: Random, sequence: number): SyncEvent {
  const id = random.pick(IDS);
  const createdAt = new Date(Date.UTC(2024, 0, 1) + random.int(0, 5000) * 1000).toISOString();
  const eventId = `ev-${random.int(0, 3000)}`;
  if (random.chance(0.15)) return { eventId, dataId: id, operation: 2, createdAt, serverSequence: sequence };
  return { eventId, dataId: id, operation: random.pick([0, 1]), createdAt, data: { id, title: `t${random.int(0, 99)}`, done: random.chance(0.5) }, serverSequence: sequence };
}

function validMessage(random: Random, sequence: () => number): Record<string, unknown> {
  switch (random.int(0, 4)) {
    case 0:
      return { type: 'events', repository: 'todos', events: [validEvent(random, sequence())], ...(random.chance(0.5) ? { hasMore: random.chance(0.5) } : {}) };
    case 1:
      return { type: 'ack', eventIds: [`unknown-${random.int(0, 1e6)}`], repositories: { todos: [`unknown-${random.int(0, 1e6)}`] } };
    case 2:
      return { type: 'sync_complete', ...(random.chance(0.7) ? { repository: random.pick(['todos', 'notes']) } : {}) };
    case 3:
      return { type: 'error', message: 'fuzz', code: random.pick(['invalid_message', 'too_large', 'whatever']) };
    default:
      return { type: 'auth_success', principal: 'p', namespace: NAMESPACE, connectionId: `c${random.int(0, 9)}` };
  }
}

const WRONG_VALUES: unknown[] = [null, 0, -1, 1.5, 2 ** 60, '', 'x', true, [], [1, 'a'], {}, { a: 1 }, 'todos'];

/** A JSON path to a random property of `value` (objects and arrays), or [] when it has none. */
function randomPath(random: Random, value: unknown): (string | number)[] {
  const path: (string | number)[] = [];
  let current = value;
  while (typeof current === 'object' && current !== null) {
    const keys: (string | number)[] = Array.isArray(current) ? current.map((_, i) => i) : Object.keys(current);
    if (keys.length === 0) break;
    const key = random.pick(keys);
    path.push(key);
    current = (current as Record<string | number, unknown>)[key];
    if (random.chance(0.35)) break;
  }
  return path;
}

function mutateAt(root: Record<string, unknown>, path: readonly (string | number)[], mutate: (parent: Record<string | number, unknown>, key: string | number) => void): void {
  let parent = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path.at(-1);
  if (last !== undefined) mutate(parent, last);
}

function deeplyNested(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = { n: value };
  return value;
}

/** Invalid events inside an otherwise valid `events` frame: refused by the schema or by the repository. */
function invalidEvent(random: Random, sequence: number): Record<string, unknown> {
  const event = validEvent(random, sequence) as Record<string, unknown>;
  const id = event['dataId'] as string;
  const broken: (() => void)[] = [
    () => (event['data'] = { id, title: 42, done: false }),
    () => (event['data'] = { id, title: 'x'.repeat(501), done: false }),
    () => (event['data'] = { id: 'someone-else', title: 'x', done: false }),
    () => (event['data'] = { id, done: 'yes' }),
    () => (event['data'] = { id, title: 'deep', done: false, nested: deeplyNested(40, 1) }),
    () => ((event['operation'] = 0), delete event['data']),
    () => (event['operation'] = 7),
    () => (event['createdAt'] = random.pick(['yesterday', '2024-02-30T00:00:00.000Z', '2024-01-01T00:00:00Z', 1700000000000])),
    () => (event['eventId'] = random.pick(['', 'has space', 'x'.repeat(65), 5])),
    () => (event['dataId'] = random.pick(['', 'x'.repeat(257), 12])),
    () => (event['serverSequence'] = random.pick([-1, 1.5, 2 ** 60, '9'])),
  ];
  random.pick(broken)();
  // Refused events carry huge sequences: a cursor moved by one of them would show at the end.
  if (typeof event['serverSequence'] === 'number' && event['serverSequence'] >= 0) event['serverSequence'] = 2 ** 40 + random.int(0, 1000);
  return event;
}

function hostileFrame(random: Random, sequence: () => number, hugeLeft: { count: number }): Frame {
  const roll = random.int(0, 13);
  switch (roll) {
    case 0: {
      const text = JSON.stringify(validMessage(random, sequence));
      return random.chance(0.5) ? text.slice(0, random.int(0, text.length - 1)) : random.pick(['{', '}', '', 'undefined', 'NaN', "{'type':'events'}", '{"type":"events",}', '\u0000']);
    }
    case 1:
      return random.pick(['null', '0', '-1e999', '"events"', '[]', 'true', '[{"type":"events","repository":"todos","events":[]}]']);
    case 2:
      return JSON.stringify({ ...validMessage(random, sequence), type: random.pick(['event', 'EVENTS', 'push_event', 'auth', '', 5, null, ['events'], { $ne: 1 }]) });
    case 3: {
      const message = validMessage(random, sequence);
      mutateAt(message, randomPath(random, message), (parent, key) => {
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else delete parent[key];
      });
      return JSON.stringify(message);
    }
    case 4: {
      const message = validMessage(random, sequence);
      mutateAt(message, randomPath(random, message), (parent, key) => (parent[key] = random.pick(WRONG_VALUES)));
      return JSON.stringify(message);
    }
    case 5: {
      if (hugeLeft.count > 0 && random.chance(0.02)) {
        hugeLeft.count--;
        return `{"type":"events","repository":"todos","events":[],"padding":"${'x'.repeat(MAX_SERVER_FRAME_BYTES + 1)}"}`;
      }
      const title = 'y'.repeat(random.int(1, 2) * 512 * 1024);
      const event = { ...validEvent(random, 2 ** 40), operation: 0, data: { id: 'big', title, done: false }, dataId: 'big' };
      return JSON.stringify({ type: 'events', repository: 'todos', events: [event] });
    }
    case 6: {
      const depth = random.pick([33, 100, 10_000]);
      const nested = random.chance(0.5) ? '['.repeat(depth) + ']'.repeat(depth) : '{"n":'.repeat(depth) + '1' + '}'.repeat(depth);
      return random.chance(0.5) ? nested : `{"type":"events","repository":"todos","events":[${nested}]}`;
    }
    case 7: {
      const key = random.pick(['__proto__', 'constructor', 'prototype']);
      const payload = `"${key}":{"polluted":true,"prototype":{"polluted":true}}`;
      const event = JSON.stringify(validEvent(random, 2 ** 40));
      return random.pick([
        `{${payload},"type":"sync_complete"}`,
        `{"type":"events","repository":"todos","events":[${event.slice(0, -1)},${payload}}]}`,
        `{"type":"events","repository":"todos","events":[${event.replace('"data":{', `"data":{${payload},`)}]}`,
        `{"type":"ack","eventIds":[],"repositories":{${payload}}}`,
        `{"type":"events","repository":"${key}","events":[${event}]}`,
      ]);
    }
    case 8:
      return JSON.stringify({ type: 'events', repository: 'todos', events: [invalidEvent(random, sequence()), invalidEvent(random, sequence())] });
    case 9: {
      const event = validEvent(random, 2 ** 40);
      return JSON.stringify({ type: 'events', repository: 'todos', events: [event] }).replace(/"title":"t/, '"title":"\\ud800t');
    }
    case 10:
      return JSON.stringify({ type: 'events', repository: random.pick(['notes', 'TODOS', 'todos ']), events: [validEvent(random, sequence())] });
    case 11:
      return Buffer.from(JSON.stringify(validMessage(random, sequence)));
    default:
      // Valid frames: duplicates, re-deliveries and out-of-order sequences of a few records.
      return JSON.stringify(validMessage(random, sequence));
  }
}

// ── the oracle: what the valid frames decide, by the protocol's own decoder and order ──

interface Expected {
  records: Map<string, { eventId: string; createdAt: string; data: Record<string, unknown> | undefined }>;
  highestSequence: number;
  /** The namespace the last valid auth_success named: events land in that namespace's database. */
  namespace: string;
}

function expectFrame(expected: Expected, frame: Frame): void {
  if (typeof frame !== 'string') return;
  const decoded = decodeFrame(frame, ServerMessageSchema, MAX_SERVER_FRAME_BYTES);
  if (decoded.ok && decoded.message.type === 'auth_success') expected.namespace = decoded.message.namespace ?? expected.namespace;
  // Only what lands in the namespace the test reads (its base database) is expected there.
  if (expected.namespace !== NAMESPACE) return;
  if (!decoded.ok || decoded.message.type !== 'events' || decoded.message.repository !== 'todos') return;
  for (const event of decoded.message.events) {
    if (event.serverSequence !== undefined) expected.highestSequence = Math.max(expected.highestSequence, event.serverSequence);
    let data: Record<string, unknown> | undefined;
    if (event.operation !== 2) {
      const parsed = v.safeParse(TodoSchema, event.data);
      if (!parsed.success || parsed.output.id !== event.dataId) continue;
      data = parsed.output;
    }
    const current = expected.records.get(event.dataId);
    if (current && (current.eventId === event.eventId || compareEvents(event, current) <= 0)) continue;
    expected.records.set(event.dataId, { eventId: event.eventId, createdAt: event.createdAt, data });
  }
}

// ── the test ──

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const StoredTodo = v.strictObject({ id: v.string(), title: v.pipe(v.string(), v.maxLength(500)), done: v.boolean() });
const RecordRow = v.strictObject({
  repository: v.literal('todos'),
  id: v.string(),
  data: v.optional(StoredTodo),
  deleted: v.boolean(),
  createdAt: v.pipe(v.string(), v.isoTimestamp()),
  eventId: v.string(),
});

test(`${FRAMES}+ hostile frames leave the core alive, its storage valid and its cursor monotonic (seed ${SEED})`, async () => {
  const random = seededRandom(SEED);
  let nextSequence = 0;
  const sequence = () => (random.chance(0.2) ? random.int(1, Math.max(1, nextSequence)) : ++nextSequence);
  const frames: Frame[] = [];
  const hugeLeft = { count: 3 };
  while (frames.length < FRAMES) frames.push(hostileFrame(random, sequence, hugeLeft));
  const expected: Expected = { records: new Map(), highestSequence: 0, namespace: NAMESPACE };
  for (const frame of frames) expectFrame(expected, frame);
  assert.ok(expected.records.size >= IDS.length / 2 && expected.highestSequence > 100, 'the storm carries valid events too');
  const finalEvent: SyncEvent = {
    eventId: 'after-the-storm',
    dataId: 'survivor',
    operation: 0,
    createdAt: '2025-06-01T00:00:00.000Z',
    data: { id: 'survivor', title: 'applied after the storm', done: true },
    serverSequence: expected.highestSequence + 1,
  };

  const pushed: string[] = [];
  let storming: Promise<void> | undefined;
  const server = await startFakeServer((socket, message) => {
    if (message.type === 'auth') sendTo(socket, { type: 'auth_success', principal: 'p', namespace: NAMESPACE, connectionId: 'c' });
    if (message.type === 'push_event') pushed.push(message.event.eventId);
    if (message.type === 'push_events_batch') pushed.push(...message.events.map((e) => e.eventId));
    if (message.type === 'request_events') storming ??= storm(socket, frames, finalEvent);
  });
  cleanups.push(() => server.close());
  const core = await openTestCore(server.url, { heartbeatInterval: 600_000 });
  cleanups.push(async () => {
    await core.close();
    await removeDatabase(core.databaseName);
  });

  // Local writes before the storm: their outbox entries must survive it, never acknowledged by it.
  for (let i = 0; i < 5; i++) await core.api.upsert('todos', { id: `local-${i}`, title: `mine ${i}`, done: false });

  // The cursor is sampled after each commit the core tells a watching tab of.
  const cursors: number[] = [];
  let sampling = true;
  let committed = () => {};
  const nextCommit = () => new Promise<void>((resolve) => (committed = resolve));
  await core.api.attach({ records: () => committed(), status: () => {}, credentialsNeeded: async () => null }, undefined, 'sampler');
  await core.api.watch('todos');
  const sampler = (async () => {
    const db = await openDB(core.databaseName);
    try {
      while (sampling) {
        const commit = nextCommit();
        cursors.push(((await db.get('cursors', 'todos')) as number | undefined) ?? 0);
        await commit;
      }
    } finally {
      db.close();
    }
  })();

  await core.api.start();
  await waitFor(async () => (await core.api.get('todos', 'survivor')) !== undefined, 'the valid event sent after the storm', 120_000);
  sampling = false;
  committed();
  await sampler;
  await storming;

  // Alive, on the one socket it opened, with nothing in its outbox taken for acknowledged.
  const status = await core.api.status();
  assert.equal(status.authenticated, true);
  assert.equal(server.connections.length, 1, 'no hostile frame made the core drop its connection');
  assert.equal(status.pending, 5, 'acks for unknown ids acknowledged nothing');
  assert.deepEqual(await core.api.get('todos', 'survivor'), finalEvent.data);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'no prototype was polluted');

  const dump = await dumpDatabase(core.databaseName);
  for (const { value } of dump['records'] ?? []) {
    const row = v.parse(RecordRow, value);
    assert.equal(row.deleted, row.data === undefined, `row ${row.id}: a tombstone has no data, a live row has`);
    if (row.data) assert.equal(row.data.id, row.id);
    assert.equal(Object.getPrototypeOf(row.data ?? {}), Object.prototype);
  }
  for (const { value } of dump['outbox'] ?? []) v.parse(v.object({ repository: v.literal('todos'), event: SyncEventSchema }), value);
  assert.equal(dump['outbox']?.length, 5);

  // Exactly what the valid frames decide, record by record (the last writer by the protocol's order).
  const stored = new Map((dump['records'] ?? []).map(({ value }) => [(value as { id: string }).id, value as { eventId: string; data?: unknown }]));
  for (const [id, winner] of expected.records) {
    assert.equal(stored.get(id)?.eventId, winner.eventId, `record ${id} holds the winning event`);
    assert.deepEqual(stored.get(id)?.data, winner.data);
  }
  const storedIds = [...stored.keys()].filter((id) => !id.startsWith('local-') && id !== 'survivor').sort();
  assert.deepEqual(storedIds, [...expected.records.keys()].sort(), 'no record came from a refused frame or event');

  // The cursor only moved forward, never past what valid frames delivered, and reached the final event.
  assert.ok(cursors.length > 1, 'the cursor was sampled during the storm');
  for (let i = 1; i < cursors.length; i++) assert.ok(cursors[i]! >= cursors[i - 1]!, `the cursor went back from ${cursors[i - 1]} to ${cursors[i]}`);
  assert.ok(Math.max(...cursors) <= finalEvent.serverSequence!, `the cursor passed every delivered sequence: ${Math.max(...cursors)}`);
  assert.deepEqual(dump['cursors']?.map(({ key, value }) => [key, value]), [['todos', finalEvent.serverSequence]]);
  assert.ok(core.logger.warnings.length >= FRAMES / 4, `bad frames are logged (${core.logger.warnings.length})`);
  // The outbox still goes out on the same socket (this server never acknowledges it).
  const outboxIds = (dump['outbox'] ?? []).map(({ value }) => (value as { event: SyncEvent }).event.eventId);
  await waitFor(() => outboxIds.every((id) => pushed.includes(id)), 'the outbox pushed after the storm');
});

/** Sends every frame in order, then names the test's namespace again, ends any catch-up and sends one valid event. */
async function storm(socket: WebSocket, frames: readonly Frame[], finalEvent: SyncEvent): Promise<void> {
  for (const [i, frame] of frames.entries()) {
    // Now and then, wait until the socket took the frame, so huge frames do not pile up in memory.
    const sent = new Promise<void>((resolve) => socket.send(frame, { binary: typeof frame !== 'string' }, () => resolve()));
    if (i % 500 === 0) await sent;
  }
  // Back in the test's namespace, whichever one the storm's auth_success frames named last.
  sendTo(socket, { type: 'auth_success', principal: 'p', namespace: NAMESPACE, connectionId: 'c' });
  sendTo(socket, { type: 'sync_complete', repository: 'todos' });
  sendTo(socket, { type: 'events', repository: 'todos', events: [finalEvent] });
}
