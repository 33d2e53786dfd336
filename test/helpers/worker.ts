/**
 * The worker core in Node: fake-indexeddb for IndexedDB, the `ws` WebSocket as its transport,
 * a listener that records what a tab would receive, and a scriptable fake sync server.
 */
import 'fake-indexeddb/auto';
import { deleteDB, openDB } from 'idb';
import * as v from 'valibot';
import WebSocket from 'ws';
import type { ClientMessage, ServerMessage } from '../../protocol/messages';
import type { Credentials, LogEntry, RecordsChange, StoredRecord, SyncStatus, SyncWorkerApi, TabListener } from '../../protocol/tab-api';
import { applyChange } from '../../src/records-view';
import type { Logger } from '../../worker/config';
import { openSyncCore, type SyncCore, type SyncCoreOptions } from '../../worker/runtime/compose';
import { openPeers } from '../../worker/coordination/peers';
import type { SocketLike } from '../../worker/sync/socket';
import { waitFor } from './wait';

export { reactionsRun, sleep, waitFor } from './wait';

export const TodoSchema = v.object({ id: v.string(), title: v.pipe(v.string(), v.maxLength(500)), done: v.boolean() });

let databases = 0;
export function uniqueDatabaseName(): string {
  return `tabsync-test-${process.pid}-${++databases}`;
}

/** Collects warnings instead of printing them. */
export class RecordingLogger implements Logger {
  readonly warnings: string[] = [];
  warn(message: string): void {
    this.warnings.push(message);
  }
}

/** What passed over the transport: frames sent, frames received, sockets opened. */
export class Traffic {
  readonly sent: ClientMessage[] = [];
  readonly received: unknown[] = [];
  sockets = 0;

  /** A `createSocket` that records into this object. */
  readonly createSocket = (url: string): SocketLike => {
    this.sockets++;
    const socket = new WebSocket(url);
    const send = socket.send.bind(socket);
    socket.send = ((data: string) => {
      this.sent.push(JSON.parse(data) as ClientMessage);
      send(data);
    }) as typeof socket.send;
    socket.addEventListener('message', (event) => {
      if (typeof event.data !== 'string' || event.data.length > 1_000_000) return;
      try {
        this.received.push(JSON.parse(event.data));
      } catch {
        // Not JSON: a hostile frame, which the core itself must survive.
      }
    });
    return socket;
  };

  sentOf<T extends ClientMessage['type']>(type: T): Extract<ClientMessage, { type: T }>[] {
    return this.sent.filter((m): m is Extract<ClientMessage, { type: T }> => m.type === type);
  }

  receivedOf<T extends ServerMessage['type']>(type: T): Extract<ServerMessage, { type: T }>[] {
    return this.received.filter((m): m is Extract<ServerMessage, { type: T }> => (m as { type?: unknown }).type === type);
  }
}

export interface TestCore extends SyncCore {
  databaseName: string;
  traffic: Traffic;
  logger: RecordingLogger;
  /** A session of no tab in particular, for the calls every tab makes alike. */
  api: SyncWorkerApi;
  /** The session of the tab `id` (the same one each time), whose attach names `id` as its
   *  liveness lock. */
  tab(id: string): SyncWorkerApi;
}

export async function openTestCore(websocketUrl: string, options: Partial<SyncCoreOptions> = {}): Promise<TestCore> {
  const traffic = new Traffic();
  const logger = new RecordingLogger();
  const databaseName = options.databaseName ?? uniqueDatabaseName();
  const core = await openSyncCore({
    websocketUrl,
    repositories: { todos: TodoSchema },
    reconnectDelay: 50,
    maxReconnectDelay: 400,
    createSocket: traffic.createSocket,
    logger,
    ...options,
    databaseName,
  });
  const tabs = new Map<string, SyncWorkerApi>();
  const tab = (id: string): SyncWorkerApi => {
    let session = tabs.get(id);
    if (!session) {
      const opened = core.openSession();
      session = { ...opened, attach: (listener, credentials, tabLock = id) => opened.attach(listener, credentials, tabLock) };
      tabs.set(id, session);
    }
    return session;
  };
  return Object.assign(core, { databaseName, traffic, logger, api: core.openSession(), tab });
}

