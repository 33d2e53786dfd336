/**
 * `onCommitted`: a change feed of every event committed to any namespace: pushed by clients,
 * written by the server itself, and (PostgreSQL) committed by other instances, which the
 * LISTEN/NOTIFY fan-out announces and this feed reads back from the log. Per namespace, events
 * come in sequence order, each once (CommitStream), from the first commit the feed hears of in it.
 * Costs nothing until a listener subscribes; then one small entry per namespace it has reported.
 */
import { CommitStream } from './commit-stream';
import { Listeners } from './store/listeners';
import type { Logger } from './log';
import type { Commit, EventStore, LoggedEvent } from './store/event-store';

/** Events committed to one namespace, as onCommitted reports them. */
export interface CommittedEvents {
  namespace: string;
  /**
   * In sequence order, each with its repository, the event as stored (serverSequence set) and,
   * for a commit of this instance, its origin: `server` for a server-side write, else the
   * pushing connection's id (its `auth_success.connectionId`). Another instance's have none.
   */
  events: readonly LoggedEvent[];
}

export type CommittedListener = (committed: CommittedEvents) => unknown;

const LOG_PAGE = 1000;

interface FeedNamespace {
  readonly stream: CommitStream;
  /** The stream reports what comes after this; earlier commits heard late are read apart. */
  start: number;
}

export class ChangeFeed {
  private readonly listeners: Listeners<CommittedEvents>;
  private readonly namespaces = new Map<string, FeedNamespace>();
  private stopListening: (() => void) | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly log: Logger,
  ) {
    this.listeners = new Listeners(log, 'onCommitted');
  }

  /** A listener that throws or rejects is logged; the others and the server go on. Returns the unsubscribe function. */
  subscribe(listener: CommittedListener): () => void {
    if (typeof listener !== 'function') throw new TypeError('onCommitted takes a function');
    const remove = this.listeners.add(listener);
    this.stopListening ??= this.store.onAppended((commit) => this.heard(commit));
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      remove();
      if (this.listeners.size === 0) this.close();
    };
  }

  close(): void {
    this.stopListening?.();
    this.stopListening = undefined;
    for (const { stream } of this.namespaces.values()) stream.stop();
    this.namespaces.clear();
  }

  private heard(commit: Commit): void {
    const { namespace, firstSequence } = commit;
    let state = this.namespaces.get(namespace);
    if (!state) {
      // A re-announcement (after a LISTEN outage) names no range: in a namespace this feed has
      // not heard of, nothing is known to be new.
      if (firstSequence === undefined) return;
      state = this.open(namespace, firstSequence - 1);
    } else if (firstSequence !== undefined && firstSequence <= state.start) {
      this.earlier(namespace, state, commit);
    }
    state.stream.heard(commit);
  }

  private open(namespace: string, start: number): FeedNamespace {
    const stream = new CommitStream({ namespace, store: this.store, log: this.log, what: 'change feed', handOn: (events) => this.report(namespace, events) });
    stream.startAfter(start);
    const state = { stream, start };
    this.namespaces.set(namespace, state);
    return state;
  }

  /**
   * A commit from before where the namespace's stream starts, heard after it: two instances'
   * notifications may arrive in another order than their commits when the feed first hears of
   * a namespace. Reported apart, once, so that the feed skips none of them.
   */
  private earlier(namespace: string, state: FeedNamespace, commit: Commit): void {
    const from = (commit.firstSequence ?? 1) - 1;
    const upTo = Math.min(commit.maxSequence, state.start);
    state.start = from;
    if (commit.events) return this.report(namespace, commit.events.filter((e) => e.event.serverSequence <= upTo));
    void this.readRange(namespace, from, upTo);
  }

  private async readRange(namespace: string, after: number, upTo: number): Promise<void> {
    try {
      while (after < upTo) {
        const logged = await this.store.readLog(namespace, after, Math.min(LOG_PAGE, upTo - after));
        const last = logged.at(-1);
        if (!last) return;
        after = last.event.serverSequence;
        this.report(namespace, logged);
      }
    } catch (error) {
      this.log.error('change feed failed', { namespace, error });
    }
  }

  private report(namespace: string, events: readonly LoggedEvent[]): void {
    if (events.length > 0) this.listeners.emit({ namespace, events }, { namespace });
  }
}
