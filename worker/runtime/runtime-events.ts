/** What the runtime's parts tell each other, through one emitter that compose wires. */
import type { LogEntry, SyncStatus } from '../../protocol/tab-api';
import type { OpenedStorage } from '../storage/open-storage';
import type { RecordRow } from '../storage/storage';

export type LossReason = 'deleted' | 'closed';

export interface RuntimeEvents extends Record<string, unknown> {
  /** A warning or error of the worker, for the tabs. */
  log: LogEntry;
  /** The status store published the runtime's own status. */
  statusPublished: SyncStatus;
  /** Rows were committed: `written` local writes in the outbox, or 0 for remote events applied. */
  committed: { rows: readonly RecordRow[]; written: number };
  /** The number of attached tabs changed. */
  tabsChanged: number;
  /** The storage holds other data now (a fresh database, another namespace's, or none): counts,
   *  sync times and watchers follow. Awaited. */
  dataReplaced: OpenedStorage | undefined;
  /** A newer schema version opened the database (held until the runtime listens). */
  versionChange: undefined;
  /** The database was taken away (held until the runtime listens). */
  storageLost: LossReason;
}

/** The events raised before the runtime is built to hear them. */
export const HELD_RUNTIME_EVENTS = ['versionChange', 'storageLost'] as const;
