/** The worker core against the real server: outbox delivery, catch-up by cursor, merge, auth. */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { nanoid } from 'nanoid';
import type { SyncEvent } from '../protocol/messages';
import { MAX_BATCH_EVENTS } from '../protocol/limits';
import { authed, type AuthedClient } from './helpers/client';
import { startTestServer, TestServers } from './helpers/server';
import { dumpDatabase, RecordingTab, settled, TestCores, waitFor } from './helpers/worker';
import { ManualClock } from './helpers/manual-clock';

const servers = new TestServers();
const cores = new TestCores();
const clients: AuthedClient[] = [];

async function client(url: string, token?: string): Promise<AuthedClient> {
  const connected = await authed(url, token);
  clients.push(connected);
  return connected;
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await cores.closeAll();
  await servers.stopAll();
});

function todoEvent(id: string, title: string, createdAt = new Date().toISOString()): SyncEvent {
  return { eventId: nanoid(), dataId: id, operation: 0, createdAt, data: { id, title, done: false } };
}

/** Pushes events as another device would, in batches, and waits for every ack. */
async function push(from: AuthedClient, events: SyncEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 500) {
    from.send({ type: 'push_events_batch', repository: 'todos', events: events.slice(i, i + 500) });
    await from.next('ack');
  }
}

test('a write made while the server is down is delivered, once, by the next worker on the same database', async () => {
  const down = await startTestServer();
  const { port } = down;
  await down.stop();
  const url = `ws://127.0.0.1:${port}/sync`;

  const first = await cores.open(url);
  await first.api.start();
  await first.api.upsert('todos', { id: 'offline', title: 'written offline', done: false });
  await waitFor(() => first.traffic.sockets >= 2, 'a second connection attempt');
  assert.equal((await first.api.status()).pending, 1);
  await first.close();

  const up = await servers.start({ port });
  const second = await cores.open(url, { databaseName: first.databaseName });
  await second.api.start();
  await settled(second, 'the outbox to drain');
  const log = await up.store.readLog('default', 0, 100);
  assert.deepEqual(log.map((e) => [e.repository, e.event.dataId, e.event.data]), [
    ['todos', 'offline', { id: 'offline', title: 'written offline', done: false }],
  ]);
  assert.deepEqual((await dumpDatabase(first.databaseName))['outbox'], []);
});

test('catch-up pages through everything, keeps its cursor, and later asks only for newer events', async () => {
  const s = await servers.start();
  const other = await client(s.syncUrl);
  const ids = Array.from({ length: 1200 }, (_, i) => `t${String(i).padStart(4, '0')}`);
  await push(other, ids.map((id) => todoEvent(id, id)));

  const first = await cores.open(s.syncUrl);
  const tab = new RecordingTab();
  await first.tab('tab').attach(tab);
  await first.api.start();
  await settled(first, 'the first catch-up');
  const progress = tab.statuses.flatMap((status) => (status.syncing && status.progress ? [status.progress] : []));
  assert.ok(progress.some((p) => p.repository === 'todos' && p.received >= 500), `catch-up progress reaches the tabs: ${JSON.stringify(progress)}`);
  await waitFor(() => tab.statuses.at(-1)?.lastSyncAt, 'the final status');
  assert.equal(tab.statuses.at(-1)?.progress, undefined);
  assert.deepEqual((await first.api.getAll('todos')).map((r) => r.id), ids);
  assert.ok(first.traffic.receivedOf('events').length >= 3, 'more than one page');
  const cursor = await s.store.maxSequence('default');
  assert.deepEqual((await dumpDatabase(first.databaseName))['cursors'], [{ key: 'todos', value: cursor }]);
  await first.close();

  await push(other, [todoEvent('t0000', 'changed'), todoEvent('late', 'late')]);
  const second = await cores.open(s.syncUrl, { databaseName: first.databaseName });
  await second.api.start();
  await settled(second, 'the second catch-up');
  assert.deepEqual(second.traffic.sentOf('request_events'), [{ type: 'request_events', repository: 'todos', afterSequence: cursor }]);
  const received = second.traffic.receivedOf('events').flatMap((m) => m.events.map((e) => e.dataId));
  assert.deepEqual(received.sort(), ['late', 't0000']);
  const all = await second.api.getAll('todos');
  assert.equal(all.length, 1201);
  assert.equal(all.find((r) => r.id === 't0000')?.title, 'changed');
});

