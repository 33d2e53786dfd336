/**
 * The worker core against a scripted server on loopback: hostile frames, duplicates, broadcasts
 * during catch-up, heartbeat, and a server that drops a push.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type WebSocket from 'ws';
import type { ClientMessage, ServerMessage, SyncEvent } from '../protocol/messages';
import { advanceUntil } from './helpers/advance-until';
import { ManualClock } from './helpers/manual-clock';
import { dumpDatabase, type FakeServer, RecordingTab, sendTo, settled, startFakeServer, TestCores, waitFor } from './helpers/worker';

const fakes: FakeServer[] = [];
const cores = new TestCores();

async function fake(onMessage: (socket: WebSocket, message: ClientMessage) => void, limits: { maxMessageBytes?: number } = {}): Promise<FakeServer> {
  const started = await startFakeServer((socket, message) => {
    if (message.type === 'auth') sendTo(socket, { type: 'auth_success', principal: 'p', namespace: 'n', connectionId: 'c', ...limits });
    onMessage(socket, message);
  });
  fakes.push(started);
  return started;
}

type Push = Extract<ClientMessage, { type: 'push_event' | 'push_events_batch' }>;

/** A scripted server with nothing to catch up on that acknowledges each push, unless `answer`
 *  returns another reply for it. */
function pushServer(answer: (events: SyncEvent[], push: Push) => ServerMessage | undefined, limits: { maxMessageBytes?: number } = {}): Promise<FakeServer> {
  return fake((socket, message) => {
    if (message.type === 'request_events') sendTo(socket, { type: 'sync_complete', repository: message.repository });
    if (message.type !== 'push_event' && message.type !== 'push_events_batch') return;
    const events = message.type === 'push_event' ? [message.event] : message.events;
    const eventIds = events.map((e) => e.eventId);
    sendTo(socket, answer(events, message) ?? { type: 'ack', eventIds, repositories: { todos: eventIds } });
  }, limits);
}

afterEach(async () => {
  await cores.closeAll();
  for (const f of fakes.splice(0)) await f.close();
});

let eventCount = 0;
function todoEvent(id: string, serverSequence: number, title = id, createdAt = '2025-01-01T00:00:00.000Z'): SyncEvent {
  return { eventId: `event-${++eventCount}`, dataId: id, operation: 0, createdAt, data: { id, title, done: false }, serverSequence };
}

function cursorsOf(dump: Awaited<ReturnType<typeof dumpDatabase>>): unknown {
  return dump['cursors']?.map(({ key, value }) => [key, value]);
}

