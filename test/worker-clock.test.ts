/**
 * The worker core's timers on a manual clock, against scripted servers on loopback: the reconnect
 * backoff, the heartbeat and its pong timeout, the stall watchdog and the idle disconnect. Time
 * moves only by `clock.advance`; the sockets and IndexedDB run for real (waitFor polls them).
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type WebSocket from 'ws';
import type { ClientMessage, SyncEvent } from '../protocol/messages';
import { ManualClock } from './helpers/manual-clock';
import { type FakeServer, RecordingTab, sendTo, startFakeServer, TestCores, waitFor } from './helpers/worker';

const fakes: FakeServer[] = [];
const cores = new TestCores();

afterEach(async () => {
  await cores.closeAll();
  for (const f of fakes.splice(0)) await f.close();
});

/** Authenticates, has nothing to catch up on, records pushes and pings; answers pings when asked to. */
async function server(answerPings = false): Promise<FakeServer & { pushes: { socket: WebSocket; events: SyncEvent[] }[]; pings: number }> {
  const pushes: { socket: WebSocket; events: SyncEvent[] }[] = [];
  const state = Object.assign({ pings: 0 }, { pushes });
  const started = await startFakeServer((socket, message: ClientMessage) => {
    if (message.type === 'auth') sendTo(socket, { type: 'auth_success', principal: 'p', namespace: 'n', connectionId: 'c' });
    if (message.type === 'request_events') sendTo(socket, { type: 'sync_complete', repository: message.repository });
    if (message.type === 'push_event') pushes.push({ socket, events: [message.event] });
    if (message.type === 'push_events_batch') pushes.push({ socket, events: message.events });
    if (message.type === 'ping') {
      state.pings++;
      if (answerPings) sendTo(socket, { type: 'pong' });
    }
  });
  fakes.push(started);
  return Object.assign(state, started);
}

test('reconnect delays double from reconnectDelay with jitter up to maxReconnectDelay, and nothing connects before', async () => {
  const clock = new ManualClock();
  // Nothing listens on port 1: every attempt fails at once.
  const c = await cores.open('ws://127.0.0.1:1/sync', { clock, reconnectDelay: 1000, maxReconnectDelay: 4000 });
  await c.api.start();
  const ceilings = [1000, 2000, 4000, 4000];
  for (const [attempt, ceiling] of ceilings.entries()) {
    const { reconnectAt } = await waitFor(async () => (await c.api.diagnostics()).connection.reconnectAt !== undefined && (await c.api.diagnostics()).connection, `attempt ${attempt + 1} to fail`);
    // The delay has a fraction of a millisecond that reconnectAt (ISO-8601) leaves out.
    const delay = Date.parse(reconnectAt ?? '') - clock.now();
    assert.ok(delay >= ceiling / 2 && delay <= ceiling, `attempt ${attempt + 1} waits ${delay} ms, not within [${ceiling / 2}, ${ceiling}]`);
    await clock.advance(delay - 1);
    assert.equal(c.traffic.sockets, attempt + 1, 'no socket before the delay is over');
    await clock.advance(2);
    assert.equal(c.traffic.sockets, attempt + 2, 'a socket once it is over');
  }
});

test('a ping goes out every heartbeatInterval; one unanswered for pongTimeout drops the socket, an answered one keeps it', async () => {
  const clock = new ManualClock();
  const silent = await server();
  const quiet = await cores.open(silent.url, { clock, heartbeatInterval: 30_000, pongTimeout: 10_000 });
  await quiet.api.start();
  await waitFor(async () => (await quiet.api.status()).authenticated, 'the session');
  await clock.advance(29_999);
  assert.equal(quiet.traffic.sentOf('ping').length, 0);
  await clock.advance(1);
  await waitFor(() => silent.pings === 1, 'the ping');
  await clock.advance(9_999);
  assert.equal((await quiet.api.status()).connected, true, 'still connected before pongTimeout');
  await clock.advance(1);
  const status = await quiet.api.status();
  assert.equal(status.connected, false);
  assert.equal(status.lastError?.code, 'heartbeat_timeout');
  assert.equal((await quiet.api.diagnostics()).connection.state, 'retrying');

  const answering = await server(true);
  const healthy = await cores.open(answering.url, { clock, heartbeatInterval: 30_000, pongTimeout: 10_000 });
  await healthy.api.start();
  await waitFor(async () => (await healthy.api.status()).authenticated, 'the healthy session');
  for (let ping = 1; ping <= 4; ping++) {
    await clock.advance(30_000);
    await waitFor(() => answering.pings === ping && healthy.traffic.receivedOf('pong').length === ping, `pong ${ping}`);
  }
  assert.equal(answering.connections.length, 1);
  assert.equal((await healthy.api.status()).connected, true);
});

test('a write without an ack for stallAfter shows stalled, reconnects once per stall, and clears after the ack', async () => {
  const clock = new ManualClock();
  const silent = await server(true);
  const c = await cores.open(silent.url, { clock, stallAfter: 30_000 });
  await c.api.start();
  await waitFor(async () => (await c.api.status()).lastSyncAt !== undefined, 'the catch-up');
  await c.api.upsert('todos', { id: 'a', title: 'A', done: false });
  await waitFor(() => silent.pushes.length === 1, 'the push');
  await clock.advance(29_000);
  assert.equal((await c.api.status()).stalled, undefined, 'not stalled before stallAfter');
  await clock.advance(1_000);
  const stalled = await c.api.status();
  assert.equal(stalled.stalled, true);
  assert.equal(stalled.stalledForMs, 30_000);
  assert.equal(stalled.lastError?.code, 'stalled');
  // The reconnect waits out the first backoff step (openTestCore's reconnectDelay, at most 50 ms).
  await clock.advance(50);
  await waitFor(() => silent.connections.length === 2 && silent.pushes.length === 2, 'a reconnect that pushes again');
  await clock.advance(120_000);
  assert.equal((await c.api.status()).stalled, true, 'still stalled on the new socket');
  assert.equal(silent.connections.length, 2, 'one reconnect per stall');
  const last = silent.pushes.at(-1)!;
  const eventIds = last.events.map((event) => event.eventId);
  sendTo(last.socket, { type: 'ack', eventIds, repositories: { todos: eventIds } });
  const cleared = await waitFor(async () => (await c.api.status()).pending === 0 && (await c.api.status()), 'the ack');
  assert.equal(cleared.stalled, undefined);
});

test('a SharedWorker left without tabs closes its socket after idleDisconnectDelay, and a tab opens it again', async () => {
  const clock = new ManualClock();
  const live = await server(true);
  const c = await cores.open(live.url, { clock, idleDisconnectDelay: 10_000 });
  await c.tab('tab-1').attach(new RecordingTab());
  await c.api.start();
  await waitFor(async () => (await c.api.status()).authenticated, 'the session');
  await c.tab('tab-1').detach();
  await clock.advance(9_999);
  assert.equal((await c.api.status()).connected, true, 'still connected during the grace period');
  await clock.advance(1);
  assert.equal((await c.api.diagnostics()).connection.state, 'standby');
  assert.equal((await c.api.status()).connected, false);
  await c.tab('tab-2').attach(new RecordingTab());
  await waitFor(() => live.connections.length === 2, 'a new socket for the new tab');
  await waitFor(async () => (await c.api.status()).authenticated, 'its session');
});
