/**
 * The PostgreSQL event store, for several server instances over one database. Appends to a
 * namespace serialize on its counter row, so sequences are assigned and committed in order across
 * instances; the compacted view is maintained in the same transaction (tabsync_append in
 * postgres-schema.ts); concurrent appends of a namespace share a transaction
 * (append-queue.ts); LISTEN/NOTIFY tells the other instances to re-read the log
 * (postgres-fanout.ts).
 */
import type pg from 'pg';
import type { SyncEvent } from '../../protocol';
import type { Logger } from '../log';
import {
  batchRanges,
  commitOf,
  PageCollector,
  parsePage,
  quotaExceeded,
  storedBytes,
  storedEvents,
  storedInAnotherRepository,
  storeLog,
  type AppendedListener,
  type AppendOptions,
  type AppendPart,
  type AppendRefused,
  type AppendResult,
  type Commit,
  type CompactedQuery,
  type EventStore,
  type LoggedEvent,
  type Page,
  type RepositoryInfo,
  type StoredPage,
  type StoreLogOptions,
  type Winner,
} from './event-store';
import { GroupCommitQueue, type AppendRequest } from './append-queue';
import { eventOfRow, winnersOf, type EventTextRow, type WinnerRow } from './event-rows';
import { Listeners } from './listeners';
import { Fanout } from './postgres-fanout';
import { createPool } from './postgres-pool';
import { APPEND, MAX_SEQUENCE, MAX_SEQUENCES, READ_COMPACTED_TEXT, READ_LOG, READ_WINNERS, REPOSITORIES, type EventRow } from './postgres-queries';
import { migrate } from './postgres-schema';

export interface PostgresStoreOptions extends StoreLogOptions {
  /** Connections per instance (PG_POOL_SIZE). */
  poolSize?: number;
}

const DEFAULT_POOL_SIZE = 10;
/** Rows of the first read of a page: few, since they may be as large as a push allows. */
const FIRST_READ_ROWS = 4;

/** An event with its data serialized for the database, and what it counts against the quota. */
interface PreparedEvent {
  event: SyncEvent;
  data: string | null;
  bytes: number;
}

/** The SQLSTATEs tabsync_append_within raises for a refused request. */
const STORED_IN_ANOTHER_REPOSITORY = 'TS409';
const QUOTA_EXCEEDED = 'TS413';

/** SQLSTATE class 22, data exception: a value the database refuses (e.g. a NUL character). */
function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('22');
}

export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<EventStore> {
  const pool = createPool(url, options.poolSize ?? DEFAULT_POOL_SIZE);
  try {
    await migrate(pool);
    const store = new PostgresStore(pool, url, storeLog(options));
    await store.start();
    return store;
  } catch (error) {
    await pool.end();
    throw error;
  }
}

class PostgresStore implements EventStore {
  readonly kind = 'postgres';
  private readonly listeners: Listeners<Commit>;
  /** Namespaces this instance has served (read or written): re-announced after a LISTEN outage. */
  private readonly knownNamespaces = new Set<string>();
  private readonly fanout: Fanout;
  private readonly queue = new GroupCommitQueue<PreparedEvent>((requests) => this.commit(requests[0]!.namespace, requests), isDataError);

  constructor(
    private readonly pool: pg.Pool,
    url: string,
    private readonly log: Logger,
  ) {
    this.listeners = new Listeners(log, 'onAppended');
    this.fanout = new Fanout(url, log, {
      appended: (namespace, maxSequence, firstSequence, batches) => this.emit({ namespace, maxSequence, firstSequence, ...(batches ? { batches } : {}) }),
      reconnected: () => void this.reannounce(),
    });
  }

  start(): Promise<void> {
    return this.fanout.start();
  }

  append(namespace: string, repository: string, events: readonly SyncEvent[], options?: AppendOptions): Promise<AppendResult[]> {
    return this.appendBatch(namespace, [{ repository, events }], options);
  }