test('hostile frames never crash the worker nor reach IndexedDB, and valid frames after them apply', async () => {
  const good = todoEvent('good', 7);
  const live = todoEvent('live', 8);
  const protoEvent = '{"eventId":"proto-1","dataId":"p","operation":0,"createdAt":"2025-01-01T00:00:00.000Z","serverSequence":3,"data":{"id":"p","title":"x","done":false,"__proto__":{"polluted":true}}}';
  const server = await fake((socket, message) => {
    if (message.type !== 'request_events') return;
    const hostile = [
      '{not json',
      'null',
      '42',
      '"events"',
      '[]',
      '{}',
      JSON.stringify({ type: 'no_such_type' }),
      JSON.stringify({ type: 'events', repository: 5, events: [] }),
      JSON.stringify({ type: 'events', repository: 'todos', events: 'nope' }),
      JSON.stringify({ type: 'events', repository: '../../etc', events: [] }),
      JSON.stringify({ type: 'ack', eventIds: 'x', repositories: {} }),
      JSON.stringify({ type: 'events', repository: 'todos', events: [{ ...good, eventId: 'bad-date', createdAt: 'yesterday' }] }),
      JSON.stringify({ type: 'events', repository: 'todos', events: [{ ...good, eventId: 'no-data', data: undefined }] }),
      JSON.stringify({ type: 'events', repository: 'todos', events: [{ ...good, eventId: 'bad-seq', serverSequence: -1 }] }),
      '['.repeat(5000) + ']'.repeat(5000),
      `{"type":"events","repository":"todos","hasMore":true,"events":[${protoEvent}]}`,
      '{"type":"sync_complete","__proto__":{"polluted":true}}',
      `{"type":"events","repository":"todos","events":[],"padding":"${'x'.repeat(33 * 1024 * 1024)}"}`,
      // Valid frames whose events carry data the schema refuses: dropped one by one.
      JSON.stringify({ type: 'events', repository: 'notes', events: [todoEvent('elsewhere', 4)] }),
      JSON.stringify({
        type: 'events',
        repository: 'todos',
        hasMore: true,
        events: [
          { ...todoEvent('long', 5), data: { id: 'long', title: 'x'.repeat(501), done: false } },
          { ...todoEvent('mismatch', 6), data: { id: 'other', title: 'x', done: false } },
          { ...todoEvent('typed', 6), data: { id: 'typed', title: 1, done: 'no' } },
          good,
        ],
      }),
    ];
    for (const frame of hostile) sendTo(socket, frame);
    socket.send(Buffer.from(JSON.stringify({ type: 'sync_complete' })), { binary: true });
    sendTo(socket, { type: 'events', repository: 'todos', events: [], hasMore: false });
    sendTo(socket, { type: 'sync_complete', repository: 'todos' });
    sendTo(socket, { type: 'events', repository: 'todos', events: [live] });
  });

  const c = await cores.open(server.url);
  await c.api.start();
  await waitFor(async () => (await c.api.get('todos', 'live')) !== undefined, 'the live event after the hostile frames');
  assert.deepEqual((await c.api.getAll('todos')).map((r) => r.id), ['good', 'live']);
  const dump = await dumpDatabase(c.databaseName);
  assert.deepEqual(dump['records']?.map((r) => r.key), [['todos', 'good'], ['todos', 'live']]);
  assert.deepEqual(cursorsOf(dump), [['todos', 8]]);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  const status = await c.api.status();
  assert.equal(status.authenticated, true);
  assert.equal(status.syncing, false);
  assert.equal(server.connections.length, 1, 'never dropped the connection');
  assert.ok(c.logger.warnings.length >= 20, `every bad frame and event is logged (${c.logger.warnings.length})`);
  assert.ok(c.logger.warnings.some((w) => w.includes('too_large')));
});

test('an event delivered twice changes nothing and notifies nobody the second time', async () => {
  const first = todoEvent('a', 1, 'first');
  const second = todoEvent('b', 2, 'second');
  const server = await fake((socket, message) => {
    if (message.type !== 'request_events') return;
    sendTo(socket, { type: 'events', repository: 'todos', events: [first], hasMore: false });
    sendTo(socket, { type: 'sync_complete', repository: 'todos' });
    sendTo(socket, { type: 'events', repository: 'todos', events: [first] });
    sendTo(socket, { type: 'events', repository: 'todos', events: [{ ...first, data: { id: 'a', title: 'forged', done: true } }] });
    sendTo(socket, { type: 'events', repository: 'todos', events: [second] });
  });
  const c = await cores.open(server.url);
  const tab = new RecordingTab();
  await c.tab('tab').attach(tab);
  await c.tab('tab').watch('todos');
  await c.api.start();
  // Frames are handled in order: a list from the repeated or forged event would precede b's.
  await waitFor(() => tab.lists.at(-1)?.records.some((r) => r.id === 'b'), 'the list with the second event');
  assert.deepEqual(tab.lists.map((l) => l.records.map((r) => r.id)), [[], ['a'], ['a', 'b']]);
  assert.equal((await c.api.get('todos', 'a'))?.['title'], 'first', 'an applied eventId is never applied again');
});

