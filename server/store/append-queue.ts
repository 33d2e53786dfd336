/**
 * Group commit, for both stores. Appends serialize anyway (on a namespace's counter row in
 * PostgreSQL, on the one writer of the whole file in SQLite); rather than each waiting for that
 * lock (holding a pool connection, or paying its own fsync), the appends that arrive while one
 * transaction of their lane is in flight wait here and then go together in the next transaction:
 * one lock, one commit, for all of them. Under load, batches grow by themselves, up to
 * MAX_EVENTS_PER_TRANSACTION. A lane is a namespace in PostgreSQL (namespaces commit in
 * parallel there) and the whole database in SQLite (one fsync for every namespace's appends).
 */
import { AppendRefused, type AppendOptions, type AppendPart, type AppendResult } from './event-store';

/** One append: one repository's events, or a batch of several (appendBatch), never split. */
export interface AppendRequest<E> {
  namespace: string;
  parts: readonly AppendPart<E>[];
  /** The namespace's quota this request must stay within (AppendOptions.quotaBytes). */
  quotaBytes: number | undefined;
  /** Who wrote it (AppendOptions.origin), for the commit's listeners. */
  origin: string | undefined;
}

/** Commits requests (all of one lane) in one transaction; returns each request's results (in part order), in request order. */
export type CommitBatch<E> = (requests: readonly AppendRequest<E>[]) => Promise<AppendResult[][]>;

interface Waiting<E> extends AppendRequest<E> {
  resolve(results: AppendResult[]): void;
  reject(error: unknown): void;
}

/** Most events in one transaction, so a burst still commits in bounded steps. */
const MAX_EVENTS_PER_TRANSACTION = 5000;

export class GroupCommitQueue<E> {
  /** Lanes with a transaction in flight → the requests waiting for the next one. */
  private readonly waiting = new Map<string, Waiting<E>[]>();

  constructor(
    private readonly commit: CommitBatch<E>,
    /** True for a failure that belongs to one request's content, not to the database. */
    private readonly isRequestError: (error: unknown) => boolean,
    /** The lane of a namespace's appends: those of one lane share transactions. */
    private readonly laneOf: (namespace: string) => string = (namespace) => namespace,
  ) {}

  append(namespace: string, parts: readonly AppendPart<E>[], options: AppendOptions = {}): Promise<AppendResult[]> {
    return new Promise((resolve, reject) => {
      const request = { namespace, parts, quotaBytes: options.quotaBytes, origin: options.origin, resolve, reject };
      const lane = this.laneOf(namespace);
      const queue = this.waiting.get(lane);
      if (queue) {
        queue.push(request);
        return;
      }
      this.waiting.set(lane, []);
      void this.drain(lane, [request]);
    });
  }

  private async drain(lane: string, first: Waiting<E>[]): Promise<void> {
    for (let batch = first; batch.length > 0; batch = this.nextBatch(lane)) {
      await this.commitBatch(batch);
    }
    this.waiting.delete(lane);
  }

  private nextBatch(lane: string): Waiting<E>[] {
    const queue = this.waiting.get(lane) ?? [];
    let events = 0;
    let count = 0;
    while (count < queue.length && (count === 0 || events + eventsOf(queue[count]!) <= MAX_EVENTS_PER_TRANSACTION)) {
      events += eventsOf(queue[count]!);
      count++;
    }
    return queue.splice(0, count);
  }

  private async commitBatch(batch: readonly Waiting<E>[]): Promise<void> {
    try {
      const results = await this.commit(batch);
      batch.forEach((request, i) => request.resolve(results[i]!));
    } catch (error) {
      if (batch.length === 1 || !(error instanceof AppendRefused || this.isRequestError(error))) {
        for (const request of batch) request.reject(error);
        return;
      }
      // One request's content failed the whole transaction: give each its own, so the others
      // are stored and only the faulty one is refused.
      for (const request of batch) await this.commitBatch([request]);
    }
  }
}

function eventsOf(request: AppendRequest<unknown>): number {
  return request.parts.reduce((sum, part) => sum + part.events.length, 0);
}
