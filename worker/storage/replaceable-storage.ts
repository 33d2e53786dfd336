/**
 * The one SyncStorage the runtime's parts hold (engine, writes, remote, role, hub), delegating to
 * the current database and swapped for a fresh one when that database is taken away (deleted,
 * cleared by the browser). Meanwhile calls wait for the fresh one; a call that failed because of
 * the loss runs again on it. Outbox keys belong to one database: acknowledgements for the lost one
 * are dropped, never applied to the fresh one, and cursors of a catch-up that began before the loss
 * are never written into the fresh one (its catch-up starts from 0).
 *
 * It also remembers the local events queued and not yet acknowledged that passed through it (as
 * its commits queued them, or as read back for sending; outbox/unacked.ts), so that a loss can
 * re-queue them with the same eventIds.
 */
import type { NormalizedQuery } from '../../protocol/query';
import type { StoredRecord } from '../../protocol/tab-api';
import { syncError } from '../errors';
import { incomingWins } from '../local/merge';
import type { WatchStart } from '../local/query/row';
import { UnackedEvents, type QueuedEvent } from '../outbox/unacked';
import { rowOf, type Committed, type OutboxEntry, type QueryAnswer, type RecordChange, type RecordRow, type SyncStorage } from './storage';

export type { QueuedEvent } from '../outbox/unacked';

export class ReplaceableStorage implements SyncStorage {
  private generation = 0;
  /** Set while a fresh database is being opened; settles once it is in place. */
  private swap: { done: Promise<void>; resolve(): void; reject(error: unknown): void } | null = null;
  private unacked = new UnackedEvents();
  private closed = false;

  constructor(
    private current: SyncStorage,
    /** A call failed and the database turned out to be gone before its loss was announced. */
    private readonly gone: () => void,
  ) {}

  /** The database was taken away: lets go of it at once, makes calls wait for `replace`, and
   *  returns the unacknowledged local events it remembers, oldest first. */
  lose(): QueuedEvent[] {
    this.generation++;
    if (!this.swap) {
      let resolve = () => {};
      let reject: (error: unknown) => void = () => {};
      const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      done.catch(() => {});
      this.swap = { done, resolve, reject };
    }
    try {
      this.current.close();
    } catch {
      // Closed under us already.
    }
    const survivors = this.unacked.take();
    this.unacked = new UnackedEvents();
    return survivors;
  }

  /** The fresh database is open: the waiting calls go on with it. */
  replace(next: SyncStorage): void {
    if (this.closed) {
      next.close();
      return;
    }
    this.current = next;
    this.swap?.resolve();
    this.swap = null;
  }

  /** Queues the events again with their eventIds, and restores their records where nothing newer
   *  is stored. Resolves with how many were queued. */
  async requeue(events: readonly QueuedEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    const changes = events.map(({ repository, event, group }): RecordChange => {
      const row = rowOf(repository, event.data as StoredRecord | undefined, event);
      return { repository, id: event.dataId, needsData: true, decide: (current) => ({ row: incomingWins(current, row) ? row : current!, push: event, ...(group !== undefined && { group }) }) };
    });
    await this.commit(changes);
    return events.length;
  }

  commit(changes: readonly RecordChange[], cursors?: ReadonlyMap<string, number>): Promise<Committed> {
    // A commit that waited for, or failed with, a lost database belongs to what came before the
    // loss: its records are still worth keeping, its cursors are not.
    return this.run(
      async (storage, generation, retry) => {
        const result = await storage.commit(changes, retry ? undefined : cursors);
        if (generation === this.generation) for (const entry of result.queued) this.unacked.add(entry, entry.key);
        return result;
      },
      (error) => {
        throw syncError('storage_lost', `the database was taken away during a write, and the fresh one refused it: ${String(error)}`);
      },
    );
  }

  getRecord(repository: string, id: string): Promise<RecordRow | undefined> {
    return this.run((storage) => storage.getRecord(repository, id));
  }

