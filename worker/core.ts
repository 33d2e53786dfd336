/**
 * The runtime without its global: storage, repositories, writes, the engine and the tab hub,
 * wired together behind the tab API. A SharedWorker exposes it to every tab (shared-worker.ts), a
 * dedicated worker to its one tab (dedicated-worker.ts). Beside other runtimes of the profile on
 * the same database (`peers`), only the one told to `lead` opens the socket; the others show its
 * status and pass their tabs' writes and requests to it.
 */
import { nanoid } from 'nanoid';
import { EVENT_ID } from '../protocol/limits';
import type { Diagnostics, StoredRecord, SyncWorkerApi } from '../protocol/tab-api';
import { consoleLogger, DEFAULTS, type SyncWorkerConfig } from './config';
import { SyncEngine } from './engine';
import { storageFailure, syncError } from './errors';
import { TabHub, type TabWatcher } from './hub';
import { openIdbStorage } from './idb-store';
import type { Peers } from './peers';
import { RemoteApplier } from './remote';
import { assertRecordId, Repositories } from './repositories';
import { Role } from './role';
import type { CreateSocket } from './socket';
import { StatusStore } from './status';
import { WriteQueue } from './writes';

export interface SyncCoreOptions extends SyncWorkerConfig {
  createSocket: CreateSocket;
  /** The other runtimes of this profile on the same database; none for a lone runtime. */
  peers?: Peers;
  /** Reports tabs that are gone without detaching (crashed, killed). */
  watchTab?: TabWatcher;
  /** How tabs reach this runtime: one SharedWorker for all, or a dedicated worker each. */
  scope?: 'shared' | 'dedicated';
  /** Opens without the right to connect: the socket waits for `lead()`. */
  standby?: boolean;
  /** A newer schema version took over the database and the runtime closed itself. */
  onRetired?: () => void;
}

export interface SyncCore {
  /** What tabs call (through comlink in a worker). */
  readonly api: SyncWorkerApi;
  /** The global `online` event. */
  networkOnline(): void;
  /** This runtime now holds the connection: it opens the socket (once started) and its status
   *  becomes every tab's. */
  lead(): Promise<void>;
  /** Closes the socket, waits for running writes, closes the database. */
  close(): Promise<void>;
}

export async function openSyncCore(options: SyncCoreOptions): Promise<SyncCore> {
  const log = options.logger ?? consoleLogger;
  const scope = options.scope ?? 'shared';
  const repositories = new Repositories(options.repositories);
  const schemaVersion = options.schemaVersion ?? DEFAULTS.schemaVersion;
  // The database may ask to be let go before the runtime is fully built: remember, retire after.
  let retireRequested = false;
  let retire = () => {
    retireRequested = true;
  };
  const storage = await openIdbStorage(options.databaseName ?? DEFAULTS.databaseName, {
    version: schemaVersion,
    onVersionChange: () => retire(),
  });
  const worker = { id: nanoid(), startedAt: new Date().toISOString() };

  const liveRecords = async (repository: string): Promise<StoredRecord[]> => {
    const rows = await readStorage(() => storage.getRecords(repository));
    return rows.flatMap((row) => (row.deleted || !row.data ? [] : [row.data]));
  };

  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const hub = new TabHub(liveRecords, log, {
    watchTab: options.watchTab,
    // A dedicated worker ends with its tab; a SharedWorker may outlive its last tab (a page in
    // the back/forward cache keeps it), and then closes the socket after a grace period.
    tabsChanged: (count) => {
      if (scope === 'dedicated') return;
      clearTimeout(idleTimer);
      if (count > 0) engine.unblock('no_tabs');
      else idleTimer = setTimeout(() => engine.block('no_tabs'), options.idleDisconnectDelay ?? DEFAULTS.idleDisconnectDelay);
    },
  });
  // Publishing is deferred to the next task: `role` exists by then.
  const status = new StatusStore((snapshot) => role.statusChanged(snapshot));
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
    repositories: repositories.names,
    storage,
    status,
    remote,
    askForCredentials: async () => {
      const offered = await hub.requestCredentials();
      if (!offered) role.credentialsNotFound();
      return offered;
    },
    log,
  });
  const role = new Role({ peers: options.peers, hub, engine, status, storage, log }, !options.standby);
  const writes = new WriteQueue(storage, Date.now, (rows, events) => {
    hub.changed(rows);
    engine.outboxGrew(events);
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
      clearTimeout(idleTimer);
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

  const api: SyncWorkerApi = {
    async attach(tabId, listener, credentials) {
      assertOpen();
      hub.attach(tabId, listener);
      if (credentials) engine.offerCredentials(credentials);
      await role.settled();
      return role.shown();
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
    async diagnostics(): Promise<Diagnostics> {
      return {
        worker: { ...worker, mode: scope === 'shared' ? 'shared' : role.isLeader ? 'leader' : 'follower', schemaVersion },
        connection: engine.connectionInfo(),
        tabs: hub.describe(),
      };
    },
  };

  return {
    api,
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
