/**
 * The attached tabs: their listeners (comlink proxies), what each watches, and the fan-out of
 * record lists and status. A tab whose listener throws (its port is gone) is dropped.
 */
import { releaseProxy } from 'comlink';
import type { Credentials, StoredRecord, SyncStatus, TabListener } from '../protocol/tab-api';
import type { Logger } from './config';
import { describe } from './errors';

/** How long a tab may take to answer `credentialsNeeded` before the next one is asked. */
const CREDENTIALS_TIMEOUT_MS = 10_000;

interface Tab {
  listener: TabListener;
  watching: Set<string>;
}

/** Per repository: who needs its records next, and the send that is running. */
interface Refresh {
  everyWatcher: boolean;
  tabs: Set<string>;
  running: Promise<void> | null;
}

export class TabHub {
  private readonly tabs = new Map<string, Tab>();
  private readonly refreshes = new Map<string, Refresh>();

  constructor(
    /** A repository's live records, sorted by id. */
    private readonly loadRecords: (repository: string) => Promise<StoredRecord[]>,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.tabs.size;
  }

  has(tabId: string): boolean {
    return this.tabs.has(tabId);
  }

  attach(tabId: string, listener: TabListener): void {
    this.tabs.set(tabId, { listener, watching: new Set() });
  }

  detach(tabId: string): void {
    const tab = this.tabs.get(tabId);
    this.tabs.delete(tabId);
    if (tab) releaseListener(tab.listener);
  }

  /** Sends the tab the repository's records now, then after every change batch. */
  async watch(tabId: string, repository: string): Promise<void> {
    const tab = this.tabs.get(tabId);
    if (!tab) return;
    tab.watching.add(repository);
    const refresh = this.refreshOf(repository);
    refresh.tabs.add(tabId);
    await this.run(repository, refresh);
  }

  unwatch(tabId: string, repository: string): void {
    this.tabs.get(tabId)?.watching.delete(repository);
  }

  /** A committed batch touched these repositories: each watcher gets one fresh list. Changes
   *  that land while a list is being loaded share the next one. */
  changed(repositories: Iterable<string>): void {
    for (const repository of repositories) {
      if (!this.watched(repository)) continue;
      const refresh = this.refreshOf(repository);
      refresh.everyWatcher = true;
      void this.run(repository, refresh);
    }
  }

  broadcastStatus(status: SyncStatus): void {
    for (const [tabId, tab] of this.tabs) this.call(tabId, tab, (listener) => listener.status(status));
  }

  /** Asks the tabs in turn for new credentials; the first that offers some wins. */
  async requestCredentials(): Promise<Credentials | null> {
    for (const [tabId, tab] of [...this.tabs]) {
      try {
        const credentials = await withTimeout(tab.listener.credentialsNeeded(), CREDENTIALS_TIMEOUT_MS);
        if (credentials) return credentials;
      } catch (error) {
        this.log.warn(`tab ${tabId} did not answer credentialsNeeded: ${describe(error)}`);
        this.drop(tabId, tab);
      }
    }
    return null;
  }

  private watched(repository: string): boolean {
    for (const tab of this.tabs.values()) if (tab.watching.has(repository)) return true;
    return false;
  }

  private refreshOf(repository: string): Refresh {
    let refresh = this.refreshes.get(repository);
    if (!refresh) {
      refresh = { everyWatcher: false, tabs: new Set(), running: null };
      this.refreshes.set(repository, refresh);
    }
    return refresh;
  }

  /** One send loop per repository, so a tab never receives an older list after a newer one. */
  private run(repository: string, refresh: Refresh): Promise<void> {
    // Starts on a microtask, so the loop can clear `running` itself the moment it ends.
    refresh.running ??= Promise.resolve().then(() => this.sendWhileNeeded(repository, refresh));
    return refresh.running;
  }

  private async sendWhileNeeded(repository: string, refresh: Refresh): Promise<void> {
    try {
      while (refresh.everyWatcher || refresh.tabs.size > 0) {
        const targets = new Set(refresh.tabs);
        if (refresh.everyWatcher) for (const [tabId, tab] of this.tabs) if (tab.watching.has(repository)) targets.add(tabId);
        refresh.everyWatcher = false;
        refresh.tabs.clear();
        const records = await this.loadRecords(repository);
        for (const tabId of targets) {
          const tab = this.tabs.get(tabId);
          if (tab?.watching.has(repository)) this.call(tabId, tab, (listener) => listener.records(repository, records));
        }
      }
    } catch (error) {
      this.log.warn(`could not load ${repository} records for watchers: ${describe(error)}`);
    } finally {
      refresh.everyWatcher = false;
      refresh.tabs.clear();
      refresh.running = null;
    }
  }

  /** Calls a listener without waiting for it: a slow tab must not hold the others up. */
  private call(tabId: string, tab: Tab, send: (listener: TabListener) => unknown): void {
    try {
      Promise.resolve(send(tab.listener)).catch(() => this.drop(tabId, tab));
    } catch {
      this.drop(tabId, tab);
    }
  }

  private drop(tabId: string, tab: Tab): void {
    if (this.tabs.get(tabId) === tab) this.tabs.delete(tabId);
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
