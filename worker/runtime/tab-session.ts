/**
 * One tab as the runtime serves it: a session per MessagePort (a dedicated worker serves one).
 * The session is that tab's place in the hub (its listener, its watches), so the tab API it
 * serves names no tab; only `attach` says, once, which liveness lock the tab holds.
 */
import { nanoid } from 'nanoid';
import type { Credentials, SyncStatus, SyncWorkerApi } from '../../protocol/tab-api';
import { syncError } from '../errors';
import type { TabHub } from './hub';
import type { QueryService } from './queries';

/** The calls that are the same whichever tab makes them. */
export type SharedCalls = Omit<SyncWorkerApi, 'attach' | 'detach' | 'watch' | 'unwatch' | QueryCalls>;
/** The query calls: served by the session, its watches being its tab's. */
type QueryCalls = 'query' | 'count' | 'watchQuery' | 'unwatchQuery';

/** What a session needs of the runtime. */
export interface SessionHost {
  readonly hub: TabHub;
  readonly shared: SharedCalls;
  readonly queries: QueryService;
  /** Throws once the runtime is closed. */
  assertOpen(): void;
  /** Throws once the runtime is closed, or when it has no such repository. */
  assertRepository(repository: string): void;
  /** A tab attached, offering these credentials: what its `attach` answers. */
  attached(credentials: Credentials | undefined): Promise<{ status: SyncStatus; workerId: string }>;
}

export class TabSession {
  /** Names the tab in diagnostics when it gave no lock of its own. */
  readonly id = nanoid();
  /** What this session's tab calls. */
  readonly api: SyncWorkerApi;
  private tabLock: string | undefined;

  constructor(host: SessionHost) {
    const { hub } = host;
    this.api = {
      ...host.shared,
      attach: async (listener, credentials, tabLock) => {
        host.assertOpen();
        this.tabLock = tabLock;
        hub.attach(this, listener, tabLock);
        return host.attached(credentials);
      },
      detach: async () => hub.detach(this),
      watch: async (repository) => {
        host.assertRepository(repository);
        if (!hub.has(this)) throw syncError('closed', `tab ${this.tabLock ?? this.id} is not attached`);
        await hub.watch(this, repository);
      },
      unwatch: async (repository) => hub.unwatch(this, repository),
      ...this.queryCalls(host),
    };
  }

  private queryCalls({ hub, queries, assertRepository }: SessionHost): Pick<SyncWorkerApi, QueryCalls> {
    return {
      query: async (repository, query) => {
        assertRepository(repository);
        return queries.get(repository, query);
      },
      count: async (repository, query) => {
        assertRepository(repository);
        return queries.count(repository, query);
      },
      watchQuery: async (repository, watchId, query, kind = 'window') => {
        assertRepository(repository);
        if (!Number.isSafeInteger(watchId)) throw syncError('invalid_query', 'invalid query: a watch id is an integer');
        if (!hub.has(this)) throw syncError('closed', `tab ${this.tabLock ?? this.id} is not attached`);
        await hub.watchQuery(this, watchId, (send) => queries.watch(repository, query, kind, send));
      },
      unwatchQuery: async (watchId) => hub.unwatchQuery(this, watchId),
    };
  }
}
