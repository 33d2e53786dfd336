/**
 * Data per namespace: credentials of another namespace move the core to that namespace's
 * database (records, outbox, cursors), the previous one keeps its unsent writes for when its
 * credentials come back, and the last active namespace is the one a restarted core opens.
 * The real server with two static tokens (and a scripted one where the order of frames matters),
 * fake-indexeddb.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type WebSocket from 'ws';
import type { ClientMessage, SyncEvent } from '../protocol/messages';
import { databaseOf, named } from '../worker/runtime/namespaces';
import { authed, type AuthedClient } from './helpers/client';
import { TestServers, type TestServer } from './helpers/server';
import { dumpDatabase, type FakeServer, leaderAndFollower, RecordingTab, sendTo, settled, startFakeServer, TestCores, waitFor } from './helpers/worker';

const servers = new TestServers();
const cores = new TestCores();
const clients: AuthedClient[] = [];
const fakes: FakeServer[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await cores.closeAll();
  await servers.stopAll();
  for (const f of fakes.splice(0)) await f.close();
});

const todo = (id: string) => ({ id, title: id, done: false });
const ids = (records: { id: string }[]) => records.map((r) => r.id).sort();
const lastList = (tab: RecordingTab) => ids(tab.lists.at(-1)?.records ?? []);

/** What the server stored in a namespace, by record id. */
async function storedIds(s: TestServer, namespace: string): Promise<string[]> {
  return (await s.store.readLog(namespace, 0, 1000)).map(({ event }) => event.dataId).sort();
}

/** Another device of the token's user writes a record. */
async function pushAs(s: TestServer, token: string, id: string): Promise<void> {
  const other = await authed(s.syncUrl, token);
  clients.push(other);
  other.send({ type: 'push_event', repository: 'todos', event: { eventId: id, dataId: id, operation: 0, createdAt: new Date().toISOString(), data: todo(id) } });
  await other.next('ack');
}

/** A core whose tab watches the todos, synced as `token`'s user. */
async function watchingAs(s: TestServer, token: string) {
  const core = await cores.open(s.syncUrl);
  const tab = new RecordingTab();
  await core.tab('tab').attach(tab, { authToken: token });
  await core.tab('tab').watch('todos');
  await core.api.start();
  await settled(core);
  return { core, tab };
}

function twoNamespaces(): Promise<TestServer> {
  return servers.start({ authTokens: new Map([['token-a', 'alice'], ['token-b', 'bob']]) });
}

test('the first namespace named adopts the base database; every other one gets its own, and coming back finds it', () => {
  const first = named({}, 'alice');
  assert.deepEqual(first, { state: { active: 'alice', adopted: 'alice' }, moves: false });
  assert.equal(databaseOf('tabsync', first.state, 'alice'), 'tabsync');
  const second = named(first.state, 'bob');
  assert.deepEqual(second, { state: { active: 'bob', adopted: 'alice' }, moves: true });
  assert.equal(databaseOf('tabsync', second.state, 'bob'), 'tabsync#bob');
  const back = named(second.state, 'alice');
  assert.equal(back.moves, true);
  assert.equal(databaseOf('tabsync', back.state, back.state.active), 'tabsync');
  assert.equal(named(back.state, 'alice').moves, false);
  assert.equal(databaseOf('tabsync', {}, undefined), 'tabsync', 'before any namespace: the base database');
});