  getRecords(repository: string): Promise<RecordRow[]> {
    return this.run((storage) => storage.getRecords(repository));
  }

  query(repository: string, query: NormalizedQuery): Promise<QueryAnswer> {
    return this.run((storage) => storage.query(repository, query));
  }

  count(repository: string, query: NormalizedQuery): Promise<number> {
    return this.run((storage) => storage.count(repository, query));
  }

  watchStart(repository: string, query: NormalizedQuery, bound: number): Promise<{ start: WatchStart; plan: string }> {
    return this.run((storage) => storage.watchStart(repository, query, bound));
  }

  getCursor(repository: string): Promise<number> {
    return this.run((storage) => storage.getCursor(repository));
  }

  readOutbox(afterKey: number, limit: number): Promise<OutboxEntry[]> {
    return this.run(async (storage, generation) => {
      const entries = await storage.readOutbox(afterKey, limit);
      if (generation === this.generation) for (const entry of entries) this.unacked.add(entry, entry.key);
      return entries;
    });
  }

  async removeOutbox(keys: readonly number[]): Promise<void> {
    const generation = this.generation;
    if (this.swap) return; // keys of the lost database
    this.unacked.acknowledged(keys);
    const storage = this.current;
    try {
      await storage.removeOutbox(keys);
    } catch (error) {
      if (generation === this.generation && !this.lostNow(storage)) throw error;
    }
  }

  outboxSize(): Promise<number> {
    return this.run((storage) => storage.outboxSize());
  }

  outboxHas(eventIds: ReadonlySet<string>): Promise<Set<string>> {
    return this.run((storage) => storage.outboxHas(eventIds));
  }

  /** Empties the current database; the unacknowledged events remembered for a loss go with it. */
  async clear(): Promise<void> {
    await this.run((storage) => storage.clear());
    this.unacked = new UnackedEvents();
  }

  /** The versions are the current database's: a fresh one starts without them (the writer lock's
   *  holder asks again once it is in place). */
  async knowVersions(): Promise<void> {
    if (this.swap) return;
    await this.current.knowVersions?.();
  }

  forgetVersions(): void {
    this.current.forgetVersions?.();
  }

  knownVersions(): { entries: number; estimatedBytes: number } | undefined {
    return this.current.knownVersions?.();
  }

  /** Lets go of the current database for another one that `replace` brings: calls wait meanwhile.
   *  Unlike a loss, the database keeps its unacknowledged events, so nothing is remembered. */
  letGo(): void {
    this.lose();
  }

  close(): void {
    this.closed = true;
    this.swap?.reject(syncError('closed', 'the sync runtime is closed'));
    this.current.close();
  }

  /**
   * Runs `call` on the current database (after a running swap); when it fails because that
   * database was lost, once more on the fresh one (`retry`), whose failure `retryFailed` may
   * rename.
   */
  private async run<T>(
    call: (storage: SyncStorage, generation: number, retry: boolean) => Promise<T>,
    retryFailed: (error: unknown) => never = (error) => {
      throw error;
    },
  ): Promise<T> {
    const waited = this.swap !== null;
    if (this.swap) await this.swap.done;
    const generation = this.generation;
    const storage = this.current;
    try {
      return await call(storage, generation, waited);
    } catch (error) {
      if (generation === this.generation && !this.lostNow(storage)) throw error;
    }
    if (this.swap) await this.swap.done;
    try {
      return await call(this.current, this.generation, true);
    } catch (error) {
      return retryFailed(error);
    }
  }

  /** Whether `storage` (current a moment ago) is gone; announces a loss nobody announced yet. */
  private lostNow(storage: SyncStorage): boolean {
    if (this.closed || !storage.isGone?.()) return false;
    if (storage === this.current && !this.swap) this.gone();
    return this.swap !== null || storage !== this.current;
  }
}
