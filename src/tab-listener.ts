/**
 * What the worker calls back in this tab (its `TabListener`), fanned out to the app: records to
 * the watchers, query results to the query watches, status and connection changes, the version change, the worker's log.
 */
import type { LogEntry, SyncStatus } from '../protocol/tab-api';
import { emit } from './errors';
import type { ConnectOptions, SyncClient } from './client';
import type { QueryWatches } from './query';
import type { Watchers } from './watchers';
import type { TabFeed } from './worker-link';

export interface TabListenerPart extends TabFeed {
  /** The app's subscriptions, as the client offers them. */
  subscriptions: Pick<SyncClient, 'onStatusChange' | 'onConnectionChange' | 'onVersionChange' | 'onLog'>;
}

export function createTabListener(options: ConnectOptions, watchers: Watchers, queries: QueryWatches): TabListenerPart {
  const statusCallbacks = new Set<(status: SyncStatus) => void>();
  const connectionCallbacks = new Set<(connected: boolean) => void>();
  const versionCallbacks = new Set<() => void>();
  const logCallbacks = new Set<(entry: LogEntry) => void>();
  /** `connected` of the last status this tab heard. */
  let connected: boolean | undefined;
  /** Status broadcasts received so far: an `attach` reply older than one of them is stale. */
  let broadcasts = 0;

  const setStatus = (next: SyncStatus) => {
    const changed = connected !== undefined && connected !== next.connected;
    connected = next.connected;
    emit(statusCallbacks, next);
    if (changed) emit(connectionCallbacks, connected);
  };

  return {
    listener: {
      records: watchers.deliver,
      query: queries.deliver,
      status: (next) => {
        broadcasts++;
        setStatus(next);
      },
      credentialsNeeded: async () => options.onAuthenticationFailed?.() ?? null,
      versionChanged: () => {
        if (versionCallbacks.size) emit(versionCallbacks, undefined);
        else if (document.hidden) reload();
        else addEventListener('visibilitychange', reload, { once: true });
      },
      // Only a window may ask for persistent storage; where it cannot, the worker hears a rejection.
      persist: () => navigator.storage.persist(),
      log: (entry) => emit(logCallbacks, entry),
    },
    attaching: () => {
      const heard = broadcasts;
      return (status) => broadcasts === heard && setStatus(status);
    },
    subscriptions: {
      onStatusChange: (callback) => subscribe(statusCallbacks, callback),
      onConnectionChange: (callback) => subscribe(connectionCallbacks, callback),
      onVersionChange: (callback) => subscribe(versionCallbacks, callback),
      onLog: (callback) => subscribe(logCallbacks, callback),
    },
  };
}

const reload = () => location.reload();

function subscribe<T>(callbacks: Set<T>, callback: T): () => void {
  callbacks.add(callback);
  return () => void callbacks.delete(callback);
}
