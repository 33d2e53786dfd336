/**
 * Local writes with group commit: every write that arrives while a commit is being scheduled
 * or running joins the next one, so a burst of N writes costs a few transactions, not N. Each
 * write still resolves only once its own record and outbox entry are committed. A many-write
 * (upsertMany, deleteMany) is one write: never split across transactions, its outbox entries
 * marked as one group. A patch merges into the current row inside the transaction; its refusal
 * there leaves the other writes of the commit stored.
 */
import { nanoid } from 'nanoid';
import { Operation, type SyncEvent } from '../../protocol/messages';
import { eventIdAfter, nextTimestamp } from '../../protocol/order';
import type { StoredRecord } from '../../protocol/tab-api';
import { storageFailure } from '../errors';
import { rowOf, type Committed, type OutboxEntry, type RecordChange, type RecordRow, type SyncStorage } from '../storage/storage';

/** A patch's record, made from the current row inside the write's transaction; throws (a
 *  `SyncErrorShape`) to refuse the write, which then stores nothing. */
export type Merge = (current: RecordRow | undefined) => StoredRecord;

interface WriteItem {
  repository: string;
  id: string;
  /** The record of an upsert, a patch's merge, or none for a delete. */
  data: StoredRecord | Merge | undefined;
  /** The tab's id for this write, used as its eventId; a retry carries the same one. */
  eventId: string | undefined;
}

/** One record of a many-write or a batch: its upsert (`data`) or delete (none). */
export interface BatchItem {
  repository: string;
  id: string;
  data: StoredRecord | undefined;
}

/** One call's writes: they commit in the same transaction, never split across two. */
interface PendingWrite {
  items: readonly WriteItem[];
  /** A many-write's id: its events carry it into the outbox, to go out in one push frame. */
  group: string | undefined;
  retried: boolean;
  /** Why a patch's merge refused it, in the last attempt to commit it. */
  failure?: unknown;
  resolve(): void;
  reject(error: unknown): void;
}

export class WriteQueue {
  private queue: PendingWrite[] = [];
  private committing: Promise<void> | null = null;

  constructor(
    private readonly storage: SyncStorage,
    private readonly now: () => number,
    /** Called after each commit with the rows it wrote, its number of events and the outbox
     *  entries it queued (with their keys: the sender takes them from here). */
    private readonly committed: (rows: readonly RecordRow[], events: number, queued: readonly OutboxEntry[]) => void,
  ) {}

  /** Queues a validated upsert (`data`) or delete (no `data`); resolves once it is committed.
   *  A write whose `eventId` the record already carries (or, when `retried`, the outbox holds)
   *  was committed before: it resolves without being applied again. */
  write(repository: string, id: string, data: StoredRecord | undefined, eventId?: string, retried = false): Promise<void> {
    return this.enqueue([{ repository, id, data, eventId }], undefined, retried);
  }

  /** Queues validated upserts and deletes of distinct records as one write: one transaction,
   *  one group in the outbox. Record `i`'s eventId is `${eventId}-${i}`. A retried one whose
   *  events the outbox holds (any of them: they were committed together) is not applied again. */
  writeMany(repository: string, items: readonly { id: string; data: StoredRecord | undefined }[], eventId = nanoid(), retried = false): Promise<void> {
    return this.writeBatch(items.map((item) => ({ repository, ...item })), eventId, retried);
  }

  /** As `writeMany`, over several repositories: `lf.batch`, which the server stores whole too. */
  writeBatch(items: readonly BatchItem[], eventId = nanoid(), retried = false): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return this.enqueue(items.map((item, i) => ({ ...item, eventId: `${eventId}-${i}` })), eventId, retried);
  }

  /** Queues a patch: `merge` makes its record from the current row in the transaction, or
   *  refuses it (the write rejects with what it threw, and nothing of it is stored). */
  patch(repository: string, id: string, merge: Merge, eventId?: string, retried = false): Promise<void> {
    return this.enqueue([{ repository, id, data: merge, eventId }], undefined, retried);
  }

  private enqueue(items: readonly WriteItem[], group: string | undefined, retried: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ items, group, retried, resolve, reject });
      // Writes of the same task share the commit; later ones wait for the running one to end.
      if (!this.committing) this.committing = Promise.resolve().then(() => this.commitQueued());
    });
  }

  /** Resolves when every queued write has settled. */
  async idle(): Promise<void> {
    while (this.committing) await this.committing;
  }

  private async commitQueued(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      let rows: Committed;
      const pushed = { events: 0 };
      try {
        const known = await this.outboxHas(batch);
        const fresh = batch.filter((write) => !write.items.some((item) => item.eventId !== undefined && known.has(item.eventId)));
        rows = await this.storage.commit(fresh.flatMap((write) => write.items.map((item) => this.change(write, item, pushed))));
      } catch (error) {
        const failure = storageFailure(error);
        for (const write of batch) write.reject(failure);
        continue;
      }
      this.committed(rows, pushed.events, rows.queued);
      for (const write of batch) {
        if (write.failure === undefined) write.resolve();
        else write.reject(write.failure);
      }
    }
    this.committing = null;
  }

  /** The retried writes' eventIds that are in the outbox already. */
  private outboxHas(batch: readonly PendingWrite[]): Promise<Set<string>> {
    const retried = new Set(batch.flatMap((write) => (write.retried ? write.items.flatMap((item) => (item.eventId ? [item.eventId] : [])) : [])));
    return retried.size > 0 ? this.storage.outboxHas(retried) : Promise.resolve(retried);
  }

  private change(write: PendingWrite, { repository, id, data: given, eventId = nanoid() }: WriteItem, pushed: { events: number }): RecordChange {
    const { group } = write;
    return {
      repository,
      id,
      // A patch merges into the current data; an upsert or a delete needs only its version.
      needsData: typeof given === 'function',
      decide: (current) => {
        if (current?.eventId === eventId) return undefined; // committed before the tab retried it
        const data = typeof given === 'function' ? merged(write, given, current) : given;
        if (data === null) return undefined;
        pushed.events++;
        // Never older than what it replaces, so the user's edit wins over what they saw; at the
        // timestamp ceiling (year 9999) it ties, and wins by an eventId that sorts after. (A tab's
        // retry of such a write is then not recognised by its eventId, and applies once more.)
        const createdAt = nextTimestamp(this.now(), current);
        const tied = current !== undefined && current.createdAt === createdAt;
        const ordered = tied ? eventIdAfter(current.eventId, eventId) : eventId;
        const live = current !== undefined && !current.deleted;
        const event: SyncEvent = data
          ? { eventId: ordered, dataId: id, operation: live ? Operation.update : Operation.insert, createdAt, data }
          : { eventId: ordered, dataId: id, operation: Operation.delete, createdAt };
        return { row: rowOf(repository, data, event), push: event, ...(group !== undefined && { group }) };
      },
    };
  }
}

/** A patch's record, or null when its merge refused it (the write then rejects with why). */
function merged(write: PendingWrite, merge: Merge, current: RecordRow | undefined): StoredRecord | null {
  try {
    const data = merge(current);
    write.failure = undefined;
    return data;
  } catch (error) {
    write.failure = error;
    return null;
  }
}
