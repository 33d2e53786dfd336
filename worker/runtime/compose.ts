/**
 * The runtime without its global: builds the parts in dependency order (the database, the
 * status, coordination, the tabs, the namespaces, the engine, the writes) and connects them
 * through their events. A SharedWorker serves it to every tab, one session per port
 * (shared-worker.ts); a dedicated worker to its one tab (dedicated-worker.ts). How it stands
 * among the other runtimes of the profile is the coordination plan's (coordination.ts).
 */
import { nanoid } from 'nanoid';
import type { StorageMode, SyncWorkerApi } from '../../protocol/tab-api';
import { systemClock, type Clock } from '../clock';
import { consoleLogger, DEFAULTS, RUNTIME_VERSION, type SyncWorkerConfig } from '../config';
import { chooseCoordination, type CoordinationPlan } from '../coordination/coordination';
import { webLocks } from '../coordination/tab-liveness';
import { WriterLock } from '../coordination/writer-lock';
import { describe } from '../errors';
import { Emitter } from '../events';
import { indexSpecs } from '../local/query/indexes';
import { RemoteApplier } from '../local/remote';
import { Repositories } from '../local/repositories';
import { WriteQueue } from '../local/writes';
import { browserStorageManager, PersistenceRequest, type StorageManagerLike } from '../storage/persistence';
import { ReplaceableStorage } from '../storage/replaceable-storage';
import { SyncEngine } from '../sync/engine';
import type { CreateSocket } from '../sync/socket';
import { Closing } from './closing';
import { DatabaseOpener } from './database-opener';
import { describeRuntime } from './diagnostics';
import { TabHub } from './hub';
import { IdleDisconnect } from './idle-disconnect';
import { LiveRecordCounts } from './live-counts';
import { forwardingLogger } from './log-forwarding';
import { NamespaceSwitch } from './namespace-switch';
import { QueryService } from './queries';
import { databaseOf, deleteDatabase, idbNamespaceRegistry, resilientRegistry } from './namespaces';
import { HELD_RUNTIME_EVENTS, type RuntimeEvents } from './runtime-events';
import { StatusStore } from './status';
import { StorageLossRecovery } from './storage-loss';
import { StorageModes } from './storage-mode';
import { liveRecords, routedCalls, tabCalls, withSessionStopped } from './tab-calls';
import { TabSession, type SessionHost } from './tab-session';

export interface SyncCoreOptions extends SyncWorkerConfig {
  createSocket: CreateSocket;
  /** How this runtime stands among the other runtimes of the profile; by default the one
   *  SharedWorker, by itself, leading from the start. */
  coordination?: CoordinationPlan;
  /** A newer schema version took over the database and the runtime closed itself. */
  onRetired?: () => void;
  /** `navigator.storage` as the worker sees it (the global's by default; none in Node). */
  storageManager?: StorageManagerLike;
  /** Time for the parts that take it (the system's by default). */
  clock?: Clock;
  /** The Web Locks of the profile (the global's by default; none in Node): the writer lock. */
  locks?: LockManager | undefined;
}

export interface SyncCore {
  /** A new tab session: what one tab calls (through comlink, one per port in a worker). */
  openSession(): SyncWorkerApi;
  /** This runtime's id, as `attach` and `diagnostics` report it. */
  readonly workerId: string;
  /** Where the data lives now: `memory` when IndexedDB failed to open. */
  storageMode(): StorageMode;
  /** The global `online` event. */
  networkOnline(): void;
  /** This runtime now holds the connection: it opens the socket (once started) and its status
   *  becomes every tab's. */
  lead(): Promise<void>;
  /** Closes the socket, waits for running writes, closes the database, lets go of the connection. */
  close(): Promise<void>;
}

export async function openSyncCore(options: SyncCoreOptions): Promise<SyncCore> {
  const events = new Emitter<RuntimeEvents>(HELD_RUNTIME_EVENTS);
  const data = await openData(options, events);
  const parts = buildParts(options, events, data);
  wire(events, parts);
  const { engine, coordination, recovery, closing, hub, modes, worker } = parts;
  await engine.countPending();
  coordination.begin();
  // What the database said while the runtime was being built is acted on now.
  events.on('versionChange', () => closing.retire(parts.log, hub, options.onRetired));
  events.on('storageLost', (reason) => recovery.lost(reason));
  const host = sessionHost(parts);
  return {
    openSession: () => new TabSession(host).api,
    workerId: worker.id,
    storageMode: () => modes.mode,
    networkOnline: () => engine.networkOnline(),
    lead: () => coordination.lead(),
    close: () => closing.close(),
  };
}

