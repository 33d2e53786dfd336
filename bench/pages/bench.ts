/**
 * The benchmark's page: the product through the real facade and demo worker, and the floors
 * (the bare platform doing the same physical work). bench/run.ts drives it with page.evaluate.
 */
import { connect } from '../../src';
import { measureLongestStall, nextMessage, now, summary } from './timing';
import { crossTabLatency, writesAtOnce, writesOneByOne } from './write-scenarios';

type Todo = { id: string; title: string; done: boolean };
type Client = ReturnType<typeof connect>;

const channel = new BroadcastChannel('bench');
let client: Client | undefined;
const arrivals = new Map<string, number>();
const waiters = new Map<string, (t: number) => void>();

function product(): Client {
  if (!client) throw new Error('call connectProduct first');
  return client;
}
const todos = () => product().repository<Todo>('todos');

const bench = {
  /** Connects this tab to the shared worker and records when each record id first appears;
   *  the one tab that `reports` tells the other tabs of its profile. */
  async connectProduct(authToken: string, reports = false): Promise<void> {
    client = connect({ worker: '/sync-worker.js', authToken });
    await new Promise<void>((resolve) => {
      todos().watch((records) => {
        const t = now();
        for (const r of records) {
          if (arrivals.has(r.id)) continue;
          arrivals.set(r.id, t);
          waiters.get(r.id)?.(t);
          if (reports) channel.postMessage({ id: r.id, t });
        }
        resolve();
      });
    });
  },

  /** When `id` first appeared in this tab's watch callback. */
  async arrivalOf(id: string): Promise<number> {
    const seen = arrivals.get(id);
    if (seen !== undefined) return seen;
    return new Promise((resolve) => waiters.set(id, resolve));
  },

  /** Starts an upsert and returns the moment it started. */
  async timedUpsert(id: string): Promise<number> {
    const t0 = now();
    await todos().upsert({ id, title: id, done: false });
    return t0;
  },

  /** Tab A writes one record at a time; another tab of this profile reports its watch firing. */
  crossTab: (n: number) => crossTabLatency(channel, n, (record) => todos().upsert(record)),

  /** Floor: postMessage to a bare SharedWorker, one IndexedDB transaction there, postMessage on.
   *  The tab that `reports` tells the sender when its message came; the others only receive. */
  joinFloorCrossTab(reports = true): void {
    const worker = new SharedWorker('/bench/floor-shared-worker.js', { name: 'bench-floor' });
    worker.port.onmessage = (e: MessageEvent<{ i: number; t0: number }>) => {
      if (reports) channel.postMessage({ floor: e.data.i, t: now() - e.data.t0 });
    };
  },

  async floorCrossTab(n: number) {
    const worker = new SharedWorker('/bench/floor-shared-worker.js', { name: 'bench-floor' });
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const seen = nextMessage<{ floor: number; t: number }>(channel, (d) => d.floor === i);
      worker.port.postMessage({ i, t0: now() });
      samples.push((await seen).t);
    }
    worker.port.close();
    return summary(samples);
  },

  async floorWorker(request: { kind: 'remote'; echoUrl: string; n: number } | { kind: 'initialSync'; echoUrl: string; records: number }) {
    const worker = new Worker('/bench/floor-worker.js');
    const result = await new Promise<unknown>((resolve) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.postMessage(request);
    });
    worker.terminate();
    return Array.isArray(result) ? summary(result as number[]) : { ms: result as number };
  },

  /** Floors of the writes, writes per second: `n` writes posted to a bare worker that stores each
   *  as a record and an outbox entry and answers it once committed; awaited one by one (so each
   *  commits in its own transaction), then `n` at once (committed in groups). */
  async floorWrites(n: number): Promise<{ sequentialPerSec: number; concurrentPerSec: number }> {
    const worker = new Worker('/bench/floor-worker.js');
    const answers = new Map<number, () => void>();
    worker.onmessage = (e: MessageEvent<{ written?: number }>) => {
      if (e.data.written !== undefined) answers.get(e.data.written)?.();
    };
    const write = (i: number, title: string) =>
      new Promise<void>((resolve) => {
        answers.set(i, resolve);
        worker.postMessage({ kind: 'write', i, record: { id: `floor-${i}`, title, done: false } });
      });
    const t0 = now();
    for (let i = 0; i < n; i++) await write(i, 'sequential');
    const t1 = now();
    await Promise.all(Array.from({ length: n }, (_, i) => write(n + i, 'parallel')));
    const t2 = now();
    worker.terminate();
    return { sequentialPerSec: n / ((t1 - t0) / 1000), concurrentPerSec: n / ((t2 - t1) / 1000) };
  },

  /** A fresh profile opens the page: time from navigation start until the watch holds them all. */
  async initialSync(authToken: string, records: number) {
    const tasks = longTasks();
    const { result, longestStallMs } = await measureLongestStall(async () => {
      client = connect({ worker: '/sync-worker.js', authToken });
      await new Promise<void>((resolve) => {
        todos().watch((all) => { if (all.length >= records) resolve(); });
      });
      return now() - performance.timeOrigin;
    });
    const longestTaskMs = tasks.longestUntilNow();
    const status = await product().status();
    // What the writer keeps in memory so its commits need no read (issue #19: bounded, reported).
    const known = (await product().diagnostics()).storage.knownVersions;
    return { ms: result, longestStallMs, longestTaskMs, held: (await todos().getAll()).length, lastSyncAt: status.lastSyncAt, knownVersions: known };
  },

  writesOneByOne: (n: number) => writesOneByOne(n, (record) => todos().upsert(record)),
  writesAtOnce: (n: number) => writesAtOnce(n, (record) => todos().upsert(record)),
};

/** The page's own tasks of 50 ms or more (the long-task API): a stall without one is the page
 *  waiting for a core, not running our code. */
function longTasks() {
  const durations: [start: number, ms: number][] = [];
  const observer = new PerformanceObserver((list) => { for (const task of list.getEntries()) durations.push([task.startTime, task.duration]); });
  observer.observe({ type: 'longtask', buffered: true });
  return {
    /** The longest that began until now (0: none of 50 ms or more). */
    longestUntilNow(): number {
      const until = performance.now();
      for (const task of observer.takeRecords()) durations.push([task.startTime, task.duration]);
      observer.disconnect();
      return Math.max(0, ...durations.filter(([start]) => start < until).map(([, ms]) => ms));
    },
  };
}

(globalThis as Record<string, unknown>)['bench'] = bench;

// `?sync=<token>&records=<n>`: the initial sync starts while the page loads, as an app's would,
// not once the harness gets round to calling it (its round trip is not the product's time).
const startup = new URLSearchParams(location.search);
const syncToken = startup.get('sync');
if (syncToken) (globalThis as Record<string, unknown>)['initialSyncResult'] = bench.initialSync(syncToken, Number(startup.get('records')));
export type Bench = typeof bench;
