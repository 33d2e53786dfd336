/**
 * The attached tabs (one TabSession each): the fan-out of record changes, status and logs to
 * their listeners (comlink proxies). A tab whose listener throws (its port is gone) is dropped,
 * and so is a tab that closed or crashed without saying goodbye, once `watchTab` reports it gone.
 */
import { releaseProxy } from 'comlink';
import type { Credentials, LogEntry, QueryUpdate, RecordsChange, StoredRecord, SyncStatus, TabListener } from '../../protocol/tab-api';
import type { Logger } from '../config';
import { describe, isSyncError } from '../errors';
import type { RecordRow } from '../storage/storage';
import { QueryWatch, type SendUpdate } from './queries';
import type { TabSession } from './tab-session';

/** How long a tab may take to answer `credentialsNeeded` before the next one is asked. */
const CREDENTIALS_TIMEOUT_MS = 10_000;
/** How long a tab may take to answer `persist` (a browser may ask its user) before the next
 *  tab to attach is asked instead. */
const PERSIST_TIMEOUT_MS = 30_000;

/** An attached session's tab: its listener and what it watches. */
interface Tab {
  id: string;
  listener: TabListener;
  /** Watched repositories; while a repository's first list is loading, the changes that commit
   *  meanwhile wait here so the tab never applies a change before the list it belongs after. */
  watching: Map<string, RecordsChange[] | null | 'failed'>;
  /** Its query watches, by the tab's id for each. */
  queries: Map<number, QueryWatch>;
  stopWatching: () => void;
}

/** Calls `gone` once the tab no longer exists (closed, crashed, killed); returns a function
 *  that stops watching. */
export type TabWatcher = (tabId: string, gone: () => void) => () => void;

export interface HubHooks {
  watchTab?: TabWatcher | undefined;
  /** The number of attached tabs changed. */
  tabsChanged?: (count: number) => void;
  /** Records of these repositories were committed (every commit of the profile passes here). */
  recordsChanged?: (repositories: Iterable<string>) => void;
}

export class TabHub {
  private readonly tabs = new Map<TabSession, Tab>();

  constructor(
    /** A repository's live records, sorted by id. */
    private readonly loadRecords: (repository: string) => Promise<StoredRecord[]>,
    private readonly log: Logger,
    private readonly hooks: HubHooks = {},
  ) {}

  get size(): number {
    return this.tabs.size;
  }

  has(session: TabSession): boolean {
    return this.tabs.has(session);
  }

  /** The session's tab attached (again); `tabLock` is the id of the lock it holds while it
   *  lives (tabLockName), which also names it in diagnostics. Without one, the session's own
   *  id names it and nothing watches it. */
  attach(session: TabSession, listener: TabListener, tabLock?: string): void {
    // The same session again (back from the back/forward cache), or the same tab on another
    // port: its earlier handle is stale.
    this.detach(session);
    const id = tabLock ?? session.id;
    for (const [other, tab] of this.tabs) if (tab.id === id) this.drop(other, tab);
    const tab: Tab = { id, listener, watching: new Map(), queries: new Map(), stopWatching: () => {} };
    this.tabs.set(session, tab);
    if (tabLock !== undefined) tab.stopWatching = this.hooks.watchTab?.(tabLock, () => this.drop(session, tab)) ?? tab.stopWatching;
    this.hooks.tabsChanged?.(this.tabs.size);
  }

  detach(session: TabSession): void {
    const tab = this.tabs.get(session);
    if (tab) this.drop(session, tab);
  }

  /** The runtime closes: every tab is let go, and its listener's channel closed. */
  close(): void {
    for (const [session, tab] of [...this.tabs]) this.drop(session, tab);
  }

  /** Each tab's id and the repositories it watches. */
  describe(): { id: string; watching: string[] }[] {
    return [...this.tabs.values()].map((tab) => ({ id: tab.id, watching: [...tab.watching.keys()] }));
  }

  /** Sends the tab the repository's records now, then every committed change to them. */
  async watch(session: TabSession, repository: string): Promise<void> {
    const tab = this.tabs.get(session);
    if (!tab) return;
    const waiting: RecordsChange[] = [];
    tab.watching.set(repository, waiting);
    let reset: StoredRecord[];
    try {
      reset = await this.loadRecords(repository);
    } catch (error) {
      // Kept (its changes not), so the reload after a storage loss (rewatchAll) sends its list: a
      // clear can fail this read before the database reads as lost (Chromium).
      if (tab.watching.get(repository) === waiting) tab.watching.set(repository, 'failed');
      this.log.warn(`could not load ${repository} records for a watcher: ${describe(error)}`);
      throw error;
    }
    if (tab.watching.get(repository) !== waiting) return; // unwatched or watched again meanwhile
    tab.watching.set(repository, null);
    for (const change of [{ reset }, ...waiting]) this.call(session, tab, (listener) => listener.records(repository, change));
  }

