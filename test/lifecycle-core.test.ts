/**
 * The worker core's lifecycle where the browser adds nothing: a socket that never opens, the
 * grace period after the last tab, leader and follower runtimes sharing one database, and a
 * newer schema version taking the database over.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, test } from 'node:test';
import { TestServers } from './helpers/server';
import { leaderAndFollower, RecordingTab, settled, TestCores, uniqueDatabaseName, waitFor } from './helpers/worker';

const servers = new TestServers();
const cores = new TestCores();
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await cores.closeAll();
  await servers.stopAll();
});

/** A tab that also counts the version-change notices it gets. */
class VersionedTab extends RecordingTab {
  versionChanges = 0;
  versionChanged(): void {
    this.versionChanges++;
  }
}

test('a socket that never finishes opening is given up after connectTimeout, and another is tried', async () => {
  // Accepts TCP connections and never answers the WebSocket handshake.
  const held: Socket[] = [];
  const silent: Server = createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of held) socket.destroy();
    return new Promise<void>((resolve) => silent.close(() => resolve()));
  });
  const { port } = silent.address() as { port: number };
  const c = await cores.open(`ws://127.0.0.1:${port}/sync`, { connectTimeout: 150, reconnectDelay: 20, maxReconnectDelay: 40 });
  await c.api.start();
  await waitFor(() => c.traffic.sockets >= 2, 'a second socket after the first timed out');
  const status = await c.api.status();
  assert.equal(status.connected, false);
  assert.equal(status.lastError?.code, 'connection_failed');
  assert.match(status.lastError?.message ?? '', /no answer/);
  assert.ok((await c.api.diagnostics()).connection.reconnects >= 1);
});

test('after the last tab goes the socket closes once the grace period ends, and the next tab reopens it', async () => {
  const s = await servers.start();
  const c = await cores.open(s.syncUrl, { idleDisconnectDelay: 100 });
  await c.tab('tab-1').attach(new RecordingTab());
  await c.api.start();
  await settled(c);
  await c.tab('tab-1').detach();
  await waitFor(async () => !(await c.api.status()).connected, 'the socket to close');
  const idle = await c.api.diagnostics();
  assert.equal(idle.connection.state, 'standby');
  assert.deepEqual(idle.tabs, []);

  await c.tab('tab-2').attach(new RecordingTab());
  await settled(c, 'sync with the next tab');
  assert.equal(c.traffic.sockets, 2);
});

test('a follower writes through the shared database, only the leader connects, and the follower leads once the leader closes', async () => {
  const s = await servers.start();
  const { leader, follower } = await leaderAndFollower(cores, s.syncUrl);
  const followerTab = new RecordingTab();
  await follower.tab('follower-tab').attach(followerTab);
  await leader.tab('leader-tab').attach(new RecordingTab());
  await leader.tab('leader-tab').watch('todos');
  await follower.api.start();
  await settled(leader, 'the leader to connect (started by the follower)');
  assert.equal((await follower.api.diagnostics()).worker.mode, 'follower');
  assert.equal((await leader.api.diagnostics()).worker.mode, 'leader');

  await follower.api.upsert('todos', { id: 'a', title: 'from the follower', done: false });
  await waitFor(async () => (await s.store.readLog('default', 0, 10)).length === 1, 'the leader to push the follower write');
  await waitFor(async () => (await follower.api.status()).pending === 0 && (await follower.api.status()).authenticated, 'the follower to show the leader status');
  assert.equal(follower.traffic.sockets, 0);
  assert.equal(leader.traffic.sockets, 1);

  await leader.close();
  await follower.lead();
  await settled(follower, 'the new leader to connect');
  assert.equal(follower.traffic.sockets, 1);
  assert.equal((await follower.api.diagnostics()).worker.mode, 'leader');
  assert.ok(followerTab.statuses.some((status) => status.authenticated));
});

test('a newer schema version makes the old runtime close, tell its tabs and let go; the new one keeps the data', async () => {
  const s = await servers.start();
  const databaseName = uniqueDatabaseName();
  let retired = 0;
  const old = await cores.open(s.syncUrl, { databaseName, onRetired: () => retired++ });
  const tab = new VersionedTab();
  await old.tab('tab').attach(tab);
  await old.api.upsert('todos', { id: 'a', title: 'kept across versions', done: false });

  const next = await cores.open(s.syncUrl, { databaseName, schemaVersion: 2 });
  await waitFor(() => retired === 1, 'the old runtime to retire');
  assert.equal(tab.versionChanges, 1);
  await assert.rejects(old.api.upsert('todos', { id: 'b', title: 'too late', done: false }), { code: 'closed' });
  assert.equal((await old.api.diagnostics()).connection.state, 'closed');
  assert.deepEqual(await next.api.getAll('todos'), [{ id: 'a', title: 'kept across versions', done: false }]);
  assert.equal((await next.api.diagnostics()).worker.schemaVersion, 2);
});
