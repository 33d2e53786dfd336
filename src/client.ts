import { proxy, releaseProxy, wrap, type Endpoint, type Remote } from 'comlink';
import type { GenericSchema } from 'valibot';
import { workerLockName, type Credentials, type Diagnostics, type LogEntry, type StoredRecord, type SyncStatus, type SyncWorkerApi, type TabListener } from '../protocol/tab-api';
import { createCall, unavailable, type Link } from './calls';
import { emit, ignore, report } from './errors';
import { holdTabLock, requestLock, watchPage } from './page-lifecycle';
import { createQueryWatches } from './query';
import { createRepository, randomId, type Identified, type Repository } from './repository';
import { createWatchers } from './watchers';

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

export interface SyncClient<S extends Schemas<S> = Record<string, StoredRecord>> {
  /** Typed schemas: only their names, each with its record type. Untyped (the default): any
   *  name, with the record type as `repository<Todo>('todos')`. */
  repository: string extends keyof S
    ? <T extends Identified = RecordOf<S[keyof S]>>(name: string) => Repository<T>
    : <N extends keyof S & string>(name: N) => Repository<RecordOf<S[N]>>;
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
  const given = options.worker;
  /** Starts a worker: again after one died, unless the app handed over a single instance. Where
   *  SharedWorker is missing (e.g. Chrome on Android), each tab runs the worker script itself.
   *  (A `type` left undefined is the browser's default, `classic`: the cast only tells TypeScript.) */
  const spawn =
    typeof given === 'function'
      ? given
      : given instanceof EventTarget
        ? undefined
        : () => new (options.mode !== 'dedicated' && typeof SharedWorker === 'function' ? SharedWorker : Worker)(given, { type: options.workerType } as WorkerOptions);
  const tabId = randomId();
  const credentials: Credentials = { authToken: options.authToken, headers: options.headers };
  const statusCallbacks = new Set<(status: SyncStatus) => void>();
  const connectionCallbacks = new Set<(connected: boolean) => void>();
  const versionCallbacks = new Set<() => void>();
  const logCallbacks = new Set<(entry: LogEntry) => void>();
  /** `connected` of the last status this tab heard. */
  let connected: boolean | undefined;
  /** Status broadcasts received so far: an `attach` reply older than one of them is stale. */
  let broadcasts = 0;
  let started = options.autoStart !== false;
  let closed = false;
  let closing: Promise<void> | undefined;

  const call = createCall(() => link, () => closed, options.callTimeout);
  const background = (method: (api: Remote<SyncWorkerApi>) => Promise<unknown>) => void call(method).catch(report);

  const watchers = createWatchers(
    (repository) => background((api) => api.watch(repository)),
    (repository) => background((api) => api.unwatch(repository)),
  );
  const queries = createQueryWatches(call);

  const setStatus = (next: SyncStatus) => {
    const changed = connected !== undefined && connected !== next.connected;
    connected = next.connected;
    emit(statusCallbacks, next);
    if (changed) emit(connectionCallbacks, connected);
  };

  const listener: TabListener = {
    records: watchers.deliver,
    query: queries.deliver,
    status: (next) => {
      broadcasts++;
      setStatus(next);
    },
    credentialsNeeded: async () => options.onAuthenticationFailed?.() ?? null,
    versionChanged: () => {
      if (versionCallbacks.size) emit(versionCallbacks, undefined);
      else if (document.hidden) reload();
      else addEventListener('visibilitychange', reload, { once: true });
    },
    // Only a window may ask for persistent storage; where it cannot, the worker hears a rejection.
    persist: () => navigator.storage.persist(),
    log: (entry) => emit(logCallbacks, entry),
  };

  const locked = holdTabLock(tabId);

  const attach = async (used: Link, rewatch?: boolean) => {
    await locked;
    const heard = broadcasts;
    const { status, workerId } = await Promise.race([used.api.attach(proxy(listener), credentials, tabId), used.lost]);
    if (broadcasts === heard) setStatus(status);
    if (rewatch) await Promise.all([...watchers.repositories().map((repository) => used.api.watch(repository)), queries.rewatch(used.api)]);
    return workerId;
  };

  /** Starts (or, for an app-built worker, takes) a worker and attaches to it. The worker holds
   *  `workerLockName(id)` while it lives: once this tab is granted it, the worker is gone, and
   *  a new one takes its place with this tab's watchers, credentials and started state. */
  const open = (rewatch?: boolean): Link => {
    const worker = spawn ? spawn() : (given as SharedWorker | Worker);
    const api = wrap<SyncWorkerApi>(('port' in worker ? worker.port : worker) as Endpoint);
    let lose!: (error: Error) => void;
    const lost = new Promise<never>((_, reject) => (lose = reject));
    // A script that fails to load fires a plain `error` Event; an ErrorEvent is an exception inside a running worker.
    worker.addEventListener('error', (event) => event instanceof ErrorEvent || lose(unavailable()));
    lost.catch(ignore);
    const next = { worker, api, lost } as Link;
    next.ready = attach(next, rewatch).then<unknown>((workerId) => {
      void requestLock(workerLockName(workerId), () => {
        if (closed) return;
        lose(unavailable());
        if (spawn) link = open(true);
      });
      // A new worker does not know the sync was started: every tab that started it says so.
      return started && api.start();
    });
    return next;
  };
  let link = open();

  // Leaving the page, or the browser freezing it, detaches it: the worker spends nothing on it.
  // Coming back attaches it again and re-watches: the tab gets the current state in one
  // notification per repository.
  const stopWatchingPage = watchPage(
    () => void link.api.detach().catch(ignore),
    () => (link.ready = attach(link, true)),
  );

  const updateCredentials = (update: Credentials) => {
    Object.assign(credentials, update);
    return call((api) => api.updateCredentials(update));
  };

  return {
    // One implementation for both shapes of `repository`: the types differ, the calls do not.
    repository: ((name: string) => createRepository(name, call, watchers, queries)) as unknown as SyncClient<S>['repository'],
    onStatusChange: (callback) => subscribe(statusCallbacks, callback),
    onConnectionChange: (callback) => subscribe(connectionCallbacks, callback),
    status: () => call((api) => api.status()),
    updateCredentials,
    updateAuthToken: (authToken) => updateCredentials({ authToken }),
    updateHeaders: (headers) => updateCredentials({ headers }),
    start: () => call((api) => ((started = true), api.start())),
    stop: () => call((api) => ((started = false), api.stop())),
    onVersionChange: (callback) => subscribe(versionCallbacks, callback),
    diagnostics: () => call((api) => api.diagnostics()),
    clearLocalData: (namespace) => call((api) => api.clearLocalData(namespace)),
    onLog: (callback) => subscribe(logCallbacks, callback),
    close: () =>
      (closing ??= call((api) => api.detach())
        .catch(ignore)
        .then(() => {
          closed = true;
          stopWatchingPage();
          link.api[releaseProxy]();
          void locked.then((release) => release());
          // A SharedWorker has no terminate: the browser ends it once no tab holds it.
          (link.worker as Partial<Worker>).terminate?.();
        })),
  };
}

const reload = () => location.reload();

function subscribe<T>(callbacks: Set<T>, callback: T): () => void {
  callbacks.add(callback);
  return () => void callbacks.delete(callback);
}

