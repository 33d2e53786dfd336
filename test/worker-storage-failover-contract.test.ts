/**
 * The storage contract on the storage the runtime's parts actually hold: ReplaceableStorage,
 * delegating to IndexedDB (fake-indexeddb) or to memory, and to a fresh database after a swap.
 */
import 'fake-indexeddb/auto';
import { afterEach } from 'node:test';
import { openIdbStorage } from '../worker/storage/idb-store';
import { MemoryStorage } from '../worker/storage/memory-store';
import { ReplaceableStorage } from '../worker/storage/replaceable-storage';
import type { SyncStorage } from '../worker/storage/storage';
import { removeDatabase, uniqueDatabaseName } from './helpers/worker';
import { storageContract } from './worker-storage-contract';

const opened: { storage: SyncStorage; name?: string }[] = [];

/** No database is taken away in the contract: a loss announced by the wrapper fails the call. */
const noLoss = (): void => {
  throw new Error('the wrapper announced a loss nobody caused');
};

async function idb(): Promise<SyncStorage> {
  const name = uniqueDatabaseName();
  const storage = await openIdbStorage(name);
  opened.push({ storage, name });
  return storage;
}

function wrap(inner: SyncStorage): ReplaceableStorage {
  const storage = new ReplaceableStorage(inner, noLoss);
  opened.push({ storage });
  return storage;
}

afterEach(async () => {
  for (const { storage, name } of opened.splice(0)) {
    storage.close();
    if (name !== undefined) await removeDatabase(name);
  }
});

storageContract('failover on IndexedDB', async () => wrap(await idb()));
storageContract('failover on memory', async () => wrap(new MemoryStorage()));
// After a failover: the first database let go of, the calls going to the fresh one.
storageContract('failover after a swap to IndexedDB', async () => {
  const storage = wrap(new MemoryStorage());
  storage.lose();
  storage.replace(await idb());
  return storage;
});
