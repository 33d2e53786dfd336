/** The IndexedDB storage's shortcuts: batch reads by key range, and the outbox read from memory. */
import 'fake-indexeddb/auto';
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { openDB } from 'idb';
import { Operation, type SyncEvent } from '../protocol/messages';
import { openIdbStorage } from '../worker/idb-store';
import { incomingWins } from '../worker/merge';
import type { RecordChange, RecordRow, SyncStorage } from '../worker/storage';
import { removeDatabase, uniqueDatabaseName } from './helpers/worker';

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

const row = (id: string, createdAt: string, title = id): RecordRow => ({
  repository: 'todos', id, data: { id, title }, deleted: false, createdAt, eventId: `${id}-${createdAt}`,
});
/** A remote event as the applier merges it: stored only when it wins. */
const remote = (incoming: RecordRow): RecordChange => ({
  repository: incoming.repository, id: incoming.id, decide: (current) => (incomingWins(current, incoming) ? { row: incoming } : undefined),
});
const local = (id: string, n: number): RecordChange => {
  const event: SyncEvent = { eventId: `e${n}`, dataId: id, operation: Operation.insert, createdAt: '2024-01-01T00:00:00.000Z', data: { id } };
  return { repository: 'todos', id, decide: () => ({ row: row(id, event.createdAt), push: event }) };
};

test('a batch in a dense repository still merges against every current row', async () => {
  const storage = await open();
  const ids = Array.from({ length: 40 }, (_, i) => `r${String(i).padStart(2, '0')}`);
  await storage.commit(ids.map((id) => remote(row(id, '2024-06-01T00:00:00.000Z'))));
  // Two records far apart: the bounded range read stops long before the second one.
  const older = [row('r00', '2024-01-01T00:00:00.000Z', 'old'), row('r39', '2024-01-01T00:00:00.000Z', 'old')];
  const written = await storage.commit([...older.map(remote), remote(row('s00', '2024-01-01T00:00:00.000Z'))]);
  assert.deepEqual(written.map((r) => r.id), ['s00'], 'older events lose to the stored rows, a new record is stored');
  assert.equal((await storage.getRecord('todos', 'r39'))?.data?.['title'], 'r39');
});

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