test('a broadcast during catch-up is applied but moves the cursor only at sync_complete', async () => {
  let catchUpSocket: WebSocket | undefined;
  const server = await fake((socket, message) => {
    if (message.type !== 'request_events') return;
    catchUpSocket = socket;
    sendTo(socket, { type: 'events', repository: 'todos', events: [todoEvent('broadcast', 100)] });
    sendTo(socket, { type: 'events', repository: 'todos', events: [todoEvent('page-1', 5)], hasMore: true });
  });
  const c = await cores.open(server.url);
  await c.api.start();
  await waitFor(async () => (await c.api.getAll('todos')).length === 2, 'the broadcast and the first page');
  assert.deepEqual(cursorsOf(await dumpDatabase(c.databaseName)), [['todos', 5]]);
  assert.equal((await c.api.status()).syncing, true);

  assert.ok(catchUpSocket);
  sendTo(catchUpSocket, { type: 'events', repository: 'todos', events: [todoEvent('page-2', 9)], hasMore: false });
  sendTo(catchUpSocket, { type: 'sync_complete', repository: 'todos' });
  await waitFor(async () => (await c.api.status()).lastSyncAt, 'the end of catch-up');
  assert.deepEqual(cursorsOf(await dumpDatabase(c.databaseName)), [['todos', 100]]);
});

test('catch-up pages that queue up behind a commit are stored together, at most 5000 events at a time', async () => {
  const pages = Array.from({ length: 8 }, (_, page) =>
    Array.from({ length: 1000 }, (_, i) => todoEvent(`p${page}-${String(i).padStart(4, '0')}`, page * 1000 + i + 1)),
  );
  const server = await fake((socket, message) => {
    if (message.type !== 'request_events') return;
    pages.forEach((events, i) => sendTo(socket, { type: 'events', repository: 'todos', events, hasMore: i < pages.length - 1 }));
    sendTo(socket, { type: 'sync_complete', repository: 'todos' });
  });
  const c = await cores.open(server.url);
  const tab = new RecordingTab();
  await c.tab('tab').attach(tab);
  await c.tab('tab').watch('todos');
  await c.api.start();
  await waitFor(async () => (await c.api.status()).lastSyncAt, 'the end of catch-up');

  // One list per transaction: the first page alone, the ones that arrived meanwhile together.
  const sizes = tab.lists.map((list) => list.records.length);
  const growth = sizes.slice(1).map((size, i) => size - sizes[i]!);
  assert.equal(sizes.at(-1), 8000);
  assert.ok(growth.length < pages.length, `8 pages took ${growth.length} transactions: ${growth.join(', ')}`);
  assert.ok(growth.every((n) => n <= 5000), `no transaction above 5000 events: ${growth.join(', ')}`);
  assert.deepEqual(cursorsOf(await dumpDatabase(c.databaseName)), [['todos', 8000]]);
  const progress = tab.statuses.flatMap((status) => (status.progress ? [status.progress.received] : []));
  assert.ok(progress.includes(8000), `progress counts every page: ${progress.join(', ')}`);
});

test('an unanswered ping drops the socket and reconnects; an answered one keeps it', async () => {
  const clock = new ManualClock();
  const silent = await fake(() => {});
  const quiet = await cores.open(silent.url, { heartbeatInterval: 50, clock });
  await quiet.api.start();
  await advanceUntil(clock, () => silent.connections.length >= 2, 'a reconnect after the missed pong');
  assert.ok(quiet.logger.warnings.some((w) => w.includes('ping')));

  const answering = await fake((socket, message) => {
    if (message.type === 'ping') sendTo(socket, { type: 'pong' });
  });
  const healthy = await cores.open(answering.url, { heartbeatInterval: 50, clock });
  await healthy.api.start();
  await waitFor(() => answering.connections.length === 1 && healthy.traffic.receivedOf('auth_success').length === 1, 'the healthy session');
  // 400 ms in heartbeat steps, each pong back before the next ping.
  for (let beat = 1; beat <= 8; beat++) {
    await clock.advance(50);
    await waitFor(() => healthy.traffic.receivedOf('pong').length === beat, `pong ${beat}`);
  }
  assert.ok(healthy.traffic.sentOf('ping').length >= 4);
  assert.equal(answering.connections.length, 1);
});

