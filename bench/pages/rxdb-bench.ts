/**
 * The RxDB peer's bench page: RxDB 17 as its docs set it up in a browser, one RxDatabase per tab
 * (`multiInstance: true`: tabs share the IndexedDB database and RxDB's BroadcastChannel carries
 * each write to the other tabs; the elected leader tab replicates), on the free Dexie
 * (IndexedDB) storage, replicated with `replicateWithWebsocketServer` to bench/peers/rxdb-server.ts.
 * bench/peers/rxdb-peer.ts drives it as bench/run.ts drives bench.ts, with the same records.
 */
import { createRxDatabase, type RxCollection, type RxDatabase } from 'rxdb';
import { replicateWithWebsocketServer } from 'rxdb/plugins/replication-websocket';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import { todoSchema, type RxdbCollectionName, type Todo } from '../peers/rxdb-schema';
import { arrivalLog } from './rxdb-arrivals';
import { measureLongestStall, now } from './timing';
import { crossTabLatency, writeThroughput } from './write-scenarios';

const channel = new BroadcastChannel('rxdb-bench');
const arrivals = arrivalLog();
let opened: { database: RxDatabase; todos: RxCollection<Todo> } | undefined;

const todos = (): RxCollection<Todo> => {
  if (!opened) throw new Error('call connect first');
  return opened.todos;
};

/** This tab's RxDatabase on `name`'s collection, replicating with the server (leader tab only). */
async function open(serverUrl: string, name: RxdbCollectionName) {
  const database = await createRxDatabase({ name: `rxdb-bench-${name}`, storage: getRxStorageDexie(), multiInstance: true });
  const collections = await database.addCollections({ [name]: { schema: todoSchema } });
  const collection = collections[name] as RxCollection<Todo>;
  // RxDB's default batch size (100): 500 and 2,000 were no faster in quick runs.
  const replication = await replicateWithWebsocketServer<Todo, unknown>({ collection, url: serverUrl, replicationIdentifier: `rxdb-bench-${name}` });
  opened = { database, todos: collection };
  return replication;
}

const rxbench = {
  /** Opens this tab's database and records when each id first appears in its `find().$`
   *  subscription (every record, as the product's `watch`); the tab that `reports` tells the
   *  other tabs of its profile. */
  async connect(serverUrl: string, name: RxdbCollectionName, reports = false): Promise<void> {
    await open(serverUrl, name);
    await new Promise<void>((resolve) => {
      todos().find().$.subscribe((docs) => {
        const t = now();
        for (const doc of docs) if (arrivals.note(doc.id, t) && reports) channel.postMessage({ id: doc.id, t });
        resolve();
      });
    });
  },

  isLeader: (): boolean => opened?.database.isLeader() ?? false,

  arrivalOf: (id: string): Promise<number> => arrivals.arrivalOf(id),

  async timedUpsert(id: string): Promise<number> {
    const t0 = now();
    await todos().upsert({ id, title: id, done: false });
    return t0;
  },

  /** This tab writes one record at a time; another tab of this profile reports its subscription firing. */
  crossTab: (n: number) => crossTabLatency(channel, n, (record) => todos().upsert(record)),

  /** As the product's writes, each phase cut at `capMs`; then the same records as one bulkUpsert,
   *  RxDB's docs' way for many writes at once (skipped when the parallel writes were cut: they
   *  would still be running). */
  async writes(n: number, capMs: number) {
    const oneByOneAndParallel = await writeThroughput(n, (record) => todos().upsert(record), capMs);
    if (oneByOneAndParallel.completed.parallel < n) return { ...oneByOneAndParallel, bulkPerSec: NaN, capS: capMs / 1000 };
    const t0 = now();
    await todos().bulkUpsert(Array.from({ length: n }, (_, i) => ({ id: `bulk-${i}`, title: 'bulk', done: false })));
    return { ...oneByOneAndParallel, bulkPerSec: n / ((now() - t0) / 1000), capS: capMs / 1000 };
  },

  /** A fresh profile opens the page: time from navigation start until the initial replication is
   *  done and a query returns every record (RxDB's documented "initial sync done" signal). */
  async initialSync(serverUrl: string, name: RxdbCollectionName, records: number) {
    const { result, longestStallMs } = await measureLongestStall(async () => {
      const replication = await open(serverUrl, name);
      await replication.awaitInitialReplication();
      const all = await todos().find().exec();
      return { ms: now() - performance.timeOrigin, held: all.length };
    });
    return { ...result, longestStallMs, records };
  },
};

(globalThis as Record<string, unknown>)['rxbench'] = rxbench;

// `?server=<url>&sync=<collection>&records=<n>`: the initial sync starts while the page loads.
const startup = new URLSearchParams(location.search);
const syncName = startup.get('sync') as RxdbCollectionName | null;
if (syncName) (globalThis as Record<string, unknown>)['initialSyncResult'] = rxbench.initialSync(startup.get('server') ?? '', syncName, Number(startup.get('records')));
export type RxBench = typeof rxbench;
