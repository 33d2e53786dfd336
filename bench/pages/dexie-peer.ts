/**
 * Dexie's side of the query and batch scenarios (dexie 4 from npm, a devDependency): the same
 * records in a table indexed by `rank`, the same window as a `liveQuery`, the same writes. Dexie
 * runs in each tab on IndexedDB and tells the other tabs of a write itself; it has no server.
 */
import Dexie, { liveQuery, type Table } from 'dexie';
import { inChunks, itemOf, reportEntries, RANK_HIGH, RANK_LOW, timeEntering, WINDOW, type Item } from './items';
import { now } from './timing';

class PeerDatabase extends Dexie {
  items!: Table<Item, string>;
  batch!: Table<Item, string>;

  constructor() {
    super('bench-dexie');
    this.version(1).stores({ items: 'id, rank', batch: 'id, rank' });
  }
}
let database: PeerDatabase | undefined;
const db = () => (database ??= new PeerDatabase());

export const dexiePeer = {
  /** Stores `count` records with bulkPut, 10,000 a call, one at a time; ms until all are durable. */
  async seedDexie(count: number): Promise<number> {
    const t0 = now();
    await inChunks(count, 10_000, 1, (chunk) => db().items.bulkPut(chunk));
    return now() - t0;
  },

  /** Watches the window with liveQuery; resolves with the ms until its first result. */
  watchDexie(): Promise<number> {
    const report = reportEntries();
    const t0 = now();
    return new Promise((resolve) => {
      liveQuery(() => db().items.where('rank').between(RANK_LOW, RANK_HIGH).limit(WINDOW).toArray()).subscribe({
        next: (records) => {
          report(records);
          resolve(now() - t0);
        },
        error: (error: unknown) => console.error(error),
      });
    });
  },

  enterDexie: (n: number) => timeEntering(n, (item) => db().items.put(item)),

  /** `count` records with one bulkPut in one transaction; ms until it committed. */
  async bulkPutDexie(count: number): Promise<number> {
    const records = Array.from({ length: count }, (_, i) => itemOf(i, 'batch'));
    const t0 = now();
    await db().transaction('rw', db().batch, () => db().batch.bulkPut(records));
    return now() - t0;
  },
};
