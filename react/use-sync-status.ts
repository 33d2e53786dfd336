import { useSyncExternalStore } from 'react';
import type { SyncStatus } from '../protocol/tab-api';

/** What `useSyncStatus` reads: the sync client (`connect()`'s result) has this shape. */
export interface StatusSource {
  onStatusChange(callback: (status: SyncStatus) => void): () => void;
  status(): Promise<SyncStatus>;
}

/**
 * The shared runtime's status (connected, authenticated, pending, syncing, storage, lastError…):
 * `undefined` until this tab knows it, then a new object at each change, identical in every tab.
 */
export function useSyncStatus(client: StatusSource): SyncStatus | undefined {
  const store = storeOf(client);
  return useSyncExternalStore(store.subscribe, store.current, store.current);
}

interface StatusStore {
  subscribe(changed: () => void): () => void;
  current(): SyncStatus | undefined;
}

// One store per client: every component showing the status shares one subscription, and a
// component mounted later starts from the status the others already have.
const stores = new WeakMap<StatusSource, StatusStore>();

function storeOf(client: StatusSource): StatusStore {
  let store = stores.get(client);
  if (!store) stores.set(client, (store = createStatusStore(client)));
  return store;
}

/** Listens to the client while at least one component does; forgets the status once none does
 *  (it would go stale unheard), a microtask after the last leaves (StrictMode's remount stays). */
function createStatusStore(client: StatusSource): StatusStore {
  const listeners = new Set<() => void>();
  let current: SyncStatus | undefined;
  let stop: (() => void) | undefined;
  const set = (status: SyncStatus) => {
    current = status;
    for (const changed of [...listeners]) changed();
  };
  const start = () => {
    let heard = false;
    const off = client.onStatusChange((status) => ((heard = true), set(status)));
    stop = off;
    // onStatusChange calls back only on a change: ask for the status of now, unless a change came first.
    client.status().then(
      (status) => heard || stop !== off || set(status),
      () => {}, // a closed client: nothing to show
    );
  };
  const release = () => {
    if (listeners.size > 0 || !stop) return;
    stop();
    stop = undefined;
    current = undefined;
  };
  return {
    current: () => current,
    subscribe(changed) {
      listeners.add(changed);
      if (!stop) start();
      return () => {
        listeners.delete(changed);
        queueMicrotask(release);
      };
    },
  };
}