test('another namespace\'s credentials switch records, outbox and cursor; the old unsent write waits for its own credentials', async () => {
  const s = await twoNamespaces();
  await pushAs(s, 'token-b', 'bob-1');
  await pushAs(s, 'token-a', 'alice-0');

  const { core, tab } = await watchingAs(s, 'token-a');
  await core.api.upsert('todos', todo('alice-1'));
  await settled(core, 'alice-1 to be acked');
  const asAlice = await core.api.diagnostics();
  assert.equal(asAlice.storage.namespace, 'alice');
  assert.equal(asAlice.connection.namespace, 'alice');
  assert.ok((asAlice.repositories['todos']?.cursor ?? 0) > 0);

  // Alice writes offline, then Bob logs in on this device.
  await core.api.stop();
  await core.api.upsert('todos', todo('alice-offline'));
  await core.api.updateCredentials({ authToken: 'token-b' });
  const requestsBefore = core.traffic.sentOf('request_events').length;
  await core.api.start();
  await waitFor(async () => (await core.api.diagnostics()).storage.namespace === 'bob' && lastList(tab).join() === 'bob-1', 'the tab to show bob\'s records');
  await settled(core, 'bob\'s catch-up');
  const asBob = await core.api.diagnostics();
  assert.equal(asBob.storage.database, `${core.databaseName}#bob`);
  assert.equal(asBob.outbox.pending, 0, 'alice\'s write is not bob\'s');
  assert.deepEqual(ids(await core.api.getAll('todos')), ['bob-1']);
  // Bob's catch-up starts from bob's own cursor (none yet), not alice's.
  assert.deepEqual(core.traffic.sentOf('request_events').slice(requestsBefore).map((m) => m.afterSequence), [0]);
  assert.deepEqual(await storedIds(s, 'bob'), ['bob-1'], 'nothing of alice\'s pushed into bob\'s namespace');
  await core.api.upsert('todos', todo('bob-2'));
  await settled(core, 'bob-2 to be acked');

  // Alice back: her records, and her offline write delivered into her namespace.
  await core.api.updateCredentials({ authToken: 'token-a' });
  await waitFor(async () => (await storedIds(s, 'alice')).includes('alice-offline'), 'alice\'s offline write to reach her namespace');
  await settled(core);
  assert.deepEqual(ids(await core.api.getAll('todos')), ['alice-0', 'alice-1', 'alice-offline']);
  assert.deepEqual(lastList(tab), ['alice-0', 'alice-1', 'alice-offline']);
  assert.deepEqual(await storedIds(s, 'bob'), ['bob-1', 'bob-2']);
  assert.equal((await core.api.diagnostics()).storage.database, core.databaseName, 'alice keeps the base database she adopted');
});

test('a core that starts offline opens the namespace last active, and its writes go to that namespace', async () => {
  const s = await twoNamespaces();
  const first = await cores.open(s.syncUrl);
  await first.tab('tab').attach(new RecordingTab(), { authToken: 'token-b' });
  await first.api.start();
  await settled(first);
  await first.api.upsert('todos', todo('bob-online'));
  await settled(first);
  await first.close();

  const { port } = s;
  await servers.stopAll();
  const offline = await cores.open(`ws://127.0.0.1:${port}/sync`, { databaseName: first.databaseName });
  assert.deepEqual(ids(await offline.api.getAll('todos')), ['bob-online']);
  assert.equal((await offline.api.diagnostics()).storage.namespace, 'bob');
  await offline.api.upsert('todos', todo('bob-offline'));
  await offline.close();

  // A fresh server on the same port: what reaches it came from the outbox.
  const again = await servers.start({ port, authTokens: new Map([['token-a', 'alice'], ['token-b', 'bob']]) });
  const back = await cores.open(again.syncUrl, { databaseName: first.databaseName });
  await back.tab('tab').attach(new RecordingTab(), { authToken: 'token-b' });
  await back.api.start();
  await settled(back);
  assert.deepEqual(await storedIds(again, 'bob'), ['bob-offline']);
  assert.deepEqual(await storedIds(again, 'alice'), []);
});

test('a write made while credentials change in place is kept for the namespace it was made in', async () => {
  // The server answers bob's auth only when told: whatever the core sends meanwhile would be bob's.
  const pushesAs: { token: string | undefined; events: SyncEvent[] }[] = [];
  let token: string | undefined;
  let answerBob = () => {};
  const server = await startFakeServer((socket: WebSocket, message: ClientMessage) => {
    if (message.type === 'auth') {
      token = message.token;
      const success = () => sendTo(socket, { type: 'auth_success', principal: String(message.token), namespace: message.token === 'token-b' ? 'bob' : 'alice', connectionId: 'c' });
      if (message.token === 'token-b') answerBob = success;
      else success();
    }
    if (message.type === 'request_events') sendTo(socket, { type: 'sync_complete', repository: message.repository });
    if (message.type === 'push_event' || message.type === 'push_events_batch') {
      const events = message.type === 'push_event' ? [message.event] : message.events;
      pushesAs.push({ token, events });
      const eventIds = events.map((e) => e.eventId);
      sendTo(socket, { type: 'ack', eventIds, repositories: { todos: eventIds } });
    }
  });
  fakes.push(server);
  const core = await cores.open(server.url);
  await core.tab('tab').attach(new RecordingTab(), { authToken: 'token-a' });
  await core.api.start();
  await settled(core);

  await core.api.updateCredentials({ authToken: 'token-b' });
  await core.api.upsert('todos', todo('at-the-switch'));
  answerBob();
  await waitFor(async () => (await core.api.diagnostics()).storage.namespace === 'bob', 'the move to bob');
  await settled(core);
  assert.deepEqual(pushesAs.filter((push) => push.token === 'token-b'), [], 'nothing pushed as bob');
  const alices = await dumpDatabase(core.databaseName);
  assert.deepEqual(alices['outbox']?.map(({ value }) => (value as { event: SyncEvent }).event.dataId), ['at-the-switch']);
});

