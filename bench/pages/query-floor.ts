/**
 * The floor of the query and batch scenarios: bare IndexedDB with a `rank` index. A write is one
 * put in one transaction, then one BroadcastChannel message; the watching tab answers it with one
 * read of the window's 50 records along the index.
 */
import { channel, inChunks, itemOf, reportEntries, RANK_HIGH, RANK_LOW, timeEntering, WINDOW, type Item } from './items';
import { now } from './timing';

let opened: Promise<IDBDatabase> | undefined;
const open = () =>
  (opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open('bench-floor-items', 1);
    request.onupgradeneeded = () => {
      for (const name of ['items', 'batch']) request.result.createObjectStore(name, { keyPath: 'id' }).createIndex('rank', 'rank');
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  }));

async function putAll(store: string, records: readonly Item[]): Promise<void> {
  const tx = (await open()).transaction(store, 'readwrite');
  for (const record of records) tx.objectStore(store).put(record);
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
}

async function readWindow(): Promise<Item[]> {
  const request = (await open()).transaction('items').objectStore('items').index('rank').getAll(IDBKeyRange.bound(RANK_LOW, RANK_HIGH, false, true), WINDOW);
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result as Item[]);
    request.onerror = () => reject(request.error);
  });
}

export const queryFloor = {
  async seedFloor(count: number): Promise<number> {
    const t0 = now();
    await inChunks(count, 10_000, 1, (chunk) => putAll('items', chunk));
    return now() - t0;
  },

  /** The watching tab: reads the window once, then again at every write the other tab announces. */
  async watchFloor(): Promise<number> {
    const report = reportEntries();
    const t0 = now();
    channel.addEventListener('message', (e: MessageEvent<{ floorWrite?: string }>) => {
      if (e.data.floorWrite !== undefined) void readWindow().then(report);
    });
    report(await readWindow());
    return now() - t0;
  },

  enterFloor: (n: number) =>
    timeEntering(n, async (item) => {
      await putAll('items', [item]);
      channel.postMessage({ floorWrite: item.id });
    }),

  async putFloor(count: number): Promise<number> {
    const records = Array.from({ length: count }, (_, i) => itemOf(i, 'batch'));
    const t0 = now();
    await putAll('batch', records);
    return now() - t0;
  },
};
