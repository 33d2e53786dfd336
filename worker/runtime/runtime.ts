/**
 * The runtime as a browser worker runs it: the core on IndexedDB and the browser's WebSocket, with
 * the coordination plan of its kind of worker. The SharedWorker notices tabs that die
 * (tab-liveness.ts) and leads once it holds the connection lock; a dedicated worker per tab is a
 * peer of the others, elected leader or follower (leader.ts). A newer schema version makes it
 * close and let go of the connection, so the new worker takes over.
 */
import { consoleLogger, DEFAULTS, type SyncWorkerConfig } from '../config';
import type { CoordinationPlan } from '../coordination/coordination';
import { connectionElection, peerElection } from '../coordination/leader';
import { openPeers } from '../coordination/peers';
import { holdWorkerLock, watchTabLock, webLocks } from '../coordination/tab-liveness';
import { openSyncCore, type SyncCore } from './compose';

export async function openWorkerRuntime(config: SyncWorkerConfig, scope: 'shared' | 'dedicated'): Promise<SyncCore> {
  const databaseName = config.databaseName ?? DEFAULTS.databaseName;
  const locks = webLocks();
  const peers = openPeers(databaseName, config.logger ?? consoleLogger);
  // A dedicated worker lives and dies with its one tab: no tab to watch.
  const coordination: CoordinationPlan =
    scope === 'shared'
      ? { strategy: 'shared', peers, elect: connectionElection(databaseName), watchTab: locks ? (tabId, gone) => watchTabLock(locks, tabId, gone) : undefined }
      : { strategy: 'peer', peers, elect: peerElection(databaseName) };
  let core: SyncCore;
  try {
    core = await openSyncCore({ ...config, createSocket: (url) => new WebSocket(url), coordination });
  } catch (error) {
    peers.close();
    throw error;
  }
  // Taken before any tab is answered, so a tab that watches it never finds it free too early.
  if (locks) await holdWorkerLock(locks, core.workerId);
  return core;
}