test('clearLocalData removes the shown namespace\'s records, unsent writes and cursors, or another namespace\'s database', async () => {
  const s = await twoNamespaces();
  const { core, tab } = await watchingAs(s, 'token-a');
  await core.api.upsert('todos', todo('alice-synced'));
  await settled(core);
  await core.api.stop();
  await core.api.upsert('todos', todo('alice-unsent'));

  await core.api.clearLocalData();
  assert.deepEqual(await core.api.getAll('todos'), []);
  assert.deepEqual(lastList(tab), [], 'the watcher got the empty list');
  const cleared = await core.api.diagnostics();
  assert.equal(cleared.outbox.pending, 0);
  assert.equal(cleared.repositories['todos']?.cursor, 0);
  // Started again, the session catches up from the start: what the server has comes back.
  await core.api.start();
  await settled(core);
  assert.deepEqual(ids(await core.api.getAll('todos')), ['alice-synced']);
  assert.deepEqual(await storedIds(s, 'alice'), ['alice-synced'], 'the unsent write was never sent');

  // Bob's data, then alice clears it by name from her session.
  await core.api.updateCredentials({ authToken: 'token-b' });
  await waitFor(async () => (await core.api.diagnostics()).storage.namespace === 'bob', 'the move to bob');
  await core.api.stop();
  await core.api.upsert('todos', todo('bob-unsent'));
  await core.api.updateCredentials({ authToken: 'token-a' });
  await core.api.start();
  await waitFor(async () => (await core.api.diagnostics()).storage.namespace === 'alice', 'the move back to alice');
  await core.api.clearLocalData('bob');
  assert.ok(!(await indexedDB.databases()).some((info) => info.name === `${core.databaseName}#bob`), 'bob\'s database is gone');
  await core.api.updateCredentials({ authToken: 'token-b' });
  await waitFor(async () => (await core.api.diagnostics()).storage.namespace === 'bob', 'the move to bob again');
  await settled(core);
  assert.deepEqual(await core.api.getAll('todos'), []);
  assert.deepEqual(await storedIds(s, 'bob'), []);
});

test('without SharedWorker, the followers move with the leader: their tabs show the new namespace, their writes go into it', async () => {
  const s = await twoNamespaces();
  await pushAs(s, 'token-b', 'bob-1');
  const { leader, follower } = await leaderAndFollower(cores, s.syncUrl);
  const followerTab = new RecordingTab();
  await follower.tab('follower-tab').attach(followerTab, { authToken: 'token-a' });
  await follower.tab('follower-tab').watch('todos');
  await leader.tab('leader-tab').attach(new RecordingTab(), { authToken: 'token-a' });
  await follower.api.start();
  await settled(leader);
  await follower.api.upsert('todos', todo('alice-1'));
  await waitFor(async () => (await storedIds(s, 'alice')).includes('alice-1'), 'the leader to push the follower\'s write');

  // Bob logs in from the follower's tab: the leader's session moves, and the follower with it.
  await follower.api.updateCredentials({ authToken: 'token-b' });
  await waitFor(async () => (await follower.api.diagnostics()).storage.namespace === 'bob' && lastList(followerTab).join() === 'bob-1', 'the follower to show bob\'s records');
  await follower.api.upsert('todos', todo('bob-2'));
  await waitFor(async () => (await storedIds(s, 'bob')).includes('bob-2'), 'the follower\'s write to reach bob\'s namespace');
  assert.deepEqual(await storedIds(s, 'alice'), ['alice-1']);
  assert.equal(follower.traffic.sockets, 0);
});

test('data cleared through a follower: the leader\'s live session starts over from the start, so no event is skipped', async () => {
  const s = await twoNamespaces();
  const { leader, follower } = await leaderAndFollower(cores, s.syncUrl);
  await follower.tab('follower-tab').attach(new RecordingTab(), { authToken: 'token-a' });
  await leader.tab('leader-tab').attach(new RecordingTab(), { authToken: 'token-a' });
  await follower.api.start();
  await settled(leader);
  await pushAs(s, 'token-a', 'before');
  await waitFor(async () => (await leader.api.get('todos', 'before')) !== undefined, 'the leader to receive it');

  await follower.api.clearLocalData();
  // The leader's cursor went with the data: its session catches up again, and `before` comes back.
  await waitFor(async () => (await follower.api.get('todos', 'before')) !== undefined, 'the re-sync after the clear');
  await pushAs(s, 'token-a', 'after');
  await waitFor(async () => (await follower.api.get('todos', 'after')) !== undefined, 'a later event');
  assert.ok(leader.traffic.sockets >= 2, 'the leader started a new session');
});