test("the server's ping is answered with pong", async () => {
  const pongs: ClientMessage[] = [];
  const server = await fake((socket, message) => {
    if (message.type === 'auth') sendTo(socket, { type: 'ping' });
    if (message.type === 'pong') pongs.push(message);
  });
  const c = await cores.open(server.url);
  await c.api.start();
  await waitFor(() => pongs.length === 1, 'a pong');
});

test('a push the server drops (rate_limited) is sent again on a new session and acknowledged once', async () => {
  const pushes: string[][] = [];
  const server = await pushServer((events) => {
    pushes.push(events.map((e) => e.eventId));
    return pushes.length === 1 ? { type: 'error', code: 'rate_limited', message: 'slow down' } : undefined;
  });
  const c = await cores.open(server.url);
  await c.api.upsert('todos', { id: 'a', title: 'a', done: false });
  await c.api.start();
  await settled(c, 'the push to be acknowledged');
  assert.equal(server.connections.length, 2);
  assert.equal(pushes.length, 2);
  assert.deepEqual(pushes[1], pushes[0], 'the same event, so the server can deduplicate it');
  assert.deepEqual((await dumpDatabase(c.databaseName))['outbox'], []);
});

test('a server that takes smaller frames: pushes fit in them, and a write none of them can carry is taken out of the outbox, loudly, instead of holding up the rest', async () => {
  const frames: { chars: number; ids: string[] }[] = [];
  const server = await pushServer((events, push) => {
    frames.push({ chars: JSON.stringify(push).length, ids: events.map((e) => e.dataId) });
    return undefined;
  }, { maxMessageBytes: 1024 });
  const c = await cores.open(server.url);
  // Written offline, under the default limits (this server's are not known yet): its event is
  // about 1.1 KB, which no frame of this server can carry.
  const big = { id: `big-${'x'.repeat(240)}`, title: 'y'.repeat(500), done: false };
  await c.api.upsert('todos', big);
  const small = Array.from({ length: 8 }, (_, i) => `s${i}`);
  for (const id of small) await c.api.upsert('todos', { id, title: `small ${id}`, done: false });
  await c.api.start();
  await settled(c, 'the outbox to drain');

  assert.deepEqual(frames.flatMap((f) => f.ids).sort(), small, 'every small write went, the big one did not');
  assert.ok(frames.length >= 2 && frames.every((f) => f.chars <= 1024), `frames within the cap: ${frames.map((f) => f.chars).join(', ')}`);
  const status = await c.api.status();
  assert.equal(status.lastError?.code, 'too_large');
  assert.match(status.lastError?.message ?? '', /big-x+ .*will not sync/);
  assert.ok(c.logger.warnings.some((w) => w.includes('larger than this server takes')));
  assert.deepEqual((await dumpDatabase(c.databaseName))['outbox'], []);
  assert.equal((await c.api.get('todos', big.id))?.['title'], big.title, 'the local copy stays');
  const [setAside, ...more] = (await c.api.diagnostics()).outbox.setAside;
  assert.deepEqual(more, []);
  assert.deepEqual({ ...setAside, reason: undefined, at: undefined }, { repository: 'todos', id: big.id, eventId: setAside?.eventId, code: 'too_large', reason: undefined, at: undefined });
  assert.match(setAside?.reason ?? '', /larger than this server takes/);

  // Now that the server's limit is known, such a write is refused when it is made.
  await assert.rejects(c.api.upsert('todos', { ...big, id: 'big-2' }), (error: { code?: string; message?: string }) =>
    error.code === 'invalid_record' && /at most 1024 bytes/.test(error.message ?? ''));
});