/** The namespace registry, then the database of the namespace last active in this profile. */
async function openData(options: SyncCoreOptions, events: Emitter<RuntimeEvents>) {
  const base = options.databaseName ?? DEFAULTS.databaseName;
  const timeout = options.storageOpenTimeout ?? DEFAULTS.storageOpenTimeout;
  // (Read before the tabs can hear warnings: its own go to the app's logger only.)
  const registry = resilientRegistry(idbNamespaceRegistry(base, options.indexedDB), timeout, options.logger ?? consoleLogger);
  const namespaceState = await registry.load();
  const version = options.schemaVersion ?? DEFAULTS.schemaVersion;
  // A bad declaration fails the start, with the declaration named.
  const indexes = indexSpecs(options.indexes ?? {}, Object.keys(options.repositories));
  const opener = new DatabaseOpener({ timeout, version, factory: options.indexedDB, indexes }, databaseOf(base, namespaceState, namespaceState.active), events);
  const opened = await opener.open();
  return { base, registry, namespaceState, opener, opened, version };
}

type OpenedData = Awaited<ReturnType<typeof openData>>;
type Parts = ReturnType<typeof buildParts>;

function buildParts(options: SyncCoreOptions, events: Emitter<RuntimeEvents>, data: OpenedData) {
  const clock = options.clock ?? systemClock;
  const log = forwardingLogger(options.logger ?? consoleLogger, (entry) => events.emit('log', entry));
  const { opener, opened } = data;
  const repositories = new Repositories(options.repositories);
  const storage = new ReplaceableStorage(opened.storage, () => opener.lost('closed'));
  const worker = { id: nanoid(), startedAt: new Date(clock.now()).toISOString(), version: RUNTIME_VERSION, schemaVersion: data.version };
  const status = new StatusStore((snapshot) => events.emit('statusPublished', snapshot), clock);
  const modes = new StorageModes(status, log, opened);
  const coordination = chooseCoordination(options.coordination ?? { strategy: 'shared' }, opened.mode, { id: worker.id, status, storage, log, clock });
  // Other runtimes share the database exactly when coordination shares the outbox with them.
  const writerLock = new WriterLock(options.locks ?? webLocks(), data.base, !coordination.sharesOutbox);
  const queries = new QueryService(storage);
  const liveCounts = new LiveRecordCounts((repository) => storage.getRecords(repository));
  const hub = new TabHub((repository) => liveRecords(storage, repository), log, {
    watchTab: options.coordination?.strategy === 'shared' ? options.coordination.watchTab : undefined,
    recordsChanged: (changed) => liveCounts.changed(changed),
    tabsChanged: (count) => events.emit('tabsChanged', count),
  });
  const namespaces = new NamespaceSwitch(
    {
      base: data.base,
      registry: data.registry,
      storage,
      open: (name) => opener.open(name),
      replaced: (fresh) => events.settle('dataReplaced', fresh),
      deleteDatabase: (name) => deleteDatabase(options.indexedDB ?? indexedDB, name),
      moved: (namespace) => coordination.namespaceMoved(namespace),
    },
    data.namespaceState,
  );
  const remote = new RemoteApplier(repositories, storage, options.resolveConflict, (rows) => events.emit('committed', { rows, written: 0 }), log);
  const engine = new SyncEngine({
    ...engineTimings(options),
    websocketUrl: options.websocketUrl,
    createSocket: options.createSocket,
    sharedOutbox: coordination.sharesOutbox,
    serverTakes: (frameBytes) => repositories.serverTakes(frameBytes),
    repositories: repositories.names,
    storage,
    status,
    remote,
    askForCredentials: async () => {
      const offered = await hub.requestCredentials();
      if (!offered) coordination.credentialsNotFound();
      return offered;
    },
    namespaceNamed: (namespace) => namespaces.named(namespace),
    log,
    clock,
  });
  const writes = new WriteQueue(storage, () => clock.now(), (rows, written, queued) => {
    // The push leaves first (at once, from the entries the commit returned), so the server works
    // on it while this worker fans the change out to every tab.
    engine.outboxGrew(written, queued);
    events.emit('committed', { rows, written });
  });
  const idle = new IdleDisconnect(engine, options.idleDisconnectDelay ?? DEFAULTS.idleDisconnectDelay, clock);
  const closing = new Closing({ hub, coordination, idle, engine, writes, status, storage, writerLock });
  const recovery = new StorageLossRecovery({ storage, opener, engine, status, modes, log, clock, replaced: () => events.settle('dataReplaced', undefined), closed: () => closing.closed });
  const storageManager = options.storageManager ?? browserStorageManager();
  const persistence = new PersistenceRequest(hub, log, storageManager);
  return { clock, log, repositories, storage, worker, status, modes, coordination, writerLock, queries, liveCounts, hub, namespaces, engine, writes, idle, closing, recovery, storageManager, persistence };
}