test('an older event arriving after a newer one loses, here and in the server compaction', async () => {
  const s = await servers.start();
  const c = await cores.open(s.syncUrl);
  await c.api.start();
  await settled(c);
  const other = await client(s.syncUrl);
  const newer = todoEvent('r', 'newer', '2030-01-01T00:00:00.010Z');
  const older = todoEvent('r', 'older', '2030-01-01T00:00:00.000Z');
  await push(other, [newer]);
  await push(other, [older]);
  // Its cursor moves in the transaction that applied (or refused) it.
  const last = await s.store.maxSequence('default');
  await waitFor(async () => (await c.api.diagnostics()).repositories['todos']?.cursor === last, 'the older event to be handled');
  assert.equal((await c.api.get('todos', 'r'))?.['title'], 'newer');

  // A local edit is stamped after the winner it replaces, even with a clock years behind it.
  await c.api.upsert('todos', { id: 'r', title: 'mine', done: true });
  await settled(c);
  const page = await s.store.readCompacted('default', 'todos', { afterSequence: 0, limit: 10 });
  assert.deepEqual(page.events.map((e) => e.data?.['title']), ['mine']);
});

test('live events from another device reach watchers as one list per batch', async () => {
  const s = await servers.start();
  const c = await cores.open(s.syncUrl);
  const tab = new RecordingTab();
  await c.tab('tab').attach(tab);
  await c.tab('tab').watch('todos');
  await c.api.start();
  await settled(c);
  const other = await client(s.syncUrl);
  await push(other, Array.from({ length: 300 }, (_, i) => todoEvent(`live${i}`, `live ${i}`)));
  // Frames are handled in order, so a list for part of the batch would have come before this one.
  await waitFor(() => tab.lists.at(-1)?.records.length === 300, 'the 300 records');
  assert.equal(tab.lists.length, 2, 'the initial list and one for the batch');
  // After catch-up, live events advance the cursor.
  assert.deepEqual((await dumpDatabase(c.databaseName))['cursors'], [{ key: 'todos', value: await s.store.maxSequence('default') }]);
});

test('a record the schema refuses is stored neither locally nor on the server', async () => {
  const s = await servers.start();
  const c = await cores.open(s.syncUrl);
  await c.api.start();
  await settled(c);
  await assert.rejects(c.api.upsert('todos', { id: 'bad', title: 'x'.repeat(501), done: false }), { code: 'invalid_record' });
  await c.api.upsert('todos', { id: 'good', title: 'fine', done: false });
  await settled(c);
  assert.deepEqual((await s.store.readLog('default', 0, 10)).map((e) => e.event.dataId), ['good']);
  assert.deepEqual((await c.api.getAll('todos')).map((r) => r.id), ['good']);
});

test('credentials are never written to IndexedDB', async () => {
  const token = 'secret-token-0123456789';
  const s = await servers.start({ authTokens: new Map([[token, 'team']]) });
  const c = await cores.open(s.syncUrl);
  await c.tab('tab').attach(new RecordingTab(), { authToken: token, headers: { 'x-api-key': 'header-secret-987' } });
  await c.api.upsert('todos', { id: 'a', title: 'a', done: false });
  await c.api.start();
  await settled(c);
  assert.equal((await s.store.readLog('team', 0, 10)).length, 1);
  const dump = await dumpDatabase(c.databaseName);
  assert.deepEqual(Object.keys(dump).sort(), ['cursors', 'outbox', 'records']);
  const everything = JSON.stringify(dump);
  assert.ok(everything.includes('"todos"'), 'the dump holds the data');
  assert.ok(!everything.includes(token), 'no token');
  assert.ok(!everything.includes('header-secret-987'), 'no header');
});

test('updateCredentials re-authenticates in place, on the same connection', async () => {
  const s = await servers.start({ authTokens: new Map([['first-token', 'team'], ['second-token', 'team']]) });
  const c = await cores.open(s.syncUrl);
  await c.api.updateCredentials({ authToken: 'first-token' });
  await c.api.start();
  await settled(c);
  await c.api.updateCredentials({ authToken: 'second-token' });
  await waitFor(() => c.traffic.receivedOf('auth_success').length === 2, 'the second auth_success');
  const [before, after] = c.traffic.receivedOf('auth_success');
  assert.ok(before?.connectionId);
  assert.equal(after?.connectionId, before.connectionId);
  assert.equal(c.traffic.sockets, 1);
  assert.deepEqual(c.traffic.sentOf('auth').map((m) => m.token), ['first-token', 'second-token']);

  const other = await client(s.syncUrl, 'first-token');
  await push(other, [todoEvent('after', 'after re-auth')]);
  await waitFor(async () => (await c.api.get('todos', 'after')) !== undefined, 'a live event after re-auth');
});