  async appendBatch(namespace: string, parts: readonly AppendPart[], options?: AppendOptions): Promise<AppendResult[]> {
    const nonEmpty = parts.filter((part) => part.events.length > 0);
    if (nonEmpty.length === 0) return [];
    this.knownNamespaces.add(namespace);
    // Serialized now, so an event that cannot be fails its own request before joining a batch.
    const prepared = nonEmpty.map(({ repository, events }) => ({
      repository,
      events: events.map((event): PreparedEvent => {
        const data = event.data === undefined ? null : JSON.stringify(event.data);
        return { event, data, bytes: storedBytes(repository, event, data) };
      }),
    }));
    return this.queue.append(namespace, prepared, options);
  }

  /** One transaction for requests of one namespace (see GroupCommitQueue); results per request. */
  private async commit(namespace: string, requests: readonly AppendRequest<PreparedEvent>[]): Promise<AppendResult[][]> {
    const batch = firstCopies(requests);
    const { rows } = await this.pool.query<EventRow & { duplicate: boolean }>(APPEND, [
      namespace,
      batch.map((p) => p.repository),
      batch.map((p) => p.event.eventId),
      batch.map((p) => p.event.dataId),
      batch.map((p) => p.event.operation),
      batch.map((p) => p.event.createdAt),
      batch.map((p) => p.data),
      batch.map((p) => p.bytes),
      batchQuota(requests) ?? null,
    ]).catch((error: unknown) => {
      throw refusalOf(error, requests) ?? error;
    });
    const byId = new Map(rows.map((row) => [row.event_id, row] as const));
    // Unreachable while every append takes the namespace lock; should it ever happen, fail
    // rather than acknowledge an event this store cannot describe.
    const missing = batch.find((p) => !byId.has(p.event.eventId));
    if (missing) throw new Error(`event ${missing.event.eventId} was neither stored nor found`);

    const seen = new Set<string>();
    const results = requests.map(({ parts }) =>
      parts.flatMap(({ events }) =>
        events.map(({ event }): AppendResult => {
          const row = byId.get(event.eventId) as EventRow & { duplicate: boolean };
          const duplicate = row.duplicate || seen.has(event.eventId);
          seen.add(event.eventId);
          return { event: eventOfRow(row, row.data), repository: row.repository, duplicate };
        }),
      ),
    );
    const stored = storedEvents(requests, results);
    const first = stored[0]?.event.serverSequence;
    const last = stored.at(-1)?.event.serverSequence;
    if (first !== undefined && last !== undefined) {
      this.fanout.announce(namespace, first, last, batchRanges(stored));
      this.emit(commitOf(namespace, last, stored));
    }
    return results;
  }

  async readCompacted(namespace: string, repository: string, query: CompactedQuery): Promise<Page> {
    return parsePage(await this.readCompactedText(namespace, repository, { ...query, maxBytes: Infinity }));
  }

  async readCompactedText(namespace: string, repository: string, query: CompactedQuery & { maxBytes: number }): Promise<StoredPage> {
    this.knownNamespaces.add(namespace);
    const { since, limit, maxBytes } = query;
    const collector = new PageCollector(limit, maxBytes);
    let after = query.afterSequence;
    // The first stretch is short: the size of the rows is not known yet.
    let ask = Math.min(FIRST_READ_ROWS, limit + 1);
    for (;;) {
      const budget = Number.isFinite(collector.remaining) ? collector.remaining : Number.MAX_VALUE;
      const { rows } = await this.pool.query<EventTextRow>(READ_COMPACTED_TEXT, [namespace, repository, after, ask, since ?? null, budget]);
      for (const row of rows) if (!collector.add(row)) return collector.page(true);
      const last = rows.at(-1);
      // Fewer rows than asked and none refused: the byte filter cut nothing (see the query), the view ends here.
      if (rows.length < ask || !last) return collector.page(false);
      after = last.sequence;
      ask = collector.nextRead();
    }
  }

