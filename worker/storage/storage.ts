/**
 * The worker's durable state behind one small seam: records (with tombstones), the outbox,
 * cursors. IndexedDB implements it (idb-store.ts), memory where IndexedDB fails (memory-store.ts);
 * replaceable-storage.ts swaps one for a fresh one when the database is taken away.
 */
import type { SyncEvent } from '../../protocol/messages';
import type { NormalizedQuery } from '../../protocol/query';
import type { StoredRecord } from '../../protocol/tab-api';
import type { QueryRow, WatchStart } from '../local/query/row';

/** A record's winning event. A delete keeps its row (`deleted`, no data) so that an older
 *  event arriving later still loses to it. */
export interface RecordRow {
  repository: string;
  id: string;
  data?: StoredRecord;
  deleted: boolean;
  createdAt: string;
  eventId: string;
}

/** What one change stores: the record's new row and, for a local write, its event to push. */
export interface Decision {
  row: RecordRow;
  push?: SyncEvent;
  /** The many-write (upsertMany, deleteMany) the pushed event belongs to: its entries, adjacent
   *  in the outbox, go out in one push frame. */
  group?: string;
}

export interface RecordChange {
  repository: string;
  id: string;
  /**
   * Called inside the transaction with the record's current row (as left by earlier changes
   * of the same commit); returns what to store, or undefined to keep the row. Synchronous,
   * because a transaction stays open only while its own requests run.
   */
  decide(current: RecordRow | undefined): Decision | undefined;
  /** `decide` reads the current row's data (a patch, an app's conflict resolver), not only its
   *  place in the merge order: a storage that knows the versions (known-versions.ts) reads the
   *  row for it; for any other change it passes a row without data. */
  needsData?: boolean;
}

export interface OutboxEntry {
  /** Increasing in insertion order. */
  key: number;
  repository: string;
  event: SyncEvent;
  /** Decision.group: the entries of one group go out in one frame. */
  group?: string;
}

/** What a commit wrote: its rows (the last per record), and the outbox entries it queued, with
 *  their keys, in key order. */
export type Committed = RecordRow[] & { readonly queued: readonly OutboxEntry[] };

/** The result of a commit. `queued` is not enumerable: the result compares, spreads and copies
 *  as the array of its rows, as commits resolved before they returned what they queued. */
export function committed(rows: RecordRow[], queued: readonly OutboxEntry[]): Committed {
  return Object.defineProperty(rows, 'queued', { value: queued, enumerable: false }) as Committed;
}

/** A query's rows, in its order, and the plan that read them (plan.ts's description). */
export interface QueryAnswer {
  rows: QueryRow[];
  plan: string;
}

export interface SyncStorage {
  /**
   * Applies the changes, queues their events, and moves each named cursor forward to at least
   * the given sequence, all in ONE transaction. Resolves once it is committed, with the rows
   * written (the last per record) and, as `queued`, the outbox entries it added: the sender takes
   * them from there instead of reading back what was just written. Rejects, with nothing
   * written, when it fails.
   */
  commit(changes: readonly RecordChange[], cursors?: ReadonlyMap<string, number>): Promise<Committed>;
  getRecord(repository: string, id: string): Promise<RecordRow | undefined>;
  /** Every row of a repository, tombstones included, sorted by id. */
  getRecords(repository: string): Promise<RecordRow[]>;
  /** The highest server sequence applied for the repository, 0 before the first catch-up. */
  getCursor(repository: string): Promise<number>;
  /** Outbox entries with a key above `afterKey`, oldest first, at most `limit`, as the store
   *  holds them (written by any runtime). */
  readOutbox(afterKey: number, limit: number): Promise<OutboxEntry[]>;
  removeOutbox(keys: readonly number[]): Promise<void>;
  outboxSize(): Promise<number>;
  /** Which of these eventIds the outbox holds (a full scan: for retried writes only). */
  outboxHas(eventIds: ReadonlySet<string>): Promise<Set<string>>;
  /** The query's window (docs/queries.md) and how it was read (`index …` or `scan`). */
  query(repository: string, query: NormalizedQuery): Promise<QueryAnswer>;
  /** How many records match the query's `where` (its window ignored): from an index's key range
   *  where one expresses all of it, without reading the rows. */
  count(repository: string, query: NormalizedQuery): Promise<number>;
  /** What a watch keeping `bound` rows loaded starts from (query/row.ts), in one readonly read:
   *  along an index that expresses the whole `where`, `bound` rows and the matches' ids only. */
  watchStart(repository: string, query: NormalizedQuery, bound: number): Promise<{ start: WatchStart; plan: string }>;
  /** Removes every record, outbox entry and cursor, in one transaction (outbox keys keep growing). */
  clear(): Promise<void>;
  close(): void;
  /** This runtime is now the database's only writer (it holds the writer lock): load what a
   *  commit needs to know (known-versions.ts), so commits put without reading first. Optional:
   *  a storage in memory has nothing to read. */
  knowVersions?(): Promise<void>;
  /** Another runtime may write from now on (or the lock is gone): commits read again. */
  forgetVersions?(): void;
  /** What the known versions hold, while they are known. */
  knownVersions?(): { entries: number; estimatedBytes: number } | undefined;
  /** True once the database was closed under this storage (deleted, cleared, or closed here):
   *  a failed call then failed for that, not for what it asked. */
  isGone?(): boolean;
}

/** The row a record's event leaves: its data, or for a delete a tombstone without data. */
export function rowOf(repository: string, data: StoredRecord | undefined, event: Pick<SyncEvent, 'dataId' | 'createdAt' | 'eventId'>): RecordRow {
  const { dataId: id, createdAt, eventId } = event;
  return data ? { repository, id, data, deleted: false, createdAt, eventId } : { repository, id, deleted: true, createdAt, eventId };
}

/** One string per record across repositories, for maps of rows (repository names have no '/'). */
export const recordKey = (repository: string, id: string): string => `${repository}/${id}`;
