/**
 * The runtime without its global: storage, repositories, writes, the engine and the tab hub,
 * wired together behind the tab API. A SharedWorker exposes it to every tab (shared-worker.ts), a
 * dedicated worker to its one tab (dedicated-worker.ts). Beside other runtimes of the profile on
 * the same database (`peers`), only the one told to `lead` opens the socket; the others show its
 * status and pass their tabs' writes and requests to it.
 */
import { nanoid } from 'nanoid';
import { EVENT_ID } from '../../protocol/limits';
import type { Diagnostics, StorageMode, StoredRecord, SyncWorkerApi } from '../../protocol/tab-api';
import { consoleLogger, DEFAULTS, RUNTIME_VERSION, type SyncWorkerConfig } from '../config';
import { SyncEngine } from '../sync/engine';
import { systemClock, type Clock } from '../clock';
import { describe, storageFailure, syncError } from '../errors';
import { TabHub, type TabWatcher } from './hub';
import { forwardingLogger } from './log-forwarding';
import { MemoryStorage } from '../storage/memory-store';
import { NamespaceSwitch } from './namespace-switch';
import { databaseOf, deleteDatabase, idbNamespaceRegistry, resilientRegistry } from './namespaces';
import { openStorage, type OpenedStorage } from '../storage/open-storage';
import type { Peers } from '../coordination/peers';
import { browserStorageManager, PersistenceRequest, storageEstimate, type StorageManagerLike } from '../storage/persistence';
import { LiveRecordCounts } from './live-counts';
import { RemoteApplier } from '../local/remote';
import { ReplaceableStorage } from '../storage/replaceable-storage';
import { assertRecordId, Repositories } from '../local/repositories';
import { Role } from '../coordination/role';
import type { CreateSocket } from '../sync/socket';
import { StatusStore } from './status';
import { WriteQueue } from '../local/writes';

type LossReason = 'deleted' | 'closed';
/** Losses this close together (ms) count as one run: the third of a run is not answered with
 *  another fresh database (a clearing still under way may take the first fresh one too), but with
 *  memory, instead of looping. */
const LOSS_LOOP_MS = 10_000;
const LOSSES_BEFORE_MEMORY = 3;
/** A fresh database right after a loss may refuse to open for a moment: tries before memory. */
const REOPEN_RETRIES = 10;

export interface SyncCoreOptions extends SyncWorkerConfig {
  createSocket: CreateSocket;
  /** The other runtimes of this profile on the same database; none for a lone runtime. */
  peers?: Peers;
  /** Reports tabs that are gone without detaching (crashed, killed). */
  watchTab?: TabWatcher | undefined;
  /** How tabs reach this runtime: one SharedWorker for all, or a dedicated worker each. */
  scope?: 'shared' | 'dedicated';
  /** Opens without the right to connect: the socket waits for `lead()`. */
  standby?: boolean;
  /** A newer schema version took over the database and the runtime closed itself. */
  onRetired?: () => void;
  /** `navigator.storage` as the worker sees it (the global's by default; none in Node). */
  storageManager?: StorageManagerLike;
  /** Time and timers of the sync engine, the status and the idle disconnect; Node tests pass a
   *  manual clock. `systemClock` by default. */
  clock?: Clock;
}

export interface SyncCore {
  /** What tabs call (through comlink in a worker). */
  readonly api: SyncWorkerApi;
  /** This runtime's id, as `attach` and `diagnostics` report it. */
  readonly workerId: string;
  /** Where the data lives now: `memory` when IndexedDB failed to open. */
  storageMode(): StorageMode;
  /** The global `online` event. */
  networkOnline(): void;
  /** This runtime now holds the connection: it opens the socket (once started) and its status
   *  becomes every tab's. */
  lead(): Promise<void>;
  /** Closes the socket, waits for running writes, closes the database. */
  close(): Promise<void>;
}

