/**
 * Local writes with group commit: every write that arrives while a commit is being scheduled
 * or running joins the next one, so a burst of N writes costs a few transactions, not N. Each
 * write still resolves only once its own record and outbox entry are committed.
 */
import { nanoid } from 'nanoid';
import { Operation, type SyncEvent } from '../protocol/messages';
import { nextTimestamp } from '../protocol/order';
import type { StoredRecord } from '../protocol/tab-api';
import { storageFailure } from './errors';
import type { RecordChange, RecordRow, SyncStorage } from './storage';

interface PendingWrite {
  repository: string;
  id: string;
  /** Absent for a delete. */
  data: StoredRecord | undefined;
  resolve(): void;
  reject(error: unknown): void;
}

export class WriteQueue {
  private queue: PendingWrite[] = [];
  private committing: Promise<void> | null = null;

  constructor(
    private readonly storage: SyncStorage,
    private readonly now: () => number,
    /** Called after each commit with the rows it wrote and its number of events. */
    private readonly committed: (rows: readonly RecordRow[], events: number) => void,
  ) {}

  /** Queues a validated upsert (`data`) or delete (no `data`); resolves once it is committed. */
  write(repository: string, id: string, data: StoredRecord | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ repository, id, data, resolve, reject });
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
      let rows: RecordRow[];
      try {
        rows = await this.storage.commit(batch.map((write) => this.change(write)));
      } catch (error) {
        const failure = storageFailure(error);
        for (const write of batch) write.reject(failure);
        continue;
      }
      this.committed(rows, batch.length);
      for (const write of batch) write.resolve();
    }
    this.committing = null;
  }

  private change({ repository, id, data }: PendingWrite): RecordChange {
    return {
      repository,
      id,
      decide: (current) => {
        // Never older than what it replaces, so the user's edit wins over what they saw.
        const createdAt = nextTimestamp(this.now(), current);
        const eventId = nanoid();
        const live = current !== undefined && !current.deleted;
        const event: SyncEvent = data
          ? { eventId, dataId: id, operation: live ? Operation.update : Operation.insert, createdAt, data }
          : { eventId, dataId: id, operation: Operation.delete, createdAt };
        const row = data
          ? { repository, id, data, deleted: false, createdAt, eventId }
          : { repository, id, deleted: true, createdAt, eventId };
        return { row, push: event };
      },
    };
  }
}