test('a push the server refuses for what it holds (error with eventIds) is set aside, loudly, and the writes after it go', async () => {
  const frames: string[][] = [];
  let refusedOnce = false;
  const server = await pushServer((events) => {
    frames.push(events.map((e) => e.dataId));
    // A server of another protocol version, say, that cannot read the first write.
    if (refusedOnce || !events.some((e) => e.dataId === 'poison')) return undefined;
    refusedOnce = true;
    return { type: 'error', code: 'invalid_message', message: 'event.operation: unknown', eventIds: events.map((e) => e.eventId) };
  });
  const c = await cores.open(server.url);
  await c.api.upsert('todos', { id: 'poison', title: 'refused', done: false });
  await c.api.start();
  await waitFor(async () => (await c.api.status()).lastError?.code === 'invalid_message', 'the refusal');
  await c.api.upsert('todos', { id: 'after', title: 'fine', done: false });
  await settled(c, 'the later write to be acknowledged');

  assert.deepEqual(frames, [['poison'], ['after']], 'the refused write was not sent again');
  assert.match((await c.api.status()).lastError?.message ?? '', /refused a write .*will not sync/);
  assert.deepEqual((await dumpDatabase(c.databaseName))['outbox'], []);
  assert.equal((await c.api.get('todos', 'poison'))?.['title'], 'refused', 'the local copy stays');
  assert.deepEqual((await c.api.diagnostics()).outbox.setAside.map(({ repository, id, code }) => ({ repository, id, code })), [
    { repository: 'todos', id: 'poison', code: 'invalid_message' },
  ]);
  assert.equal(server.connections.length, 1, 'no reconnect was needed');
});

test('an unauthenticated reply that crossed auth_failed on the wire does not hide why: lastError stays auth_failed, and sync resumes', async () => {
  let requests = 0;
  const server = await fake((socket, message) => {
    if (message.type !== 'request_events') return;
    if (++requests > 1) return sendTo(socket, { type: 'sync_complete', repository: message.repository });
    // The token expired while this request was on its way: the server's two replies, in order.
    sendTo(socket, { type: 'error', code: 'auth_failed', message: 'token expired: authenticate again' });
    sendTo(socket, { type: 'error', code: 'unauthenticated', message: 'authenticate first: send {"type":"auth"} before request_events' });
  });
  const c = await cores.open(server.url);
  const tab = new RecordingTab(() => ({ authToken: 'fresh' }));
  await c.tab('tab').attach(tab, { authToken: 'expiring' });
  await c.api.start();
  await settled(c, 'sync with the fresh token');
  assert.equal(tab.credentialRequests, 1);
  const status = await c.api.status();
  assert.equal(status.lastError?.code, 'auth_failed');
  assert.match(status.lastError?.message ?? '', /expired/);
});

test("an error code this worker does not know (a newer server's) still counts: the refused write is set aside as server_error", async () => {
  const server = await fake((socket, message) => {
    if (message.type === 'request_events') sendTo(socket, { type: 'sync_complete', repository: message.repository });
    if (message.type !== 'push_event' && message.type !== 'push_events_batch') return;
    const eventIds = message.type === 'push_event' ? [message.event.eventId] : message.events.map((e) => e.eventId);
    sendTo(socket, JSON.stringify({ type: 'error', code: 'a_code_of_tomorrow', message: 'not today', eventIds }));
  });
  const c = await cores.open(server.url);
  await c.api.upsert('todos', { id: 'a', title: 'a', done: false });
  await c.api.start();
  await waitFor(async () => (await c.api.status()).lastError?.code === 'server_error', 'the refusal');
  assert.deepEqual((await c.api.diagnostics()).outbox.setAside.map(({ id, code }) => ({ id, code })), [{ id: 'a', code: 'server_error' }]);
  assert.deepEqual((await dumpDatabase(c.databaseName))['outbox'], []);
});
