/**
 * `<package>/worker`: what an app's worker bundle calls once.
 *
 *   startSyncWorker({ websocketUrl: 'wss://example.com/sync', repositories: { todos: TodoSchema } })
 */
import { consoleLogger, type SyncWorkerConfig } from './config';
import { openSyncCore } from './core';
import { serveTabs } from './shared-worker';

export function startSyncWorker(config: SyncWorkerConfig): void {
  serveTabs(openSyncCore({ ...config, createSocket: (url) => new WebSocket(url) }), config.logger ?? consoleLogger);
}

export type { Logger, RecordSchema, SyncWorkerConfig } from './config';
export type { ConflictResolver, RecordVersion } from './merge';
