/**
 * What an app passes to `startSyncWorker`, and the defaults the seed fixed (3 s reconnect,
 * 30 s heartbeat).
 */
import type * as v from 'valibot';
import type { StoredRecord } from '../protocol/tab-api';
import type { ConflictResolver } from './local/merge';
import type { IndexDeclarations } from './local/query/indexes';

/** A repository's record schema: its output must be a plain object with a string `id`. */
export type RecordSchema = v.GenericSchema<unknown, StoredRecord>;

export interface SyncWorkerConfig {
  /** `ws(s)://host/sync` */
  websocketUrl: string;
  /** Repository name → schema every record (local or remote) must pass before it is stored. */
  repositories: Readonly<Record<string, RecordSchema>>;
  /** First wait before reconnecting (ms); it doubles per failed attempt, with jitter, up to `maxReconnectDelay`. */
  reconnectDelay?: number;
  maxReconnectDelay?: number;
  /** How often to ping the server (ms). */
  heartbeatInterval?: number;
  /** How long a ping may wait for any frame from the server before the socket counts as dead (ms). */
  pongTimeout?: number;
  /** How long a new socket may take to open before it counts as failed (ms). */
  connectTimeout?: number;
  /** How long the oldest pending write may wait for its ack on an authenticated socket before the
   *  status shows `stalled` and the worker reconnects, once per stall (ms). */
  stallAfter?: number;
  /** How long the socket stays open after the last tab went away (ms); the next tab reopens it. */
  idleDisconnectDelay?: number;
  /** The IndexedDB schema version. A new deployment with a higher one makes the workers of older
   *  tabs close the database, stop syncing and tell their tabs (`onVersionChange`). */
  schemaVersion?: number;
  /** Per repository, the fields (or arrays of fields: compound indexes) queries are served by, as
   *  IndexedDB indexes: `{ todos: ['done', ['listId', 'createdAt']] }` (docs/queries.md). Checked
   *  at start. Declaring an index the database lacks upgrades it (no record is lost; the workers
   *  of other deployments on it retire as for a higher `schemaVersion`); an index no longer
   *  declared stays, kept up to date, until the next `schemaVersion` drops it. */
  indexes?: IndexDeclarations;
  /** Picks a record's winner instead of last-writer-wins; must be deterministic. */
  resolveConflict?: ConflictResolver;
  /** IndexedDB database name. */
  databaseName?: string;
  /** How long opening IndexedDB may take before the runtime goes on in memory (ms). */
  storageOpenTimeout?: number;
  /** Where to open the database; the global `indexedDB` by default (a seam for tests). */
  indexedDB?: IDBFactory;
  logger?: Logger;
}

export interface Logger {
  warn(message: string, detail?: unknown): void;
  /** Failures the app should hear of; `warn` where a logger has no `error`. */
  error?(message: string, detail?: unknown): void;
}

/** The runtime's own version: package.json's (a test keeps them equal). */
export const RUNTIME_VERSION = '0.1.0';

export const DEFAULTS = {
  reconnectDelay: 3000,
  maxReconnectDelay: 30_000,
  heartbeatInterval: 30_000,
  pongTimeout: 10_000,
  connectTimeout: 10_000,
  idleDisconnectDelay: 10_000,
  stallAfter: 30_000,
  storageOpenTimeout: 3000,
  schemaVersion: 1,
  databaseName: 'tabsync',
} as const;

export const consoleLogger: Logger = {
  warn: (message, detail) => console.warn(`[tabsync] ${message}`, ...(detail === undefined ? [] : [detail])),
  error: (message, detail) => console.error(`[tabsync] ${message}`, ...(detail === undefined ? [] : [detail])),
};
