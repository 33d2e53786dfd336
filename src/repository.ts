import type { StoredRecord } from '../protocol/tab-api';
import type { WorkerCall } from './calls';
import type { QueueWrite } from './queued-writes';
import { createQuery, type Query, type QueryOptions, type QueryWatches } from './query';
import type { RecordsCallback, Watchers } from './watchers';

/** Anything with a string `id` can be stored. */
export type Identified = { id: string };

/** One repository (a named collection of records) as a tab sees it. */
export interface Repository<T extends Identified> {
  readonly name: string;
  /** Inserts or replaces a record; resolves once it is durable in IndexedDB (it syncs afterwards). */
  upsert(record: T): Promise<void>;
  delete(id: string): Promise<void>;
  get(id: string): Promise<T | undefined>;
  /** Every record, sorted by id. */
  getAll(): Promise<T[]>;
  // One-repository batches and partial updates: the worker validates, merges and commits.
  /** Stores all the records or none (at most 500, each id once): one IndexedDB transaction, one
   *  change for other tabs and devices, one push the server stores whole. Rejects with
   *  `invalid_record` naming the first bad record, `too_large` beyond one push frame. */
  upsertMany(records: readonly T[]): Promise<void>;
  /** Deletes all the ids or none, as `upsertMany` stores. */
  deleteMany(ids: readonly string[]): Promise<void>;
  /** Merges `fields` into the stored record (top-level fields) and validates the result;
   *  `not_found` when there is no such record. A field given as `undefined` is refused. */
  patch(id: string, fields: Partial<Omit<T, 'id'>>): Promise<void>;
  /** Calls back with every record at once, then after each change from any tab or device. Returns the unsubscribe. */
  watch(callback: (records: readonly T[]) => void): () => void;
  /** A query the worker evaluates (docs/queries.md): its window, its count, live or once. */
  query(options?: QueryOptions<T>): Query<T>;
}

export function createRepository<T extends Identified>(name: string, call: WorkerCall, write: QueueWrite, watchers: Watchers, queries: QueryWatches): Repository<T> {
  return {
    name,
    // Each write's own eventId: a retry on a new worker cannot apply it twice.
    // Upserts and deletes of one task go in one message (queued-writes.ts).
    upsert: (record, eventId = randomId()) => write(['upsert', name, record as T & StoredRecord, eventId]),
    delete: (id, eventId = randomId()) => write(['delete', name, id, eventId]),
    upsertMany: (records, eventId = randomId()) => call((api, retried) => api.upsertMany(name, records as unknown as StoredRecord[], eventId, retried)),
    deleteMany: (ids, eventId = randomId()) => call((api, retried) => api.deleteMany(name, ids, eventId, retried)),
    patch: (id, fields, eventId = randomId()) => call((api, retried) => api.patch(name, id, fields, eventId, retried)),
    get: (id) => call((api) => api.get(name, id)) as Promise<T | undefined>,
    getAll: () => call((api) => api.getAll(name)) as Promise<unknown> as Promise<T[]>,
    watch: (callback) => watchers.add(name, callback as unknown as RecordsCallback),
    query: (options = {}) => createQuery(name, options, call, queries),
  };
}

/** 128 random bits as digits and dashes: a valid eventId and lock name (randomUUID needs a secure context). */
export const randomId = (): string => crypto.getRandomValues(new Uint32Array(4)).join('-');