  async readWinners(namespace: string, repository: string, dataIds: readonly string[]): Promise<Map<string, Winner>> {
    this.knownNamespaces.add(namespace);
    const { rows } = await this.pool.query<WinnerRow>(READ_WINNERS, [namespace, repository, dataIds]);
    return winnersOf(rows);
  }

  async readLog(namespace: string, afterSequence: number, limit: number): Promise<LoggedEvent[]> {
    this.knownNamespaces.add(namespace);
    const { rows } = await this.pool.query<EventRow>(READ_LOG, [namespace, afterSequence, limit]);
    return rows.map((row) => ({ repository: row.repository, event: eventOfRow(row, row.data) }));
  }

  async maxSequence(namespace: string): Promise<number> {
    this.knownNamespaces.add(namespace);
    const { rows } = await this.pool.query<{ sequence: number }>(MAX_SEQUENCE, [namespace]);
    return rows[0]?.sequence ?? 0;
  }

  async repositories(namespace: string): Promise<RepositoryInfo[]> {
    this.knownNamespaces.add(namespace);
    const { rows } = await this.pool.query<RepositoryInfo>(REPOSITORIES, [namespace]);
    return rows;
  }

  onAppended(listener: AppendedListener): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.fanout.close();
    await this.pool.end();
  }

  private emit(commit: Commit): void {
    this.listeners.emit(commit, { namespace: commit.namespace });
  }

  /**
   * After the LISTEN connection was down, tells the listeners about every namespace this
   * instance knows, so each re-reads the log from its last-broadcast sequence. If this read fails
   * too, the next notification of a namespace triggers the same re-read.
   */
  private async reannounce(): Promise<void> {
    if (this.knownNamespaces.size === 0) return;
    try {
      const { rows } = await this.pool.query<{ namespace: string; sequence: number }>(MAX_SEQUENCES, [[...this.knownNamespaces]]);
      for (const row of rows) this.emit({ namespace: row.namespace, maxSequence: row.sequence });
    } catch (error) {
      this.log.warn('could not re-read namespaces after the LISTEN connection came back', { error });
    }
  }
}

/** An eventId repeated in the batch is stored once, as its first copy; under another repository it is refused. */
function firstCopies(requests: readonly AppendRequest<PreparedEvent>[]): (PreparedEvent & { repository: string })[] {
  const copies = new Map<string, PreparedEvent & { repository: string }>();
  for (const { repository, events } of requests.flatMap((request) => request.parts)) {
    for (const prepared of events) {
      const first = copies.get(prepared.event.eventId);
      if (first && first.repository !== repository) throw storedInAnotherRepository(prepared.event.eventId, first.repository);
      if (!first) copies.set(prepared.event.eventId, { ...prepared, repository });
    }
  }
  return [...copies.values()];
}

/** The smallest quota of the batch: a batch within it leaves every request within its own. */
function batchQuota(requests: readonly AppendRequest<PreparedEvent>[]): number | undefined {
  const quotas = requests.flatMap((r) => (r.quotaBytes === undefined ? [] : [r.quotaBytes]));
  return quotas.length === 0 ? undefined : Math.min(...quotas);
}

/** The refusal tabsync_append_within raised, as the store's AppendRefused. */
function refusalOf(error: unknown, requests: readonly AppendRequest<PreparedEvent>[]): AppendRefused | undefined {
  const { code, detail } = (error ?? {}) as { code?: unknown; detail?: unknown };
  if (code === QUOTA_EXCEEDED) return quotaExceeded(batchQuota(requests) ?? 0);
  if (code !== STORED_IN_ANOTHER_REPOSITORY || typeof detail !== 'string') return undefined;
  const { eventId, repository } = JSON.parse(detail) as { eventId: string; repository: string };
  return storedInAnotherRepository(eventId, repository);
}
