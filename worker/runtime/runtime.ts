/**
 * The runtime as a browser worker runs it: the core on IndexedDB and the browser's WebSocket,
 * joined to the other runtimes of the profile (peers.ts), noticing tabs that die (tab-liveness.ts),
 * and opening the socket only once it holds the connection (leader.ts). A newer schema version
 * makes it close and let go of the connection, so the new worker takes over.
 */
import { consoleLogger, DEFAULTS, type SyncWorkerConfig } from '../config';
import { openSyncCore, type SyncCore } from './core';
import { elect } from '../coordination/leader';
import { openPeers } from '../coordination/peers';
import { holdWorkerLock, watchTabLock, webLocks } from '../coordination/tab-liveness';

export async function openWorkerRuntime(config: SyncWorkerConfig, scope: 'shared' | 'dedicated'): Promise<SyncCore> {
  const databaseName = config.databaseName ?? DEFAULTS.databaseName;
  const locks = webLocks();
  const peers = openPeers(databaseName, config.logger ?? consoleLogger);
  let resign = () => {};
  let core: SyncCore;
  try {
    core = await openSyncCore({
      ...config,
      createSocket: (url) => new WebSocket(url),
      peers,
      // A dedicated worker lives and dies with its one tab: nothing to watch.
      watchTab: scope === 'shared' && locks ? (tabId, gone) => watchTabLock(locks, tabId, gone) : undefined,
      scope,
      standby: true,
      onRetired: () => resign(),
    });
  } catch (error) {
    peers.close();
    throw error;
  }
  const opened = core;
  // Dedicated workers in memory share no database, so no outbox either: each connects for itself.
  if (scope === 'dedicated' && opened.storageMode() === 'memory') void opened.lead();
  else resign = elect(databaseName, scope === 'dedicated', () => void opened.lead());
  // Taken before any tab is answered, so a tab that watches it never finds it free too early.
  if (locks) await holdWorkerLock(locks, opened.workerId);
  return {
    ...opened,
    async close() {
      await opened.close();
      resign();
    },
  };
}
