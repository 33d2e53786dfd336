/**
 * The contract between a tab's facade and the sync worker, carried by comlink over a
 * MessagePort. Types only: the facade imports this file with `import type`.
 */

export interface Credentials {
  authToken?: string;
  headers?: Record<string, string>;
}

/** A record as apps see it: a plain object with a string `id`. */
export type StoredRecord = { id: string } & Record<string, unknown>;

export interface SyncErrorInfo {
  code: string;
  message: string;
  at: string;
}

/** The shared runtime's state: identical in every tab. */
export interface SyncStatus {
  /** `start()` was called and `stop()` was not. */
  started: boolean;
  /** The WebSocket is open. */
  connected: boolean;
  /** The server answered `auth_success` on the current socket. */
  authenticated: boolean;
  /** The server refused the credentials and none better are known: sync waits for new ones. */
  unauthorized: boolean;
  /** Local writes not yet acknowledged by the server. */
  pending: number;
  /** A catch-up is running. */
  syncing: boolean;
  /** Progress of the running catch-up: events received so far in this catch-up. */
  progress?: { repository: string; received: number };
  /** End of the last complete catch-up (ISO-8601). */
  lastSyncAt?: string;
  lastError?: SyncErrorInfo;
}

/** What changed in a watched repository: first the whole list (`reset`, sorted by id), then one
 *  change per committed batch. Sending changes, not lists, keeps a write O(batch), not O(records). */
export interface RecordsChange {
  reset?: StoredRecord[];
  upserts?: StoredRecord[];
  deletes?: string[];
}

/** What the worker calls back in a tab (through a comlink proxy). */
export interface TabListener {
  /** A repository this tab watches changed: the full list once at watch, then each batch's changes. */
  records(repository: string, change: RecordsChange): void;
  status(status: SyncStatus): void;
  /** The server refused the credentials: the tab may return new ones (its `onAuthenticationFailed`). */
  credentialsNeeded(): Promise<Credentials | null>;
}

/** Errors cross the boundary as this plain object (comlink drops error classes); the facade
 *  turns it back into an `Error` with a `code`. */
export interface SyncErrorShape {
  name: 'SyncError';
  code: TabErrorCode;
  message: string;
}
export type TabErrorCode =
  | 'invalid_record'
  | 'unknown_repository'
  | 'quota_exceeded'
  | 'storage_failed'
  | 'closed'
  | 'worker_unavailable';

/** The surface the worker exposes to every tab. */
export interface SyncWorkerApi {
  /** Registers a tab; returns the current status. `credentials` are used if the worker has none. */
  attach(tabId: string, listener: TabListener, credentials?: Credentials): Promise<SyncStatus>;
  detach(tabId: string): Promise<void>;
  upsert(repository: string, record: StoredRecord): Promise<void>;
  delete(repository: string, id: string): Promise<void>;
  get(repository: string, id: string): Promise<StoredRecord | undefined>;
  /** Records sorted by id. */
  getAll(repository: string): Promise<StoredRecord[]>;
  /** Starts sending this tab the repository's records (at once, then after every change). */
  watch(tabId: string, repository: string): Promise<void>;
  unwatch(tabId: string, repository: string): Promise<void>;
  status(): Promise<SyncStatus>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Fields present replace the current ones; the live socket re-authenticates in place. */
  updateCredentials(credentials: Credentials): Promise<void>;
}
