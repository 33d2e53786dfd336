/**
 * `<package>/worker`: what an app's worker bundle calls once. The same bundle runs as the one
 * SharedWorker of every tab or, where SharedWorker is missing, as a dedicated worker per tab.
 *
 *   startSyncWorker({ websocketUrl: 'wss://example.com/sync', repositories: { todos: TodoSchema } })
 */
import { consoleLogger, type SyncWorkerConfig } from './config';
import { serveTab } from './entry/dedicated-worker';
import { openWorkerRuntime } from './runtime/runtime';
import { isSharedWorkerScope, serveTabs } from './entry/shared-worker';

export function startSyncWorker(config: SyncWorkerConfig): void {
  const log = config.logger ?? consoleLogger;
  if (isSharedWorkerScope()) serveTabs(openWorkerRuntime(config, 'shared'), log);
  else serveTab(openWorkerRuntime(config, 'dedicated'), log);
}

export type { Logger, RecordSchema, SyncWorkerConfig } from './config';
export type { ConflictResolver, RecordVersion } from './local/merge';
export type { IndexDeclaration, IndexDeclarations } from './local/query/indexes';
