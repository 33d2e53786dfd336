/**
 * The contract between a tab's facade and the sync worker, carried by comlink over a
 * MessagePort: its types, and the names of the Web Locks, channels and databases both sides use.
 */
import type { ReadErrorCode } from './messages';
import type { InvalidQueryCode, QueryInput } from './query';
import type { WindowDelta } from './window-delta';

/** In an update, a field given as `undefined` clears it; an absent one stays as it is. */
export interface Credentials {
  authToken?: string | undefined;
  headers?: Record<string, string> | undefined;
}

/** A record as apps see it: a plain object with a string `id`. */
export type StoredRecord = { id: string } & Record<string, unknown>;

/** A server's `error.code` as the worker reads it: `server_error` for one it does not know (a newer
 *  server's) or none. */
export type ServerErrorCode = ReadErrorCode;

/** What `lastError.code` may be: a server's code, a refused call's, or one of the runtime's own. */
export type SyncErrorCode = ServerErrorCode | TabErrorCode | 'connection_failed' | 'heartbeat_timeout' | 'stalled';

export interface SyncErrorInfo {
  code: SyncErrorCode;
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
  /** Connected and authenticated, yet the oldest pending write has waited `stallAfter` for its ack
   *  (counted from its write, the session's start or the last ack, whichever came last). */
  stalled?: boolean;
  /** How long that write has waited, while `stalled`. */
  stalledForMs?: number;
  /** Where the worker keeps its data: `memory` when IndexedDB failed to open or never answered
   *  (a private window, a broken profile): sync goes on, nothing survives the worker. */
  storage: StorageMode;
}

export type StorageMode = 'indexeddb' | 'memory';

/** A local write the server will never take as it is: its record, its event, and why. */
export interface SetAsideWrite {
  repository: string;
  id: string;
  eventId: string;
  /** The server's error code, or `too_large`. */
  code: ServerErrorCode;
  reason: string;
  /** When it was set aside (ISO-8601). */
  at: string;
}

/** A warning or error of the worker, forwarded to tabs that asked (`onLog`). */
export interface LogEntry {
  level: 'warn' | 'error';
  message: string;
  /** ISO-8601 */
  at: string;
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
  /** A newer version of the app took over the database: this worker stopped syncing for good. */
  versionChanged?(): void;
  /** Asks for persistent storage (`navigator.storage.persist()`, which only a window may call):
   *  the worker asks one tab, once, after it opened IndexedDB. Resolves with the browser's answer. */
  persist?(): Promise<boolean>;
  /** The worker's warnings and errors, sent to every attached tab; the facade hands them to its
   *  `onLog` callbacks, if any. */
  log?(entry: LogEntry): void;
  /** A query this tab watches (`watchQuery`) changed: first its window (again after the worker's
   *  data was replaced), then the deltas to it; for a watched count, each new count. */
  query?(watchId: number, update: QueryUpdate): void;
}

// Queries (docs/queries.md): the worker evaluates, the tab applies what it is sent.

/** What a query watch sends: the window and its count, then deltas; a count watch, counts. */
export type QueryUpdate = { window: StoredRecord[]; count: number } | { delta: WindowDelta<StoredRecord> } | { count: number };

/** A watched query's diagnostics: its canonical form, who watches, how it is answered. */
export interface QueryDiagnostics {
  repository: string;
  /** `queryKey` of the normalized query (for a count, of its where). */
  query: string;
  kind: 'window' | 'count';
  watchers: number;
  /** Records matching the where; undefined while it loads. */
  count: number | undefined;
  /** `index listId+createdAt`, `index done, sorted in memory` or `scan`. */
  plan: string;
}

/**
 * Where the worker's connection stands: `standby` while another runtime holds it (or no tab is
 * left), `retrying` while it waits out the backoff, `closed` once the runtime stepped aside.
 */
export type ConnectionState =
  | 'stopped'
  | 'standby'
  | 'connecting'
  | 'authenticating'
  | 'connected'
  | 'retrying'
  | 'unauthorized'
  | 'closed';

