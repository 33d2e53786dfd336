/**
 * `repository.query({ where, orderBy, limit, offset })` in the tab (docs/queries.md). The worker
 * evaluates it; the tab only keeps the window it was sent and applies the deltas that follow.
 * Watches of one query (same repository, kind and options) within the tab share one worker watch,
 * and a callback that joins it gets its last result at once, the same array (as `repository.watch`
 * does): `useQuery(todos.query(…))` may build the query object anew at every render.
 */
import type { Remote } from 'comlink';
import type { OrderDirection, QueryInput, QueryOperators, QueryScalar } from '../protocol/query';
import type { QueryUpdate, StoredRecord, SyncWorkerApi } from '../protocol/tab-api';
import { applyDelta } from '../protocol/window-delta';
import { emit, ignore, notify, report } from './errors';
import type { WorkerCall } from './calls';

/** Conditions on the record's fields (its type's keys, where it has a type). */
export type Where<T> = { [K in keyof T & string]?: QueryScalar | QueryOperators };
export type OrderBy<T> = { [K in keyof T & string]?: OrderDirection };

export interface QueryOptions<T> {
  where?: Where<T>;
  /** `{ title: 'asc' }` or `[{ done: 'asc' }, { createdAt: 'desc' }]`; `id` breaks ties. */
  orderBy?: OrderBy<T> | OrderBy<T>[];
  limit?: number;
  offset?: number;
}

export interface Query<T> {
  /** The window now. */
  get(): Promise<T[]>;
  /** How many records match `where` (limit and offset aside). */
  count(): Promise<number>;
  /** Calls back with the window, then after every change to it. Returns the unsubscribe. */
  watch(callback: (records: readonly T[]) => void): () => void;
  /** Calls back with the count, then whenever it changes. Returns the unsubscribe. */
  watchCount(callback: (count: number) => void): () => void;
}

type Kind = 'window' | 'count';

/** The tab's query watches: one worker watch each, named by the tab's `watchId`. */
export interface QueryWatches {
  add(repository: string, query: QueryInput, kind: Kind, callback: (value: never) => void): () => void;
  /** The listener's `query`: a watch's update from the worker. */
  deliver(watchId: number, update: QueryUpdate): void;
  /** Watches everything again on a new worker (or after this tab attached again). */
  rewatch(api: Remote<SyncWorkerApi>): Promise<unknown>;
}

interface Group {
  id: number;
  /** Repository, kind and options as one string: equal watches of the tab share the group. */
  key: string;
  repository: string;
  query: QueryInput;
  kind: Kind;
  callbacks: Set<(value: never) => void>;
  last?: unknown;
}

export function createQueryWatches(call: WorkerCall): QueryWatches {
  const groups = new Map<number, Group>();
  let ids = 0;
  const start = (api: Remote<SyncWorkerApi>, { id, repository, query, kind }: Group) => api.watchQuery(repository, id, query, kind);
  // A failed watch (an invalid query) is reported; a delta that does not fit asks for the window again.
  const restart = (group: Group) => void call((api) => start(api, group)).catch(report);
  return {
    add(repository, query, kind, callback) {
      const key = JSON.stringify([repository, kind, query]);
      let group = [...groups.values()].find((each) => each.key === key);
      if (group?.last !== undefined) notify(callback, group.last as never);
      if (!group) {
        groups.set(++ids, (group = { id: ids, key, repository, query, kind, callbacks: new Set() }));
        restart(group);
      }
      const { id, callbacks } = group;
      callbacks.add(callback);
      return () => {
        if (callbacks.delete(callback) && !callbacks.size && groups.delete(id)) void call((api) => api.unwatchQuery(id)).catch(ignore);
      };
    },
    deliver(watchId, update) {
      const group = groups.get(watchId);
      if (!group) return;
      try {
        group.last = 'window' in update ? update.window : 'delta' in update ? applyDelta(group.last as StoredRecord[], update.delta) : update.count;
      } catch {
        return restart(group);
      }
      emit(group.callbacks, group.last as never);
    },
    // One failed watch (reported) must not fail the attach that re-watches them all.
    rewatch: (api) => Promise.all([...groups.values()].map((group) => start(api, group).catch(report))),
  };
}

export function createQuery<T>(repository: string, options: QueryOptions<T>, call: WorkerCall, watches: QueryWatches): Query<T> {
  const query = options as QueryInput;
  return {
    get: () => call((api) => api.query(repository, query)) as Promise<unknown> as Promise<T[]>,
    count: () => call((api) => api.count(repository, query)),
    watch: (callback) => watches.add(repository, query, 'window', callback),
    watchCount: (callback) => watches.add(repository, query, 'count', callback),
  };
}
