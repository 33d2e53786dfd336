import { useCallback, useRef, useSyncExternalStore } from 'react';

/**
 * What `useQuery` and `useRecord` read: anything that calls back with its current records (at once
 * or soon after), then again after every change, and returns its unsubscribe. A repository has
 * this shape (`lf.repository('todos')`); a query object with the same `watch` works unchanged.
 */
export interface LiveSource<T> {
  watch(callback: (records: readonly T[]) => void): () => void;
}

/**
 * The source's current records: `undefined` until its first result, then the same array until the
 * next change (the snapshot identity `useSyncExternalStore` compares). Unsubscribes on unmount.
 */
export function useQuery<T>(source: LiveSource<T>): readonly T[] | undefined {
  return useWatched(source, (records) => records);
}

/**
 * One record by id, or `undefined` (absent, or not loaded yet). Derived from the repository's
 * watch (a tab has no narrower subscription yet); the component renders again only when that
 * record changes, since a change keeps every record it did not touch as the same object.
 */
export function useRecord<T extends { id: string }>(repository: LiveSource<T>, id: string): T | undefined {
  return useWatched(repository, (records) => records.find((record) => record.id === id));
}

/**
 * Subscribes to `source` for as long as the component is mounted. `select` must return the same
 * value for the same array (it does: the array itself, or one of its items).
 *
 * The records live in the component, not in the subscription: a source made anew at each render
 * (`useQuery(lf.repository('todos'))`) resubscribes without showing `undefined` in between. Each
 * unsubscribe waits a microtask, so the next subscription (that re-render's, or StrictMode's
 * second mount) joins a watch still live, which re-delivers its last result at once, the same
 * array: no render loop, and no unwatch/watch round trip to the worker. One watch stays.
 */
function useWatched<T, S>(source: LiveSource<T>, select: (records: readonly T[]) => S): S | undefined {
  const last = useRef<readonly T[] | undefined>(undefined);
  const subscribe = useCallback(
    (changed: () => void) => {
      let live = true;
      const stop = source.watch((records) => {
        if (!live) return;
        last.current = records;
        changed();
      });
      return () => {
        live = false;
        queueMicrotask(stop);
      };
    },
    [source],
  );
  const snapshot = () => (last.current === undefined ? undefined : select(last.current));
  return useSyncExternalStore(subscribe, snapshot, snapshot);
}