/** What the worker can tell about itself, for support pages and tests. */
export interface Diagnostics {
  worker: {
    /** Random per worker instance: a new id means a new worker. */
    id: string;
    startedAt: string;
    /** `shared`: one SharedWorker for every tab; `leader`/`follower`: a dedicated worker per tab, the leader holding the socket. */
    mode: 'shared' | 'leader' | 'follower';
    /** The runtime's own version (the package version it was built from). */
    version: string;
    schemaVersion: number;
  };
  connection: {
    state: ConnectionState;
    /** When `state` last changed (ISO-8601). */
    since: string;
    /** Sockets this worker opened after its first one. */
    reconnects: number;
    /** The server's id of the current connection, and who it authenticated as, in which namespace
     *  (`undefined` where the server did not say). */
    connectionId?: string | undefined;
    principal?: string | undefined;
    namespace?: string | undefined;
    lastError?: SyncErrorInfo;
    /** When the next connection attempt is due (ISO-8601), while one waits for its backoff. */
    reconnectAt?: string;
  };
  outbox: {
    /** Local writes not yet acknowledged by the server. */
    pending: number;
    /** How long the oldest of them has waited since it was written (ms); null when none waits. */
    oldestAgeMs: number | null;
    /** Writes this worker took out of the outbox because the server will never take them as
     *  they are (it refused what they hold, or they are larger than its frames), newest last, at
     *  most 20. The local records keep them. Held in memory: a new worker starts with none. */
    setAside: SetAsideWrite[];
  };
  storage: {
    mode: StorageMode;
    /** The browser promised not to evict the data (`navigator.storage.persisted()`); `unknown`
     *  where the engine cannot tell (no `navigator.storage`, as in WebKitGTK). */
    persisted: boolean | 'unknown';
    /** `navigator.storage.estimate()` for the origin, when the browser tells. */
    usageBytes?: number;
    quotaBytes?: number;
    /** How often the database was taken away while this worker ran (cleared, deleted, evicted). */
    losses: number;
    /** Whose data is shown: the namespace the server last named for this profile (kept across
     *  restarts), null before any server named one. */
    namespace: string | null;
    /** The IndexedDB database holding that namespace's data. */
    database: string;
    /** Present while this worker is the database's only writer (it holds the writer lock): the
     *  records' versions it keeps in memory so that commits need not read first — how many, and
     *  an estimate of their size. */
    knownVersions?: { entries: number; estimatedBytes: number };
  };
  /** Per repository: live records stored here, the server sequence applied, the end of its last catch-up.
   *  Counting reads every row: a count is kept until the repository changes, and while it keeps
   *  changing, `records` may be the last count for up to ten times what that count took. */
  repositories: Record<string, { records: number; cursor: number; lastSyncAt?: string }>;
  /** The tabs attached to this worker and the repositories each watches (a frozen tab is detached
   *  until it resumes). */
  tabs: { id: string; watching: string[] }[];
  /** Every query watched now, each evaluated once for all its watchers. */
  queries: QueryDiagnostics[];
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
  | 'worker_unavailable'
  /** The database was taken away while this write was being stored, and the fresh one refused it too. */
  | 'storage_lost'
  // Batches and partial updates (upsertMany, deleteMany, batch, patch):
  /** `patch` of a record that does not exist (never written, or deleted). */
  | 'not_found'
  /** A many-write of more records than one push frame carries (`MAX_BATCH_EVENTS`), or of more
   *  bytes than the server's frame: refused up front, so that the server stores all or none. */
  | 'too_large'
  | InvalidQueryCode;

/** One write of `lf.batch`: a record to insert or replace, or the id of one to delete. */
export type BatchWrite = { repository: string; upsert: StoredRecord; delete?: never } | { repository: string; delete: string; upsert?: never };

/** An `upsert` or `delete` as the tab queues it for `writes`: the call's name and arguments
 *  (repository, record or id, eventId). */
export type QueuedWrite = readonly ['upsert', string, StoredRecord, string] | readonly ['delete', string, string, string];

/** The surface the worker exposes to each tab: one per port, so no call names its tab. */
export interface SyncWorkerApi {
  /** Registers the tab of this port (again, after a `detach`); returns the current status and
   *  this worker's id (the tab watches the Web Lock `workerLockName(id)`, which the worker holds
   *  while it lives). `credentials` are used if the worker has none. `tabLock` is the id of the
   *  Web Lock `tabLockName(tabLock)` the tab holds while its document lives: the worker notices
   *  a tab gone without detaching by it, and names the tab by it in diagnostics. */
  attach(listener: TabListener, credentials?: Credentials, tabLock?: string): Promise<{ status: SyncStatus; workerId: string }>;
  detach(): Promise<void>;
  /** `eventId` (the tab's id for this write) makes a retry idempotent: with `retried`, a write whose
   *  eventId is already in the outbox or the records is not applied again, and resolves. */
  upsert(repository: string, record: StoredRecord, eventId?: string, retried?: boolean): Promise<void>;
  delete(repository: string, id: string, eventId?: string, retried?: boolean): Promise<void>;
  /** The upserts and deletes a tab made in one task, in one message (one structured clone, one
   *  answer, where a call each costs a message each way): each runs as its own call would, in
   *  order, validated alone and committed with the writes queued beside it. The answer holds, at
   *  each write's index, null once it committed, else why it failed (a `SyncErrorShape`, or a
   *  message); one write's refusal fails no other. */
  writes(writes: readonly QueuedWrite[], retried?: boolean): Promise<(SyncErrorShape | string | null)[]>;
  // One-repository batches and partial updates.
  /** Stores every record or none: one transaction, one change for watchers, one push frame, which
   *  the server stores whole. At most `MAX_BATCH_EVENTS` records, each id once, within one of
   *  the server's frames (`too_large`); an invalid record refuses the call (`invalid_record`
   *  naming its index, id and field). `eventId` names the call: record `i`'s event is
   *  `${eventId}-${i}`, so it may be 1-59 characters; `retried` as in `upsert`. */
  upsertMany(repository: string, records: readonly StoredRecord[], eventId?: string, retried?: boolean): Promise<void>;
  /** Deletes every id or none, as `upsertMany` stores. */
  deleteMany(repository: string, ids: readonly string[], eventId?: string, retried?: boolean): Promise<void>;
  /** Merges `fields` into the current record (top level) in the write's own transaction, then
   *  validates the result as `upsert` does. A field given as `undefined` is refused (JSON cannot
   *  carry it; to drop an optional field, upsert the record). `not_found` when the record does
   *  not exist or was deleted. */
  patch(repository: string, id: string, fields: Record<string, unknown>, eventId?: string, retried?: boolean): Promise<void>;
  /** `lf.batch`: writes over several repositories, stored all or none as `upsertMany` stores
   *  (one transaction, one `push_batch` frame the server stores whole); at most
   *  `MAX_BATCH_EVENTS` writes over at most 32 repositories, each record once. */
  batch(writes: readonly BatchWrite[], eventId?: string, retried?: boolean): Promise<void>;
  get(repository: string, id: string): Promise<StoredRecord | undefined>;
  /** Records sorted by id. */
  getAll(repository: string): Promise<StoredRecord[]>;
  /** Starts sending this tab the repository's records (at once, then after every change). */
  watch(repository: string): Promise<void>;
  unwatch(repository: string): Promise<void>;
  status(): Promise<SyncStatus>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Fields present replace the current ones; the live socket re-authenticates in place. */
  updateCredentials(credentials: Credentials): Promise<void>;
  diagnostics(): Promise<Diagnostics>;
  /** Removes a namespace's local data (the shown one's by default): its records, its writes not
   *  yet sent, its cursors. Clearing the shown one restarts the session, which then catches up
   *  from the start: log out (stop, or switch credentials) first. */
  clearLocalData(namespace?: string): Promise<void>;

