import type { RecordsChange, StoredRecord } from '../protocol/tab-api';
import { emit, notify } from './errors';
import { applyChange } from './records-view';

export type RecordsCallback = (records: readonly StoredRecord[]) => void;

export interface Watchers {
  /** Adds a callback; returns its unsubscribe. */
  add(repository: string, callback: RecordsCallback): () => void;
  deliver(repository: string, change: RecordsChange): void;
  /** Repositories with at least one watcher. */
  repositories(): string[];
}

/**
 * The tab's watchers, grouped by repository. The worker is asked once per repository (on the
 * first watcher) and its results fan out to every local callback; a later watcher of the same
 * repository gets the last result at once.
 */
export function createWatchers(subscribe: (repository: string) => void, unsubscribe: (repository: string) => void): Watchers {
  const callbacks = new Map<string, Set<RecordsCallback>>();
  const latest = new Map<string, readonly StoredRecord[]>();
  return {
    add(repository, callback) {
      const group = callbacks.get(repository) ?? new Set<RecordsCallback>();
      // Only a repository already watched has a last result.
      const last = latest.get(repository);
      if (last) notify(callback, last);
      if (group.size === 0) {
        callbacks.set(repository, group);
        subscribe(repository);
      }
      group.add(callback);
      return () => {
        if (!group.delete(callback) || group.size > 0) return;
        callbacks.delete(repository);
        latest.delete(repository);
        unsubscribe(repository);
      };
    },
    deliver(repository, change) {
      const group = callbacks.get(repository);
      if (!group) return;
      const records = applyChange(latest.get(repository) ?? [], change);
      latest.set(repository, records);
      emit(group, records);
    },
    repositories: () => [...callbacks.keys()],
  };
}