test('auth_failed asks a tab for credentials, and sync resumes with them', async () => {
  const s = await servers.start({ authTokens: new Map([['good-token', 'team']]) });
  const c = await cores.open(s.syncUrl);
  const silent = new RecordingTab();
  const helpful = new RecordingTab(() => ({ authToken: 'good-token' }));
  await c.tab('silent').attach(silent, { authToken: 'expired-token' });
  await c.tab('helpful').attach(helpful);
  await c.api.upsert('todos', { id: 'queued', title: 'queued before auth', done: false });
  await c.api.start();
  await settled(c, 'sync with the new credentials');
  assert.equal(silent.credentialRequests, 1, 'asked first, offered nothing');
  assert.equal(helpful.credentialRequests, 1);
  assert.equal(c.traffic.sockets, 1, 'retried on the same socket');
  assert.deepEqual((await s.store.readLog('team', 0, 10)).map((e) => e.event.dataId), ['queued']);
  await waitFor(() => helpful.statuses.at(-1)?.authenticated, 'the status pushed to tabs');
});

test('with no credentials offered the worker waits, without a reconnect loop, for updateCredentials', async () => {
  const s = await servers.start({ authTokens: new Map([['good-token', 'team']]) });
  const clock = new ManualClock();
  const c = await cores.open(s.syncUrl, { clock });
  const tab = new RecordingTab();
  await c.tab('tab').attach(tab, { authToken: 'wrong-token' });
  await c.api.start();
  await waitFor(async () => (await c.api.status()).unauthorized, 'unauthorized');
  const status = await c.api.status();
  assert.equal(status.connected, false);
  assert.equal(status.lastError?.code, 'auth_failed');
  await clock.advance(300); // several reconnect delays
  assert.equal(c.traffic.sockets, 1);

  await c.api.updateCredentials({ authToken: 'good-token' });
  await settled(c, 'sync after updateCredentials');
  assert.equal((await c.api.status()).unauthorized, false);
  assert.equal(tab.credentialRequests, 1);
});

test('stop closes the connection and writes keep working offline until start', async () => {
  const s = await servers.start();
  const clock = new ManualClock();
  const c = await cores.open(s.syncUrl, { clock });
  await c.api.start();
  await settled(c);
  await c.api.stop();
  const stopped = await c.api.status();
  assert.equal(stopped.started, false);
  assert.equal(stopped.connected, false);
  await c.api.upsert('todos', { id: 'while-stopped', title: 'x', done: false });
  await clock.advance(150);
  assert.equal(c.traffic.sockets, 1, 'no reconnect while stopped');
  assert.equal((await c.api.status()).pending, 1);
  await c.api.start();
  await settled(c);
  assert.deepEqual((await s.store.readLog('default', 0, 10)).map((e) => e.event.dataId), ['while-stopped']);
});

test('a backlog goes out in batches of at most MAX_BATCH_EVENTS, each acknowledged and removed', async () => {
  const s = await servers.start();
  const c = await cores.open(s.syncUrl);
  const ids = Array.from({ length: 1200 }, (_, i) => `b${String(i).padStart(4, '0')}`);
  await Promise.all(ids.map((id) => c.api.upsert('todos', { id, title: id, done: false })));
  await c.api.start();
  await settled(c, 'the backlog to drain');
  const batches = c.traffic.sentOf('push_events_batch');
  assert.deepEqual(batches.map((b) => b.events.length), [MAX_BATCH_EVENTS, MAX_BATCH_EVENTS, 1200 - 2 * MAX_BATCH_EVENTS]);
  assert.equal(c.traffic.sentOf('push_event').length, 0);
  assert.deepEqual(batches.flatMap((b) => b.events.map((e) => e.dataId)), ids, 'in write order');
  assert.equal((await s.store.readLog('default', 0, 2000)).length, 1200);
  assert.deepEqual((await dumpDatabase(c.databaseName))['outbox'], []);
});
