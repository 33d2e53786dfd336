/**
 * No IndexedDB: an open that never answers, or throws, leaves the core in memory, where it syncs
 * all the same. A real server on loopback; the other core keeps its data in fake-indexeddb.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { TestServers } from './helpers/server';
import { grantingStorage } from './helpers/storage-manager';
import { RecordingTab, settled, TestCores, waitFor } from './helpers/worker';

const servers = new TestServers();
const cores = new TestCores();

afterEach(async () => {
  await cores.closeAll();
  await servers.stopAll();
});

/** An IndexedDB whose open() returns a request that never fires (as in some private windows). */
const hanging = { open: () => ({}) as IDBOpenDBRequest } as unknown as IDBFactory;
/** One whose open() throws (as where storage is disabled). */
const throwing = {
  open: () => {
    throw new DOMException('The user denied permission to access the database.', 'SecurityError');
  },
} as unknown as IDBFactory;

for (const [kind, factory, reason] of [['never answers', hanging, /did not open within 300 ms/], ['throws', throwing, /denied permission/]] as const) {
  test(`an IndexedDB that ${kind}: the core keeps its data in memory, says so, and syncs`, async () => {
    const s = await servers.start();
    const openedAt = Date.now();
    const a = await cores.open(s.syncUrl, { indexedDB: factory, storageOpenTimeout: 300, storageManager: grantingStorage });
    assert.ok(Date.now() - openedAt < 3000, 'open did not wait for the default timeout');
    const b = await cores.open(s.syncUrl);
    const tab = new RecordingTab();
    await a.tab('tab').attach(tab);
    const status = await a.api.status();
    assert.equal(status.storage, 'memory');
    assert.ok(a.logger.warnings.some((w) => reason.test(w) && /in memory/.test(w)), a.logger.warnings.join('\n'));
    const diagnostics = await a.api.diagnostics();
    assert.equal(diagnostics.storage.mode, 'memory');
    assert.equal(diagnostics.storage.persisted, false);
    assert.equal(tab.persistRequests, 0, 'nothing to persist in memory');
    assert.equal((await b.api.status()).storage, 'indexeddb');

    await a.tab('tab').watch('todos');
    await Promise.all([a.api.start(), b.api.start()]);
    await settled(a);
    await a.api.upsert('todos', { id: 'from-memory', title: 'm', done: false });
    await waitFor(async () => (await b.api.get('todos', 'from-memory')) !== undefined, 'b to receive the write kept in memory');
    await b.api.upsert('todos', { id: 'from-idb', title: 'i', done: false });
    await waitFor(() => tab.lists.at(-1)?.records.some((r) => r.id === 'from-idb'), 'a watcher to see b write');
    await settled(a, 'a to settle with the ack');
    assert.equal((await s.store.readLog('default', 0, 10)).length, 2);
  });
}
