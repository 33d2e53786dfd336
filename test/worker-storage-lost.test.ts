/**
 * The database taken away under a running core (deleted from another connection, or closed by
 * the browser): the core lets go, opens a fresh one, re-syncs it from the server and loses no
 * write it still knows. A real server on loopback, fake-indexeddb for IndexedDB.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { forceCloseDatabase } from 'fake-indexeddb';
import { deleteDB } from 'idb';
import { TestServers, type TestServer } from './helpers/server';
import { RecordingTab, settled, TestCores, waitFor } from './helpers/worker';

const servers = new TestServers();
const cores = new TestCores();

afterEach(async () => {
  await cores.closeAll();
  await servers.stopAll();
});

/** How often the server stored an event for each record id. */
async function storedTimes(s: TestServer): Promise<Map<string, number>> {
  const times = new Map<string, number>();
  for (const { event } of await s.store.readLog('default', 0, 1000)) times.set(event.dataId, (times.get(event.dataId) ?? 0) + 1);
  return times;
}

const todo = (id: string) => ({ id, title: id, done: false });
const lastList = (tab: RecordingTab) => tab.lists.at(-1)?.records.map((r) => r.id).sort() ?? [];

test('a database deleted under a running core: storage_lost, a fresh one re-synced from 0, the unsent write sent once', async () => {
  const s = await servers.start();
  const a = await cores.open(s.syncUrl);
  const b = await cores.open(s.syncUrl);
  const tab = new RecordingTab();
  await a.tab('tab').attach(tab);
  await a.tab('tab').watch('todos');
  await Promise.all([a.api.start(), b.api.start()]);
  await settled(a);
  await b.api.upsert('todos', todo('from-b'));
  await waitFor(async () => (await a.api.get('todos', 'from-b')) !== undefined, 'a to receive from-b');
  const before = await a.api.diagnostics();
  assert.ok((before.repositories['todos']?.cursor ?? 0) > 0);

  // A write that waits in the outbox (sync stopped), then the database goes.
  await a.api.stop();
  await a.api.upsert('todos', todo('unsent'));
  assert.equal((await a.api.status()).pending, 1);
  const listsBefore = tab.lists.length;
  await deleteDB(a.databaseName); // resolves once a let go of its connection

  const lost = await waitFor(async () => {
    const status = await a.api.status();
    return status.lastError?.code === 'storage_lost' && /queued again/.test(status.lastError.message) && status;
  }, 'the status to report the loss');
  assert.match(lost.lastError?.message ?? '', /deleted.*1 unsent writes queued again/);
  assert.ok(a.logger.warnings.some((w) => /re-syncing from the server/.test(w)));
  // The fresh database holds the re-queued write and no cursor: the watcher got that as a reset.
  const fresh = await a.api.diagnostics();
  assert.equal(fresh.storage.losses, 1);
  assert.equal(fresh.storage.mode, 'indexeddb');
  assert.equal(fresh.repositories['todos']?.cursor, 0);
  assert.equal(fresh.outbox.pending, 1);
  assert.ok(tab.lists.slice(listsBefore).some((list) => list.records.map((r) => r.id).join() === 'unsent'), 'a reset of the fresh database');

  await a.api.start();
  await settled(a, 'the re-sync');
  assert.deepEqual(lastList(tab), ['from-b', 'unsent'], 'the catch-up refilled the watcher');
  assert.deepEqual((await a.api.getAll('todos')).map((r) => r.id), ['from-b', 'unsent']);
  assert.ok(((await a.api.diagnostics()).repositories['todos']?.cursor ?? 0) > 0);
  await waitFor(async () => (await b.api.get('todos', 'unsent')) !== undefined, 'b to receive the re-queued write');
  assert.deepEqual(Object.fromEntries(await storedTimes(s)), { 'from-b': 1, unsent: 1 });

  // New writes work both ways.
  await a.api.upsert('todos', todo('after'));
  await waitFor(async () => (await b.api.get('todos', 'after')) !== undefined, 'b to receive a write made after the loss');
  await b.api.upsert('todos', todo('after-b'));
  await waitFor(async () => (await a.api.get('todos', 'after-b')) !== undefined, 'a to receive b write after the loss');
});

test('a database the browser force-closes: the core opens it again and goes on; a write made at that moment is stored once', async () => {
  const s = await servers.start();
  // The seam tells which connections the core opened, so the test can force one closed.
  const connections: IDBDatabase[] = [];
  const factory = {
    open(name: string, version?: number) {
      const request = indexedDB.open(name, version);
      // The registry of namespaces (opened for a read or write at a time) is not the data's.
      if (!name.endsWith('-namespaces')) request.addEventListener('success', () => connections.push(request.result));
      return request;
    },
  } as IDBFactory;
  const a = await cores.open(s.syncUrl, { indexedDB: factory });
  const b = await cores.open(s.syncUrl);
  await Promise.all([a.api.start(), b.api.start()]);
  await settled(a);
  await settled(b);
  assert.equal(connections.length, 1);

  const writing = a.api.upsert('todos', todo('at-the-close'));
  // fake-indexeddb's types ask for the class where it takes a connection.
  forceCloseDatabase(connections[0] as unknown as Parameters<typeof forceCloseDatabase>[0]);
  await writing;
  await waitFor(async () => (await a.api.status()).lastError?.code === 'storage_lost' && connections.length === 2, 'a fresh connection');
  assert.match((await a.api.status()).lastError?.message ?? '', /closed the database/);
  await settled(a, 'the re-sync after the close');
  await waitFor(async () => (await b.api.get('todos', 'at-the-close')) !== undefined, 'b to receive the write');
  await a.api.upsert('todos', todo('after'));
  await waitFor(async () => (await b.api.get('todos', 'after')) !== undefined, 'b to receive a write made after the close');
  assert.deepEqual(Object.fromEntries(await storedTimes(s)), { 'at-the-close': 1, after: 1 });
  assert.equal((await a.api.diagnostics()).storage.losses, 1);
});
