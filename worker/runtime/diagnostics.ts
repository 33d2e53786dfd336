/** `diagnostics()`: what the worker can tell about itself, from each part. A closed runtime (or
 *  a broken database) still describes itself, without its data. */
import type { Diagnostics } from '../../protocol/tab-api';
import type { Clock } from '../clock';
import type { Coordination } from '../coordination/coordination';
import type { Repositories } from '../local/repositories';
import { storageEstimate, type StorageManagerLike } from '../storage/persistence';
import type { SyncStorage } from '../storage/storage';
import type { SyncEngine } from '../sync/engine';
import type { TabHub } from './hub';
import type { LiveRecordCounts } from './live-counts';
import type { NamespaceSwitch } from './namespace-switch';
import type { QueryService } from './queries';
import type { StorageModes } from './storage-mode';

export interface DiagnosedParts {
  worker: { id: string; startedAt: string; version: string; schemaVersion: number };
  coordination: Coordination;
  engine: SyncEngine;
  storage: SyncStorage;
  modes: StorageModes;
  namespaces: NamespaceSwitch;
  repositories: Repositories;
  liveCounts: LiveRecordCounts;
  hub: TabHub;
  queries: QueryService;
  storageManager: StorageManagerLike | undefined;
  clock: Clock;
  losses(): number;
  closed(): boolean;
}

export async function describeRuntime(parts: DiagnosedParts): Promise<Diagnostics> {
  const { worker, coordination, engine, storage, modes, namespaces, closed, clock } = parts;
  const [oldest, browser, repositories] = await Promise.all([
    closed() ? [] : storage.readOutbox(0, 1).catch(() => []),
    storageEstimate(parts.storageManager),
    closed() ? [] : describeRepositories(parts).catch(() => []),
  ]);
  const oldestAt = oldest[0] ? Date.parse(oldest[0].event.createdAt) : undefined;
  const mode = modes.mode;
  const known = closed() ? undefined : storage.knownVersions?.();
  return {
    worker: { id: worker.id, startedAt: worker.startedAt, version: worker.version, mode: coordination.mode(), schemaVersion: worker.schemaVersion },
    connection: engine.connectionInfo(),
    // The outbox is the database's: a follower shows the leader's count of it.
    outbox: {
      pending: coordination.shown().pending,
      oldestAgeMs: oldestAt === undefined ? null : Math.max(0, clock.now() - oldestAt),
      setAside: [...engine.setAsideLately()],
    },
    storage: { mode, ...(mode === 'memory' ? { persisted: false } : browser), losses: parts.losses(), namespace: namespaces.active, database: namespaces.database, ...(known && { knownVersions: known }) },
    repositories: Object.fromEntries(repositories),
    tabs: parts.hub.describe(),
    queries: parts.queries.describe(),
  };
}

function describeRepositories({ repositories, liveCounts, storage, engine }: DiagnosedParts): Promise<(readonly [string, Diagnostics['repositories'][string]])[]> {
  return Promise.all(repositories.names.map(async (name) => {
    const [records, cursor] = await Promise.all([liveCounts.count(name), storage.getCursor(name)]);
    const lastSyncAt = engine.lastSyncs().get(name);
    return [name, { records, cursor, ...(lastSyncAt ? { lastSyncAt } : {}) }] as const;
  }));
}