function engineTimings(options: SyncCoreOptions) {
  const heartbeatInterval = options.heartbeatInterval ?? DEFAULTS.heartbeatInterval;
  return {
    reconnectDelay: options.reconnectDelay ?? DEFAULTS.reconnectDelay,
    maxReconnectDelay: options.maxReconnectDelay ?? DEFAULTS.maxReconnectDelay,
    heartbeatInterval,
    pongTimeout: options.pongTimeout ?? Math.min(DEFAULTS.pongTimeout, heartbeatInterval),
    connectTimeout: options.connectTimeout ?? DEFAULTS.connectTimeout,
    stallAfter: options.stallAfter ?? DEFAULTS.stallAfter,
  };
}

/** Who hears what. */
function wire(events: Emitter<RuntimeEvents>, parts: Parts): void {
  const { engine, hub, coordination, queries, liveCounts, namespaces, modes, idle, closing, log, storage, writerLock } = parts;
  if (!coordination.leading()) engine.block('standby');
  else writerLock.acquire();
  // Loaded before the next commit (the storage makes commits wait for it), dropped with the lock.
  const knowVersions = () => storage.knowVersions().catch((error: unknown) => log.warn(`could not load the records' versions: ${describe(error)}`));
  writerLock.events.on('holding', knowVersions);
  writerLock.events.on('lost', () => storage.forgetVersions());
  events.on('log', (entry) => hub.broadcastLog(entry));
  events.on('statusPublished', (snapshot) => coordination.statusChanged(snapshot));
  events.on('committed', ({ rows, written }) => {
    queries.changed(rows);
    hub.changed(rows);
    coordination.committed(rows, written);
  });
  if (coordination.outlivesTabs) events.on('tabsChanged', (count) => idle.tabsChanged(count));
  events.on('dataReplaced', async (fresh) => {
    if (fresh) modes.reopened(fresh);
    // A fresh database starts without known versions: the writer loads its own.
    if (writerLock.holds()) void knowVersions();
    engine.storageReplaced();
    await engine.countPending().catch(() => {});
    liveCounts.reset();
    await hub.rewatchAll();
  });
  const heard = coordination.events;
  heard.on('leading', async () => {
    // Followers wrote to the outbox without this runtime counting.
    await engine.countPending();
    engine.unblock('standby');
    writerLock.acquire();
  });
  heard.on('shown', (status) => hub.broadcastStatus(status));
  heard.on('peerRecords', (rows) => {
    queries.changed(rows);
    hub.changed(rows);
  });
  heard.on('outboxChanged', () => engine.outboxChanged());
  heard.on('peerWrote', () => {
    engine.outboxChanged();
    // The count that outboxChanged began, and one more if it began before the write was visible.
    return engine.countPending();
  });
  heard.on('start', () => engine.start());
  heard.on('stop', () => engine.stop());
  heard.on('credentials', (credentials) => engine.updateCredentials(credentials));
  heard.on('credentialsNeeded', async () => {
    const offered = await hub.requestCredentials();
    if (!offered || closing.closed) return;
    engine.updateCredentials(offered);
    coordination.credentialsUpdated(offered);
  });
  heard.on('namespace', (namespace) => {
    namespaces.follow(namespace).catch((error: unknown) => log.warn(`could not follow the namespace another worker moved to: ${describe(error)}`));
  });
  heard.on('cleared', () => withSessionStopped(engine, () => events.settle('dataReplaced', undefined)));
}

/** What each tab session needs of the runtime. */
function sessionHost(parts: Parts): SessionHost {
  const { hub, queries, closing, repositories, modes, persistence, engine, coordination, worker } = parts;
  const assertOpen = () => closing.assertOpen();
  const diagnostics = () => describeRuntime({ ...parts, losses: () => parts.recovery.losses, closed: () => closing.closed });
  return {
    hub,
    queries,
    shared: routedCalls(tabCalls({ ...parts, assertOpen, diagnostics }), coordination, assertOpen),
    assertOpen,
    assertRepository: (repository) => {
      assertOpen();
      repositories.assertKnown(repository);
    },
    async attached(credentials) {
      if (modes.mode === 'indexeddb') persistence.tabAttached();
      if (credentials) engine.offerCredentials(credentials);
      await coordination.settled();
      return { status: coordination.shown(), workerId: worker.id };
    },
  };
}
