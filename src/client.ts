import type { GenericSchema } from 'valibot';
import type { BatchWrite, Credentials, Diagnostics, LogEntry, StoredRecord, SyncStatus } from '../protocol/tab-api';
import { createQueryWatches } from './query';
import { queueWrites } from './queued-writes';
import { createRepository, randomId, type Identified, type Repository } from './repository';
import { createTabListener } from './tab-listener';
import { createWatchers } from './watchers';
import { openWorkerLink } from './worker-link';

export interface ConnectOptions extends Credentials {
  /** The sync worker: its script URL; a factory the tab calls for a worker, and again for a new one
   *  once that one died (`() => new SharedWorker(new URL('./sync-worker.ts', import.meta.url), { type: 'module' })`,
   *  what bundlers understand); or one `SharedWorker` (or `Worker`) the app built, never replaced.
   *  A factory may also return a `MessagePort` whose other end exposes the worker's API (comlink),
   *  as the Node tests do over a `MessageChannel`. */
  worker: string | URL | (() => SharedWorker | Worker | MessagePort) | SharedWorker | Worker;
  /** How a worker started from a URL loads: `module` for a worker bundle that is an ES module. */
  workerType?: WorkerType;
  /** `dedicated` runs the worker script as this tab's own `Worker` even where SharedWorker exists
   *  (the tabs then elect one to hold the socket), as it runs anyway where SharedWorker is missing. */
  mode?: 'shared' | 'dedicated';
  /** Asked for new credentials when the server refuses the current ones; `null` keeps sync waiting. */
  onAuthenticationFailed?: () => Promise<Credentials | null>;
  /** `connect()` starts the shared sync unless this is `false` (then call `start()`). */
  autoStart?: boolean;
  /** How long a call may wait for the worker before it rejects with `worker_unavailable` (ms, default 10 s). */
  callTimeout?: number;
}

/** Per repository name, its record type (`{ todos: Todo }`) or the valibot schema the worker
 *  checks it with (`typeof schemas`, the module the worker bundle imports). */
export type Schemas<S> = { [K in keyof S]: Identified | GenericSchema<unknown, Identified> };

/** The record type of one `Schemas` entry: a schema's output, or the record type itself. */
export type RecordOf<X> = X extends GenericSchema<unknown, infer R extends Identified> ? R : X extends Identified ? X : never;

/** One write of `batch`: typed schemas make it a union over their names, each `upsert` of its
 *  repository's record type; untyped, any name and record. */
export type BatchWriteOf<S> = string extends keyof S
  ? BatchWrite
  : { [N in keyof S & string]: { repository: N; upsert: RecordOf<S[N]>; delete?: never } | { repository: N; delete: string; upsert?: never } }[keyof S & string];

export interface SyncClient<S extends Schemas<S> = Record<string, StoredRecord>> {
  /** Typed schemas: only their names, each with its record type. Untyped (the default): any
   *  name, with the record type as `repository<Todo>('todos')`. */
  repository: string extends keyof S
    ? <T extends Identified = RecordOf<S[keyof S]>>(name: string) => Repository<T>
    : <N extends keyof S & string>(name: N) => Repository<RecordOf<S[N]>>;
  /** Writes over several repositories, all or none, as `upsertMany` stores (one transaction, one
   *  change, one push the server stores whole): `{ repository, upsert: record }` or `{ repository, delete: id }`. */
  batch(writes: readonly BatchWriteOf<S>[]): Promise<void>;
  /** Called with the current status whenever it changes (the first time once this tab is attached). */
  onStatusChange(callback: (status: SyncStatus) => void): () => void;
  /** Called when the shared socket opens or closes; the same transitions reach every tab. */
  onConnectionChange(callback: (connected: boolean) => void): () => void;
  status(): Promise<SyncStatus>;
  /** Replace the credentials of the one shared connection; it re-authenticates in place. */
  updateCredentials(credentials: Credentials): Promise<void>;
  updateAuthToken(authToken: string): Promise<void>;
  updateHeaders(headers: Record<string, string>): Promise<void>;
  /** Starts (or resumes) the shared sync, for every tab. */
  start(): Promise<void>;
  /** Stops the shared sync, for every tab; local reads and writes keep working. */
  stop(): Promise<void>;
  /** Called when a newer version of the app took over the database and this tab's worker
   *  stopped syncing. Without a callback the tab reloads once it is hidden. */
  onVersionChange(callback: () => void): () => void;
  /** What the worker tells about itself: worker, connection, outbox, storage, repositories, tabs. */
  diagnostics(): Promise<Diagnostics>;
  /** Removes a namespace's data from this browser (the one shown by default, see
   *  `diagnostics().storage.namespace`): its records, its writes not yet synced, its cursors. For a
   *  logout: `stop()` or switch credentials first, or the live session downloads it again. */
  clearLocalData(namespace?: string): Promise<void>;
  /** Called with the worker's warnings and errors (they also go to the worker's console). */
  onLog(callback: (entry: LogEntry) => void): () => void;
  /** Detaches this tab from the worker; every later call rejects with code `closed`. */
  close(): Promise<void>;
}

/**
 * Attaches this tab to the sync worker and, unless `autoStart: false`, starts the shared sync.
 * The tab holds no socket and no storage: every call is forwarded to the worker.
 */
export function connect<S extends Schemas<S> = Record<string, StoredRecord>>(options: ConnectOptions): SyncClient<S> {
  const watchers = createWatchers(
    (repository) => link.watch(repository),
    (repository) => link.unwatch(repository),
  );
  const queries = createQueryWatches((method) => link.call(method));
  const tab = createTabListener(options, watchers, queries);
  // A worker that takes another's place (or a page shown again) learns this tab's watches.
  const link = openWorkerLink(options, tab, (api) =>
    Promise.all([...watchers.repositories().map((repository) => api.watch(repository)), queries.rewatch(api)]),
  );
  const { call } = link;
  const write = queueWrites(call);

  const updateCredentials = (update: Credentials) => {
    Object.assign(link.credentials, update);
    return call((api) => api.updateCredentials(update));
  };

  return {
    // One implementation for both shapes of `repository`: the types differ, the calls do not.
    repository: ((name: string) => createRepository(name, call, write, watchers, queries)) as unknown as SyncClient<S>['repository'],
    // One eventId for the whole batch: a retry on a new worker cannot apply it twice.
    batch: (writes, eventId = randomId()) => call((api, retried) => api.batch(writes as readonly BatchWrite[], eventId, retried)),
    ...tab.subscriptions,
    status: () => call((api) => api.status()),
    updateCredentials,
    updateAuthToken: (authToken) => updateCredentials({ authToken }),
    updateHeaders: (headers) => updateCredentials({ headers }),
    start: () => call((api) => ((link.started = true), api.start())),
    stop: () => call((api) => ((link.started = false), api.stop())),
    diagnostics: () => call((api) => api.diagnostics()),
    clearLocalData: (namespace) => call((api) => api.clearLocalData(namespace)),
    close: link.close,
  };
}