export async function openSyncCore(options: SyncCoreOptions): Promise<SyncCore> {
  // Warnings and errors reach the tabs too: nothing is logged before `hub` exists.
  const log = forwardingLogger(options.logger ?? consoleLogger, (entry) => hub.broadcastLog(entry));
  const scope = options.scope ?? 'shared';
  const repositories = new Repositories(options.repositories);
  const schemaVersion = options.schemaVersion ?? DEFAULTS.schemaVersion;
  const databaseName = options.databaseName ?? DEFAULTS.databaseName;
  // The database may ask to be let go (or be taken away) before the runtime is fully built:
  // remember, act after.
  let retireRequested = false;
  let retire = () => {
    retireRequested = true;
  };
  let lostEarly: LossReason | undefined;
  let storageLost = (reason: LossReason) => {
    lostEarly ??= reason;
  };
  // One loss may be announced twice (the connection's `close` event, and a call that found it
  // closed first), and a database already replaced may still report: only the first report about
  // the newest database counts.
  let opens = 0;
  let announced = 0;
  const lostNewest = (reason: LossReason, generation = opens) => {
    if (generation !== opens || announced === generation) return;
    announced = generation;
    storageLost(reason);
  };
  const storageOpenTimeout = options.storageOpenTimeout ?? DEFAULTS.storageOpenTimeout;
  // One database per namespace: the one last active in this profile opens first (namespaces.ts).
  // (Read before the tabs can hear warnings: its own go to the app's logger only.)
  const registry = resilientRegistry(idbNamespaceRegistry(databaseName, options.indexedDB), storageOpenTimeout, options.logger ?? consoleLogger);
  const namespaceState = await registry.load();
  let database = databaseOf(databaseName, namespaceState, namespaceState.active);
  const open = (name = database, retries?: number) => {
    const generation = ++opens;
    database = name;
    return openStorage(
      name,
      storageOpenTimeout,
      { version: schemaVersion, factory: options.indexedDB, onVersionChange: () => retire(), onLost: (reason) => lostNewest(reason, generation) },
      { retries },
    );
  };
  const opened = await open();
  let mode = opened.mode;
  const storage = new ReplaceableStorage(opened.storage, () => lostNewest('closed'));
  // In memory, dedicated workers share nothing: each is alone, and connects for itself.
  const alone = mode === 'memory' && scope === 'dedicated';
  if (alone) options.peers?.close();
  const worker = { id: nanoid(), startedAt: new Date().toISOString(), version: RUNTIME_VERSION };

  const liveRecords = async (repository: string): Promise<StoredRecord[]> => {
    const rows = await readStorage(() => storage.getRecords(repository));
    return rows.flatMap((row) => (row.deleted || !row.data ? [] : [row.data]));
  };

  const liveCounts = new LiveRecordCounts((repository) => storage.getRecords(repository));
  const clock = options.clock ?? systemClock;
  let idleTimer: ReturnType<Clock['setTimeout']> | undefined;
  const hub = new TabHub(liveRecords, log, {
    watchTab: options.watchTab,
    recordsChanged: (repositories) => liveCounts.changed(repositories),
    // A dedicated worker ends with its tab; a SharedWorker may outlive its last tab (a page in
    // the back/forward cache keeps it), and then closes the socket after a grace period.
    tabsChanged: (count) => {
      if (scope === 'dedicated') return;
      clock.clear(idleTimer);
      if (count > 0) engine.unblock('no_tabs');
      else idleTimer = clock.setTimeout(() => engine.block('no_tabs'), options.idleDisconnectDelay ?? DEFAULTS.idleDisconnectDelay);
    },
  });
  // Publishing is deferred to the next task: `role` exists by then.
  const status = new StatusStore((snapshot) => role.statusChanged(snapshot), clock);
  const remote = new RemoteApplier(
    repositories,
    storage,
    options.resolveConflict,
    (rows) => {
      hub.changed(rows);
      role.committed(rows, 0);
    },
    log,
  );
  const heartbeatInterval = options.heartbeatInterval ?? DEFAULTS.heartbeatInterval;
  const engine = new SyncEngine({
    websocketUrl: options.websocketUrl,
    createSocket: options.createSocket,
    reconnectDelay: options.reconnectDelay ?? DEFAULTS.reconnectDelay,
    maxReconnectDelay: options.maxReconnectDelay ?? DEFAULTS.maxReconnectDelay,
    heartbeatInterval,
    pongTimeout: options.pongTimeout ?? Math.min(DEFAULTS.pongTimeout, heartbeatInterval),
    connectTimeout: options.connectTimeout ?? DEFAULTS.connectTimeout,
    stallAfter: options.stallAfter ?? DEFAULTS.stallAfter,
    sharedOutbox: options.peers !== undefined && !alone,
    serverTakes: (frameBytes) => repositories.serverTakes(frameBytes),
    repositories: repositories.names,
    storage,
    status,
    remote,
    askForCredentials: async () => {
      const offered = await hub.requestCredentials();
      if (!offered) role.credentialsNotFound();
      return offered;
    },
    namespaceNamed: (namespace): Promise<boolean> => namespaces.named(namespace),
    log,
    clock,
  });
  /** The storage holds other data now (a fresh database, another namespace's, or none): what
   *  was counted, synced and shown of the previous data is not there. */
  const dataReplaced = async (fresh?: OpenedStorage) => {
    if (fresh && fresh.mode !== mode) useMode(fresh.mode, fresh.reason);
    engine.storageReplaced();
    await engine.countPending().catch(() => {});
    liveCounts.reset();
    await hub.rewatchAll();
  };
  /** Runs `change` of the shown data with the session stopped: a catch-up under way would write
   *  cursors into the emptied database. The next session catches up from the start. */
  const withSessionStopped = async <T>(change: () => Promise<T>): Promise<T> => {
    engine.block('clearing');
    try {
      return await change();
    } finally {
      engine.unblock('clearing');
    }
  };
  const namespaces = new NamespaceSwitch(
    {
      base: databaseName,
      registry,
      storage,
      open: (name) => open(name),
      replaced: dataReplaced,
      deleteDatabase: (name) => deleteDatabase(options.indexedDB ?? indexedDB, name),
      moved: (namespace): void => role.namespaceMoved(namespace),
    },
    namespaceState,
  );
  const role = new Role(
    {
      peers: alone ? undefined : options.peers,
      hub,
      engine,
      status,
      storage,
      log,
      follow: {
        namespace: (namespace) => void namespaces.follow(namespace).catch((error: unknown) => log.warn(`could not follow the namespace another worker moved to: ${describe(error)}`)),
        cleared: () => void withSessionStopped(dataReplaced),
      },
    },
    !options.standby || alone,
  );
  const writes = new WriteQueue(storage, Date.now, (rows, events, queued) => {
    // The push leaves first (at once, from the entries the commit returned), so the server works
    // on it while this worker fans the change out to every tab.
    engine.outboxGrew(events, queued);
    hub.changed(rows);
    role.committed(rows, events);
  });
  await engine.countPending();

  let closed = false;
  let closing: Promise<void> | undefined;
  const assertOpen = (): void => {
    if (closed) throw syncError('closed', 'the sync runtime is closed');
  };
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      closed = true;
      clock.clear(idleTimer);
      role.close();
      await engine.close();
      await writes.idle();
      status.close();
      storage.close();
    })());
  retire = () => {
    if (closed) return;
    log.warn('a newer version of the app opened the database: this worker stops syncing');
    hub.broadcastVersionChange();
    void close().then(() => options.onRetired?.());
  };
  if (retireRequested) retire();

  // ── storage taken away, or never there ──
  let losses = 0;
  /** When the recent losses happened. */
  let recentLosses: number[] = [];
  let replacing = false;
  /** The fresh database was lost too, while it was being put in place. */
  let lostAgain: LossReason | undefined;
  const useMode = (next: StorageMode, reason: string | undefined) => {
    mode = next;
    status.update({ storage: next });
    if (next === 'memory') log.warn(`${reason ?? 'no IndexedDB'}: keeping the data in memory, nothing survives this worker`);
  };
  if (mode === 'memory') useMode(mode, opened.reason);
  storageLost = (reason) => {
    if (closed) return;
    if (replacing) {
      lostAgain ??= reason;
      return;
    }
    replacing = true;
    losses++;
    // Let go at once (a deletion waits for this connection), and stop the session: what it
    // catches up from now on belongs to the lost database's cursors.
    const survivors = storage.lose();
    const unsent = status.get().pending;
    engine.block('storage_lost');
    const what = reason === 'deleted' ? 'the database was deleted' : 'the browser closed the database (site data cleared?)';
    status.error('storage_lost', `${what}: opening a fresh one`);
    void (async () => {
      // Fresh databases lost again and again would loop: memory instead.
      recentLosses = [...recentLosses.filter((at) => Date.now() - at < LOSS_LOOP_MS), Date.now()];
      const looping = recentLosses.length >= LOSSES_BEFORE_MEMORY;
      const fresh = looping ? { storage: new MemoryStorage(), mode: 'memory' as const, reason: `the database was taken away ${LOSSES_BEFORE_MEMORY} times in a row` } : await open(database, REOPEN_RETRIES);
      if (closed) return fresh.storage.close();
      storage.replace(fresh.storage);
      if (fresh.mode !== mode) useMode(fresh.mode, fresh.reason);
      let requeued = 0;
      try {
        requeued = await storage.requeue(survivors);
      } catch (error) {
        log.error(`could not queue the unsent writes again: ${describe(error)}`);
      }
      const lost = Math.max(0, unsent - requeued);
      const message = `${what}: re-syncing from the server; ${requeued} unsent writes queued again${lost > 0 ? `, ${lost} lost` : ''}`;
      log.warn(message);
      status.error('storage_lost', message);
      await dataReplaced();
      replacing = false;
      const again = lostAgain;
      lostAgain = undefined;
      if (again) storageLost(again);
      else engine.unblock('storage_lost');
    })();
  };
  if (lostEarly) storageLost(lostEarly);
  const storageManager = options.storageManager ?? browserStorageManager();
  const persistence = new PersistenceRequest(hub, log, storageManager);

  const api: SyncWorkerApi = {
    async attach(tabId, listener, credentials) {
      assertOpen();
      hub.attach(tabId, listener);
      if (mode === 'indexeddb') persistence.tabAttached();
      if (credentials) engine.offerCredentials(credentials);
      await role.settled();
      return { status: role.shown(), workerId: worker.id };
    },
    async detach(tabId) {
      hub.detach(tabId);
    },
    async upsert(repository, record, eventId, retried) {
      assertOpen();
      const data = repositories.parseLocal(repository, record);
      assertEventId(eventId);
      await writes.write(repository, data.id, data, eventId, retried === true);
    },
    async delete(repository, id, eventId, retried) {
      assertOpen();
      repositories.assertKnown(repository);
      assertRecordId(id);
      assertEventId(eventId);
      await writes.write(repository, id, undefined, eventId, retried === true);
    },
    async get(repository, id) {
      assertOpen();
      repositories.assertKnown(repository);
      assertRecordId(id);
      const row = await readStorage(() => storage.getRecord(repository, id));
      return row && !row.deleted ? row.data : undefined;
    },
    async getAll(repository) {
      assertOpen();
      repositories.assertKnown(repository);
      return liveRecords(repository);
    },
    async watch(tabId, repository) {
      assertOpen();
      repositories.assertKnown(repository);
      if (!hub.has(tabId)) throw syncError('closed', `tab ${tabId} is not attached`);
      await hub.watch(tabId, repository);
    },
    async unwatch(tabId, repository) {
      hub.unwatch(tabId, repository);
    },
    async status() {
      return role.shown();
    },
    async start() {
      assertOpen();
      engine.start();
      role.started(true);
    },
    async stop() {
      engine.stop();
      role.started(false);
    },
    async updateCredentials(credentials) {
      assertOpen();
      engine.updateCredentials(credentials);
      role.credentialsUpdated(credentials);
    },
    async clearLocalData(namespace) {
      assertOpen();
      const shown = namespace === undefined || namespace === namespaces.active;
      const clear = () => namespaces.clear(namespace);
      try {
        if (await (shown ? withSessionStopped(clear) : clear())) role.cleared();
      } catch (error) {
        throw storageFailure(error);
      }
    },
    async diagnostics(): Promise<Diagnostics> {
      // A closed runtime (or a broken database) still describes itself, without its data.
      const [oldest, browser, perRepository] = await Promise.all([
        closed ? [] : storage.readOutbox(0, 1).catch(() => []),
        storageEstimate(storageManager),
        closed ? [] : Promise.all(repositories.names.map(async (name) => {
          const [records, cursor] = await Promise.all([liveCounts.count(name), storage.getCursor(name)]);
          const lastSyncAt = engine.lastSyncs().get(name);
          return [name, { records, cursor, ...(lastSyncAt ? { lastSyncAt } : {}) }] as const;
        })).catch(() => []),
      ]);
      const oldestAt = oldest[0] ? Date.parse(oldest[0].event.createdAt) : undefined;
      return {
        worker: { ...worker, mode: scope === 'shared' ? 'shared' : role.isLeader ? 'leader' : 'follower', schemaVersion },
        connection: engine.connectionInfo(),
        // The outbox is the database's: a follower counts it as the leader does.
        outbox: {
          pending: status.get().pending,
          oldestAgeMs: oldestAt === undefined ? null : Math.max(0, Date.now() - oldestAt),
          setAside: [...engine.setAsideLately()],
        },
        storage: { mode, ...(mode === 'memory' ? { persisted: false } : browser), losses, namespace: namespaces.active, database: namespaces.database },
        repositories: Object.fromEntries(perRepository),
        tabs: hub.describe(),
      };
    },
  };

  return {
    api,
    workerId: worker.id,
    storageMode: () => mode,
    networkOnline: () => engine.networkOnline(),
    lead: () => role.lead(),
    close,
  };
}

/** A tab's id for its write becomes the event's id: it must be one the server accepts. */
function assertEventId(eventId: string | undefined): void {
  if (eventId !== undefined && (typeof eventId !== 'string' || !EVENT_ID.test(eventId))) {
    throw syncError('invalid_record', `eventId must match ${EVENT_ID}`);
  }
}

async function readStorage<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw storageFailure(error);
  }
}
