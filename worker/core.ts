/**
 * The runtime without its global: storage, repositories, writes, the engine and the tab hub,
 * wired together behind the tab API. A SharedWorker exposes it to every tab (shared-worker.ts);
 * a dedicated worker can reuse it as is.
 */
import type { StoredRecord, SyncWorkerApi } from '../protocol/tab-api';
import { consoleLogger, DEFAULTS, type SyncWorkerConfig } from './config';
import { SyncEngine } from './engine';
import { storageFailure, syncError } from './errors';
import { TabHub } from './hub';
import { openIdbStorage } from './idb-store';
import { RemoteApplier } from './remote';
import { assertRecordId, Repositories } from './repositories';
import type { CreateSocket } from './socket';
import { StatusStore } from './status';
import { WriteQueue } from './writes';

export interface SyncCoreOptions extends SyncWorkerConfig {
  createSocket: CreateSocket;
}

export interface SyncCore {
  /** What tabs call (through comlink in a worker). */
  readonly api: SyncWorkerApi;
  /** The global `online` event. */
  networkOnline(): void;
  /** Closes the socket, waits for running writes, closes the database. */
  close(): Promise<void>;
}

export async function openSyncCore(options: SyncCoreOptions): Promise<SyncCore> {
  const log = options.logger ?? consoleLogger;
  const repositories = new Repositories(options.repositories);
  const storage = await openIdbStorage(options.databaseName ?? DEFAULTS.databaseName);

  const liveRecords = async (repository: string): Promise<StoredRecord[]> => {
    const rows = await readStorage(() => storage.getRecords(repository));
    return rows.flatMap((row) => (row.deleted || !row.data ? [] : [row.data]));
  };
  const hub = new TabHub(liveRecords, log);
  const status = new StatusStore((snapshot) => hub.broadcastStatus(snapshot));
  const remote = new RemoteApplier(repositories, storage, options.resolveConflict, (changed) => hub.changed(changed), log);
  const engine = new SyncEngine({
    websocketUrl: options.websocketUrl,
    createSocket: options.createSocket,
    reconnectDelay: options.reconnectDelay ?? DEFAULTS.reconnectDelay,
    maxReconnectDelay: options.maxReconnectDelay ?? DEFAULTS.maxReconnectDelay,
    heartbeatInterval: options.heartbeatInterval ?? DEFAULTS.heartbeatInterval,
    repositories: repositories.names,
    storage,
    status,
    remote,
    askForCredentials: () => hub.requestCredentials(),
    log,
  });
  const writes = new WriteQueue(storage, Date.now, (rows, events) => {
    hub.changed(rows);
    engine.outboxGrew(events);
  });
  await engine.countPending();

  let closed = false;
  const assertOpen = (): void => {
    if (closed) throw syncError('closed', 'the sync runtime is closed');
  };

  const api: SyncWorkerApi = {
    async attach(tabId, listener, credentials) {
      assertOpen();
      hub.attach(tabId, listener);
      if (credentials) engine.offerCredentials(credentials);
      return status.get();
    },
    async detach(tabId) {
      hub.detach(tabId);
    },
    async upsert(repository, record) {
      assertOpen();
      const data = repositories.parseLocal(repository, record);
      await writes.write(repository, data.id, data);
    },
    async delete(repository, id) {
      assertOpen();
      repositories.assertKnown(repository);
      assertRecordId(id);
      await writes.write(repository, id, undefined);
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
      return status.get();
    },
    async start() {
      assertOpen();
      engine.start();
    },
    async stop() {
      engine.stop();
    },
    async updateCredentials(credentials) {
      assertOpen();
      engine.updateCredentials(credentials);
    },
  };

  return {
    api,
    networkOnline: () => engine.networkOnline(),
    async close() {
      if (closed) return;
      closed = true;
      await engine.close();
      await writes.idle();
      status.close();
      storage.close();
    },
  };
}

async function readStorage<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw storageFailure(error);
  }
}