  /** The storage was replaced: every watcher gets the repository's list again, as a `reset`, and
   *  every query watch its window again (every live query is loaded afresh). */
  async rewatchAll(): Promise<void> {
    const watches = [...this.tabs].flatMap(([session, tab]) => [...tab.watching.keys()].map((repository) => [session, repository] as const));
    const queries = [...this.tabs.values()].flatMap((tab) => [...tab.queries.values()]);
    for (const query of queries) query.stop();
    await Promise.all([
      ...watches.map(([session, repository]) => this.watch(session, repository).catch(() => {})),
      ...queries.map((query) => query.run().catch((error: unknown) => this.log.warn(`could not reload a watched query: ${describe(error)}`))),
    ]);
  }

  /** Starts the session's query watch `watchId` (replacing one of that id): `start` sends the
   *  tab's listener its first update, then each change, and resolves with its stop. */
  async watchQuery(session: TabSession, watchId: number, start: (send: SendUpdate) => Promise<() => void>): Promise<void> {
    const tab = this.tabs.get(session);
    if (!tab) return;
    tab.queries.get(watchId)?.stop();
    const watch = new QueryWatch(start, (update: QueryUpdate) => this.call(session, tab, (listener) => listener.query?.(watchId, update)));
    tab.queries.set(watchId, watch);
    try {
      await watch.run();
    } catch (error) {
      // A read a storage loss cut short is kept for the reload, as in `watch`; a bad query is not.
      if (tab.queries.get(watchId) === watch && !(isSyncError(error) && error.code === 'storage_failed')) tab.queries.delete(watchId);
      throw error;
    }
  }

  unwatchQuery(session: TabSession, watchId: number): void {
    const tab = this.tabs.get(session);
    tab?.queries.get(watchId)?.stop();
    tab?.queries.delete(watchId);
  }

  unwatch(session: TabSession, repository: string): void {
    this.tabs.get(session)?.watching.delete(repository);
  }

  /** A batch was committed: each watcher of a touched repository gets one change for it. */
  changed(rows: readonly RecordRow[]): void {
    const changes = new Map<string, { upserts: StoredRecord[]; deletes: string[] }>();
    for (const row of rows) {
      let change = changes.get(row.repository);
      if (!change) changes.set(row.repository, (change = { upserts: [], deletes: [] }));
      if (row.deleted || !row.data) change.deletes.push(row.id);
      else change.upserts.push(row.data);
    }
    this.hooks.recordsChanged?.(changes.keys());
    for (const [session, tab] of this.tabs) {
      for (const [repository, change] of changes) {
        const waiting = tab.watching.get(repository);
        if (Array.isArray(waiting)) waiting.push(change);
        else if (waiting === null) this.call(session, tab, (listener) => listener.records(repository, change));
      }
    }
  }

  broadcastStatus(status: SyncStatus): void {
    for (const [session, tab] of this.tabs) this.call(session, tab, (listener) => listener.status(status));
  }

  /** Tells every tab that a newer version took over the database. */
  broadcastVersionChange(): void {
    for (const [session, tab] of this.tabs) this.call(session, tab, (listener) => listener.versionChanged?.());
  }

  /** Sends a warning or error of the worker to every tab (whose facade passes it to `onLog`). */
  broadcastLog(entry: LogEntry): void {
    // A tab that takes no logs (an older facade) is still a live tab: it is not dropped for that.
    for (const { listener } of this.tabs.values()) {
      try {
        Promise.resolve(listener.log?.(entry)).catch(() => {});
      } catch {
        // Its port is gone: the next status or change drops it.
      }
    }
  }

  /** Asks the tab to request persistent storage (only a window may): the browser's answer, or
   *  undefined when the tab cannot ask. Rejects when it did not answer in time. */
  async askToPersist(tabId: string): Promise<boolean | undefined> {
    const listener = [...this.tabs.values()].find((tab) => tab.id === tabId)?.listener;
    if (!listener?.persist) return undefined;
    return withTimeout(listener.persist(), PERSIST_TIMEOUT_MS);
  }

  /** Asks the tabs in turn for new credentials; the first that offers some wins. */
  async requestCredentials(): Promise<Credentials | null> {
    for (const [session, tab] of [...this.tabs]) {
      try {
        const credentials = await withTimeout(tab.listener.credentialsNeeded(), CREDENTIALS_TIMEOUT_MS);
        if (credentials) return credentials;
      } catch (error) {
        this.log.warn(`tab ${tab.id} did not answer credentialsNeeded: ${describe(error)}`);
        this.drop(session, tab);
      }
    }
    return null;
  }

  /** Calls a listener without waiting for it: a slow tab must not hold the others up. */
  private call(session: TabSession, tab: Tab, send: (listener: TabListener) => unknown): void {
    try {
      Promise.resolve(send(tab.listener)).catch(() => this.drop(session, tab));
    } catch {
      this.drop(session, tab);
    }
  }

  /** Forgets the tab: its watchers, its liveness watch, its listener's channel. */
  private drop(session: TabSession, tab: Tab): void {
    if (this.tabs.get(session) !== tab) return;
    this.tabs.delete(session);
    for (const query of tab.queries.values()) query.stop();
    tab.stopWatching();
    releaseListener(tab.listener);
    this.hooks.tabsChanged?.(this.tabs.size);
  }
}

/** Closes the channel a comlink listener proxy came through; a plain listener has none. */
function releaseListener(listener: TabListener): void {
  const release = (listener as Partial<Record<typeof releaseProxy, () => void>>)[releaseProxy];
  if (typeof release === 'function') release.call(listener);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
