/**
 * One namespace's committed events, handed on in sequence order, each once, from a starting
 * point on: what the broadcast hub sends to a namespace's sockets and what the change feed
 * reports. Driven by the store's `onAppended`. A commit of this process that directly follows
 * what was handed on goes on as committed, without reading it back; anything else (another
 * instance's commit, known only by its sequences, or one heard while a read of the log runs) is
 * read back from the log, so a missed or coalesced notification delays events but loses none.
 */
import { MAX_BATCH_EVENTS } from '../protocol';
import type { Logger } from './log';
import type { Commit, EventStore, LoggedEvent } from './store/event-store';

const LOG_PAGE = 1000;

export interface CommitStreamParts {
  namespace: string;
  store: EventStore;
  log: Logger;
  /** Names the stream in log lines: `broadcast failed`. */
  what: string;
  /** Takes the next events, in order; a throw is logged and the stream goes on. */
  handOn(events: readonly LoggedEvent[]): void;
}

export class CommitStream {
  /** Everything up to this sequence was handed on (or predates the stream). */
  private delivered = 0;
  /** `delivered` holds the starting point. */
  private started = false;
  /** The highest sequence the store reported as committed. */
  private committed = 0;
  private draining = false;
  private stopped = false;
  /**
   * serverSequence → origin and batch of a commit of this process that is read back from the log
   * rather than handed on as committed (the log keeps neither), so that it still carries them.
   */
  private readonly origins = new Map<number, Pick<LoggedEvent, 'origin' | 'batch'>>();

  constructor(private readonly parts: CommitStreamParts) {}

  /** Hands on what is committed after `sequence`; commits heard before this wait for it. */
  startAfter(sequence: number): void {
    this.delivered = sequence;
    this.started = true;
    for (const known of this.origins.keys()) if (known <= sequence) this.origins.delete(known);
    if (this.committed > this.delivered) void this.drain();
  }

  heard({ maxSequence, events, batches }: Commit): void {
    if (this.stopped) return;
    this.committed = Math.max(this.committed, maxSequence);
    if (events && this.follows(events)) {
      this.delivered = this.committed;
      this.handOn(events);
      return;
    }
    for (const entry of events ?? []) this.remember(entry);
    // Another instance's batches: its events are read back from the log, which does not keep them.
    for (const [first, last] of batches ?? []) {
      // No batch a push can make is longer: anything else is no batch of ours, and left out.
      if (last < first || last - first >= MAX_BATCH_EVENTS) continue;
      for (let sequence = Math.max(first, this.delivered + 1); sequence <= last; sequence++) this.origins.set(sequence, { batch: first });
    }
    if (this.started) void this.drain();
  }

  stop(): void {
    this.stopped = true;
  }

  /** `events` is exactly what comes after the last hand-on, up to the newest commit known:
   *  nothing before it is undelivered, and no read of the log is running that could send it. */
  private follows(events: readonly LoggedEvent[]): boolean {
    const first = events[0]?.event.serverSequence;
    const last = events.at(-1)?.event.serverSequence;
    return this.started && !this.draining && first === this.delivered + 1 && last === this.committed && last - first + 1 === events.length;
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const { namespace, store } = this.parts;
    try {
      while (!this.stopped && this.delivered < this.committed) {
        // No further than what was announced: a commit of this process read before its own
        // announcement would lose its origin. (Sequences have no gaps; with one, this reads less.)
        // One can still be read first when another instance's notification that covers it
        // arrives before it: its sender then gets its own event back, which a client applies
        // once (worker/local/merge.ts), so it costs a frame and nothing else.
        const logged = await store.readLog(namespace, this.delivered, Math.min(LOG_PAGE, this.committed - this.delivered));
        if (logged.length === 0 || this.stopped) break;
        const entries = logged.map((entry) => this.withOrigin(entry));
        // A full page may end inside a batch (a short one ends where a commit does): its tail
        // waits for the next page, so that the batch is handed on whole.
        const whole = logged.length === LOG_PAGE ? withoutCutBatch(entries) : entries;
        for (const entry of entries.slice(whole.length)) this.remember(entry);
        this.delivered = whole.at(-1)!.event.serverSequence;
        this.handOn(whole);
      }
    } catch (error) {
      // The next commit retries from `delivered`; nothing is skipped.
      this.parts.log.error(`${this.parts.what} failed`, { namespace, error });
    } finally {
      this.draining = false;
    }
  }

  /** Keeps what the log will not say of an event still to be read back: its origin and batch. */
  private remember({ event, origin, batch }: LoggedEvent): void {
    if ((origin !== undefined || batch !== undefined) && event.serverSequence > this.delivered) {
      this.origins.set(event.serverSequence, { ...(origin === undefined ? {} : { origin }), ...(batch === undefined ? {} : { batch }) });
    }
  }

  private withOrigin(entry: LoggedEvent): LoggedEvent {
    const known = this.origins.get(entry.event.serverSequence);
    if (known === undefined) return entry;
    this.origins.delete(entry.event.serverSequence);
    return { ...entry, ...known };
  }

  private handOn(events: readonly LoggedEvent[]): void {
    try {
      this.parts.handOn(events);
    } catch (error) {
      this.parts.log.error(`${this.parts.what} failed`, { namespace: this.parts.namespace, error });
    }
  }
}

/** The entries without the batch the last one belongs to, unless that batch is all of them. */
function withoutCutBatch(entries: readonly LoggedEvent[]): readonly LoggedEvent[] {
  const batch = entries.at(-1)?.batch;
  if (batch === undefined) return entries;
  let end = entries.length;
  while (end > 0 && entries[end - 1]!.batch === batch) end--;
  return end === 0 ? entries : entries.slice(0, end);
}
