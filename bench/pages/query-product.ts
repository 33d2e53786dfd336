/** tabsync's side of the query and batch scenarios, through the real facade and worker. */
import { connect } from '../../src';
import { inChunks, reportEntries, RANK_HIGH, RANK_LOW, timeEntering, WINDOW, type Item } from './items';
import { now } from './timing';

type Client = ReturnType<typeof connect>;
let client: Client | undefined;

function product(): Client {
  if (!client) throw new Error('call connectItems first');
  return client;
}
const items = () => product().repository<Item>('items');
/** upsertMany's cap (protocol/limits.ts MAX_BATCH_EVENTS): a larger batch is several of them. */
const BATCH_MAX = 500;

export const productQuery = {
  connectItems(authToken: string): void {
    client = connect({ worker: '/bench/query-worker.js', authToken });
  },

  /** Stores `count` records with upsertMany, 500 a call, 4 calls at a time; ms until all are durable. */
  async seedItems(count: number): Promise<number> {
    const t0 = now();
    await inChunks(count, BATCH_MAX, 4, (chunk) => items().upsertMany(chunk));
    return now() - t0;
  },

  /** Until the server acknowledged every write of this profile. */
  async synced(): Promise<void> {
    while ((await product().status()).pending > 0) await new Promise((r) => setTimeout(r, 50));
  },

  /** Watches the window; resolves with the ms until its first callback. */
  watchItems(): Promise<number> {
    const report = reportEntries();
    const t0 = now();
    return new Promise((resolve) => {
      items().query({ where: { rank: { gte: RANK_LOW, lt: RANK_HIGH } }, orderBy: { rank: 'asc' }, limit: WINDOW }).watch((records) => {
        report(records);
        resolve(now() - t0);
      });
    });
  },

  enterItems: (n: number) => timeEntering(n, (item) => items().upsert(item)),

  /** `count` upserts as upsertMany calls of 500, all at once: when they started, ms until all were durable. */
  async batchItems(count: number): Promise<{ t0: number; durableMs: number }> {
    const t0 = now();
    await inChunks(count, BATCH_MAX, Math.ceil(count / BATCH_MAX), (chunk) => items().upsertMany(chunk), 'batch');
    return { t0, durableMs: now() - t0 };
  },

  /** In the other profile: the moment its count of the repository first reaches `count`. */
  countReaches(count: number): Promise<number> {
    return new Promise((resolve) => {
      items().query().watchCount((n) => {
        if (n >= count) resolve(now());
      });
    });
  },

  /** How the worker answers the window (diagnostics). */
  async plans(): Promise<string[]> {
    return (await product().diagnostics()).queries.map((q) => `${q.kind}: ${q.plan}`);
  },
};
