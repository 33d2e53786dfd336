/**
 * The stall watchdog and idempotent retried writes, against a scripted server that takes pushes
 * and acknowledges them only when told to.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type WebSocket from 'ws';
import type { ClientMessage, SyncEvent } from '../protocol/messages';
import { advanceUntil } from './helpers/advance-until';
import { ManualClock } from './helpers/manual-clock';
import { dumpDatabase, type FakeServer, sendTo, settled, startFakeServer, TestCores, waitFor } from './helpers/worker';

const fakes: FakeServer[] = [];
const cores = new TestCores();

afterEach(async () => {
  await cores.closeAll();
  for (const f of fakes.splice(0)) await f.close();
});

/** A server that authenticates, answers catch-up with nothing, and records pushes without acking. */
async function silentServer(): Promise<FakeServer & { pushes: { socket: WebSocket; events: SyncEvent[] }[] }> {
  const pushes: { socket: WebSocket; events: SyncEvent[] }[] = [];
  const server = await startFakeServer((socket, message: ClientMessage) => {
    if (message.type === 'auth') sendTo(socket, { type: 'auth_success', principal: 'p', namespace: 'n', connectionId: 'c' });
    if (message.type === 'request_events') sendTo(socket, { type: 'sync_complete', repository: message.repository });
    if (message.type === 'push_event') pushes.push({ socket, events: [message.event] });
    if (message.type === 'push_events_batch') pushes.push({ socket, events: message.events });
  });
  fakes.push(server);
  return Object.assign(server, { pushes });
}

test('a write without an ack for stallAfter shows stalled, reconnects once, and clears after the ack', async () => {
  const server = await silentServer();
  const clock = new ManualClock();
  const c = await cores.open(server.url, { stallAfter: 300, clock });
  await c.api.start();
  await settled(c);
  const wroteAt = clock.now();
  await c.api.upsert('todos', { id: 'a', title: 'A', done: false });

  const stalled = await advanceUntil(clock, async () => {
    const status = await c.api.status();
    return status.stalled === true && status;
  }, 'the status to show stalled');
  const noticedAfter = clock.now() - wroteAt;
  assert.ok(noticedAfter >= 300, `stalled after ${noticedAfter} ms, before stallAfter`);
  assert.ok((stalled.stalledForMs ?? 0) >= 300);
  assert.equal(stalled.lastError?.code, 'stalled');

  // The watchdog reconnected, and the new session pushed the write again.
  await advanceUntil(clock, () => server.connections.length === 2 && server.pushes.length === 2, 'a reconnect that pushes again');
  assert.equal(server.pushes[1]?.socket, server.connections[1]);
  // Still no ack: still stalled on the new socket, and no second reconnect for the same stall.
  await clock.advance(900);
  const still = await c.api.status();
  assert.equal(still.stalled, true);
  assert.ok((still.stalledForMs ?? 0) >= 900);
  assert.equal(server.connections.length, 2);

  const last = server.pushes.at(-1)!;
  const eventIds = last.events.map((event) => event.eventId);
  sendTo(last.socket, { type: 'ack', eventIds, repositories: { todos: eventIds } });
  const cleared = await waitFor(async () => {
    const status = await c.api.status();
    return status.pending === 0 && status;
  }, 'the ack to empty the outbox');
  assert.equal(cleared.stalled, undefined);
  assert.equal(cleared.stalledForMs, undefined);
});

test('writes waiting while offline are not stalled the moment the socket authenticates', async () => {
  const server = await silentServer();
  const clock = new ManualClock();
  const c = await cores.open(server.url, { stallAfter: 400, clock });
  await c.api.upsert('todos', { id: 'offline', title: 'written before start', done: false });
  await clock.advance(600);
  await c.api.start();
  await waitFor(() => server.pushes.length === 1, 'the push');
  assert.notEqual((await c.api.status()).stalled, true);
  await advanceUntil(clock, async () => (await c.api.status()).stalled, 'stalled, counted from the session start');
});

test('a retried write whose eventId is already committed is not applied again', async () => {
  const server = await silentServer();
  const c = await cores.open(server.url);
  await c.api.upsert('todos', { id: 'x', title: 'first', done: false }, 'write-1');
  // The same write again: the record carries its eventId.
  await c.api.upsert('todos', { id: 'x', title: 'first', done: false }, 'write-1', true);
  await c.api.upsert('todos', { id: 'x', title: 'second', done: false }, 'write-2');
  // Retried after a later write replaced the record: its eventId is still in the outbox.
  await c.api.upsert('todos', { id: 'x', title: 'first', done: false }, 'write-1', true);
  await c.api.delete('todos', 'x', 'write-2', true);

  assert.equal((await c.api.get('todos', 'x'))?.['title'], 'second');
  const dump = await dumpDatabase(c.databaseName);
  const outboxIds = (dump['outbox'] ?? []).map(({ value }) => (value as { event: SyncEvent }).event.eventId);
  assert.deepEqual(outboxIds, ['write-1', 'write-2']);
  assert.equal((await c.api.status()).pending, 2);

  await assert.rejects(c.api.upsert('todos', { id: 'y', title: 'y', done: false }, 'not a valid id!'), { code: 'invalid_record' });
});
