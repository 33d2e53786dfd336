import type { StoredRecord } from '../protocol/tab-api';
import type { WorkerCall } from './calls';
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
  /** Calls back with every record at once, then after each change from any tab or device. Returns the unsubscribe. */
  watch(callback: (records: readonly T[]) => void): () => void;
}

export function createRepository<T extends Identified>(name: string, call: WorkerCall, watchers: Watchers): Repository<T> {
  return {
    name,
    // Each write's own eventId: a retry on a new worker cannot apply it twice.
    upsert: (record, eventId = randomId()) => call((api, retried) => api.upsert(name, record as T & StoredRecord, eventId, retried)),
    delete: (id, eventId = randomId()) => call((api, retried) => api.delete(name, id, eventId, retried)),
    get: (id) => call((api) => api.get(name, id)) as Promise<T | undefined>,
    getAll: () => call((api) => api.getAll(name)) as Promise<unknown> as Promise<T[]>,
    watch: (callback) => watchers.add(name, callback as unknown as RecordsCallback),
  };
}

/** 128 random bits as digits and dashes: a valid eventId and lock name (randomUUID needs a secure context). */
export const randomId = (): string => crypto.getRandomValues(new Uint32Array(4)).join('-');