/** A tab as the worker sees it, recording every call. */
export class RecordingTab implements TabListener {
  readonly lists: { repository: string; records: StoredRecord[] }[] = [];
  readonly statuses: SyncStatus[] = [];
  readonly logs: LogEntry[] = [];
  credentialRequests = 0;
  persistRequests = 0;

  constructor(private readonly offer: () => Credentials | null = () => null) {}

  /** Applies each change the way the facade does and records the resulting list. */
  records(repository: string, change: RecordsChange): void {
    const previous = [...this.lists].reverse().find((list) => list.repository === repository)?.records ?? [];
    this.lists.push({ repository, records: applyChange(previous, change) });
  }

  status(status: SyncStatus): void {
    this.statuses.push(status);
  }

  async credentialsNeeded(): Promise<Credentials | null> {
    this.credentialRequests++;
    return this.offer();
  }

  /** Answers as a browser that grants persistent storage. */
  async persist(): Promise<boolean> {
    this.persistRequests++;
    return true;
  }

  log(entry: LogEntry): void {
    this.logs.push(entry);
  }
}

/** Waits until the core is authenticated, caught up and has nothing left to push. */
export function settled(core: { api: SyncWorkerApi }, what = 'the core to settle'): Promise<SyncStatus> {
  return waitFor(async () => {
    const status = await core.api.status();
    return status.authenticated && !status.syncing && status.pending === 0 && status.lastSyncAt !== undefined && status;
  }, what);
}

/** Every store of the core's database: name → [{ key, value }]. Opened beside the core. */
export async function dumpDatabase(name: string): Promise<Record<string, { key: unknown; value: unknown }[]>> {
  const db = await openDB(name);
  try {
    const dump: Record<string, { key: unknown; value: unknown }[]> = {};
    for (const store of db.objectStoreNames) {
      const tx = db.transaction(store, 'readonly');
      const [keys, values] = await Promise.all([tx.store.getAllKeys(), tx.store.getAll(), tx.done]);
      dump[store] = keys.map((key, i) => ({ key, value: values[i] }));
    }
    return dump;
  } finally {
    db.close();
  }
}

/** The cores a test file opens; its afterEach calls closeAll, which also removes their databases. */
export class TestCores {
  private readonly opened: TestCore[] = [];

  async open(websocketUrl: string, options: Partial<SyncCoreOptions> = {}): Promise<TestCore> {
    const core = await openTestCore(websocketUrl, options);
    this.opened.push(core);
    return core;
  }

  async closeAll(): Promise<void> {
    const names = new Set<string>();
    for (const core of this.opened.splice(0)) {
      names.add(core.databaseName);
      await core.close();
    }
    for (const name of names) await removeDatabase(name);
  }
}

/** Two runtimes on one database, as two tabs' dedicated workers where SharedWorker is missing:
 *  the first one leads. */
export async function leaderAndFollower(cores: TestCores, websocketUrl: string, followerOptions: Partial<SyncCoreOptions> = {}): Promise<{ leader: TestCore; follower: TestCore }> {
  const databaseName = uniqueDatabaseName();
  const peers = () => openPeers(databaseName, new RecordingLogger());
  const leader = await cores.open(websocketUrl, { databaseName, coordination: { strategy: 'peer', peers: peers() } });
  await leader.lead();
  const follower = await cores.open(websocketUrl, { ...followerOptions, databaseName, coordination: { strategy: 'peer', peers: peers() } });
  return { leader, follower };
}

/** Removes the core's databases: the base one, every namespace's (`<name>#…`) and their registry. */
export async function removeDatabase(name: string): Promise<void> {
  const names = (await indexedDB.databases()).flatMap((info) => (info.name && (info.name === name || info.name.startsWith(`${name}#`) || info.name === `${name}-namespaces`) ? [info.name] : []));
  for (const each of new Set([name, ...names])) await deleteDB(each);
}

export { sendTo, startFakeServer, type FakeServer } from './fake-server';
