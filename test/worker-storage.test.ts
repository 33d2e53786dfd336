/** The IndexedDB storage's shortcuts: batch reads by key range, and the outbox read from memory. */
import 'fake-indexeddb/auto';
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { openDB } from 'idb';
import { openIdbStorage } from '../worker/storage/idb-store';
import type { SyncStorage } from '../worker/storage/storage';
import { removeDatabase, uniqueDatabaseName } from './helpers/worker';
import { local, storageContract } from './worker-storage-contract';

const opened: { storage: SyncStorage; name: string }[] = [];

async function open(name = uniqueDatabaseName()): Promise<SyncStorage> {
  const storage = await openIdbStorage(name);
  opened.push({ storage, name });
  return storage;
}

afterEach(async () => {
  for (const { storage, name } of opened.splice(0)) {
    storage.close();
    await removeDatabase(name);
  }
});

storageContract('IndexedDB', () => open());

test('the outbox is read back from memory only while its keys directly follow', async () => {
  const name = uniqueDatabaseName();
  const storage = await open(name);
  await storage.commit([local('a', 1), local('b', 2)]);
  assert.deepEqual((await storage.readOutbox(0, 10)).map((e) => [e.key, e.event.eventId]), [[1, 'e1'], [2, 'e2']]);

  // Another writer of the same database (a dedicated worker of another tab) queues key 3.
  const other = await openDB(name);
  await other.add('outbox', { repository: 'todos', event: { eventId: 'e3', dataId: 'c', operation: 0, createdAt: '2024-01-01T00:00:00.000Z' } });
  other.close();
  await storage.commit([local('d', 4)]);
  assert.deepEqual((await storage.readOutbox(2, 10)).map((e) => e.event.eventId), ['e3', 'e4'], 'the gap sends the reader to IndexedDB');

  await storage.removeOutbox([1, 2]);
  assert.deepEqual((await storage.readOutbox(0, 10)).map((e) => e.event.eventId), ['e3', 'e4'], 'a new session reads what is left');
  assert.equal(await storage.outboxSize(), 2);
});