  // Queries (docs/queries.md); a query the worker cannot run rejects with `invalid_query`.
  /** The query's window now. */
  query(repository: string, query: QueryInput): Promise<StoredRecord[]>;
  /** How many records match the query's `where`. */
  count(repository: string, query: QueryInput): Promise<number>;
  /** Starts sending this tab's `listener.query(watchId, …)` the window (or, `kind: 'count'`, the
   *  count), then what changes; `watchId` is the tab's own name for the watch. */
  watchQuery(repository: string, watchId: number, query: QueryInput, kind?: 'window' | 'count'): Promise<void>;
  unwatchQuery(watchId: number): Promise<void>;
}


// Names both sides must spell alike. A lock held by one side while it lives tells the other,
// once granted, that the holder is gone (crashed or killed included).

/** The Web Lock a tab holds while its document lives; its worker is granted it once the tab is gone. */
export function tabLockName(tabId: string): string {
  return `tabsync-tab-${tabId}`;
}

/** The Web Lock a worker holds while it lives; its tabs are granted it once the worker is gone. */
export function workerLockName(workerId: string): string {
  return `tabsync-worker-${workerId}`;
}

/** The Web Lock whose holder alone opens the socket, of the runtimes on one database. */
export function connectionLockName(databaseName: string): string {
  return `${databaseName}-connection`;
}

/** The Web Lock of the database's only writer: the runtime that commits to it (the one holding
 *  the connection) holds it, and only while it does may it keep the records' versions in memory
 *  and commit without reading first. Every other runtime of the profile writes through it. */
export function writerLockName(databaseName: string): string {
  return `${databaseName}-writer`;
}

/** The Web Lock that elects the leader of the dedicated workers (one per tab) on one database. */
export function leaderLockName(databaseName: string): string {
  return `${databaseName}-leader`;
}

/** The BroadcastChannel the runtimes on one database talk over. */
export function runtimesChannelName(databaseName: string): string {
  return `${databaseName}-runtimes`;
}

/** The IndexedDB database that records which namespace each database holds. */
export function namespaceRegistryName(databaseName: string): string {
  return `${databaseName}-namespaces`;
}

/** The IndexedDB database of a namespace other than the one the base database holds. */
export function namespaceDatabaseName(databaseName: string, namespace: string): string {
  return `${databaseName}#${namespace}`;
}
