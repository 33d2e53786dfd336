/**
 * Fan-out: committed events go to every other connection of their namespace. Driven by the
 * store's `onAppended` and read back from its log, so events committed by another server
 * instance (PostgreSQL) reach this instance's connections through the same path. A commit of
 * this process that directly follows what was delivered goes out as committed, without
 * reading it back. Each event of such a commit carries its origin (the pushing connection's
 * id), which is not sent its own events back.
 */
import type { Commit, EventStore, LoggedEvent } from './store/event-store';
import type { SequencedEvent } from '../protocol';
import { eventsFrames } from './events-frames';
import type { Logger } from './log';

/** A connection as the hub sees it. */
export interface Subscriber {
  readonly id: string;
  /** Sends an already serialized `events` message. */
  deliver(text: string): void;
}

interface NamespaceState {
  readonly subscribers: Set<Subscriber>;
  /** Everything up to this sequence was delivered (or predates every subscriber). */
  lastBroadcast: number;
  /** lastBroadcast holds the starting point (the store's maxSequence at the first join). */
  started: boolean;
  /** The highest sequence the store reported as committed. */
  committed: number;
  ready: Promise<void>;
  draining: boolean;
  /**
   * serverSequence → origin of a commit of this process that is read back from the log rather
   * than sent as committed (the log does not keep origins): so that it is not echoed either.
   */
  readonly origins: Map<number, string>;
}

const LOG_PAGE = 1000;

export class Hub {
  private readonly namespaces = new Map<string, NamespaceState>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: EventStore,
    private readonly log: Logger,
    /** Most bytes of one `events` frame (a large commit goes in several). */
    private readonly maxFrameBytes: number,
  ) {
    this.unsubscribe = store.onAppended((commit) => this.heard(commit));
  }

  private heard({ namespace, maxSequence, events }: Commit): void {
    const state = this.namespaces.get(namespace);
    if (!state) return;
    state.committed = Math.max(state.committed, maxSequence);
    if (!events || !this.followsDelivered(state, events)) {
      for (const { event, origin } of events ?? []) {
        if (origin !== undefined && event.serverSequence > state.lastBroadcast) state.origins.set(event.serverSequence, origin);
      }
      void this.drain(namespace, state);
      return;
    }
    state.lastBroadcast = state.committed;
    try {
      this.deliver(state, events);
    } catch (error) {
      // As in drain: logged, never thrown into the store's commit.
      this.log.error('broadcast failed', { namespace, error });
    }
  }

  /** Adds a subscriber; resolves once the namespace's starting point is known. */
  join(namespace: string, subscriber: Subscriber): Promise<void> {
    let state = this.namespaces.get(namespace);
    if (!state) {
      const created: NamespaceState = {
        subscribers: new Set(),
        lastBroadcast: 0,
        started: false,
        committed: 0,
        ready: Promise.resolve(),
        draining: false,
        origins: new Map(),
      };
      // Broadcast only what is committed from now on: earlier events are the catch-up's job.
      created.ready = this.store.maxSequence(namespace).then(
        (max) => {
          created.lastBroadcast = max;
          created.started = true;
        },
        (error: unknown) => {
          // Let the next join try again instead of inheriting a broken starting point.
          if (this.namespaces.get(namespace) === created) this.namespaces.delete(namespace);
          throw error;
        },
      );
      this.namespaces.set(namespace, created);
      state = created;
    }
    state.subscribers.add(subscriber);
    return state.ready;
  }

  leave(namespace: string, subscriber: Subscriber): void {
    const state = this.namespaces.get(namespace);
    if (!state) return;
    state.subscribers.delete(subscriber);
    if (state.subscribers.size === 0) this.namespaces.delete(namespace);
  }

  close(): void {
    this.unsubscribe();
    this.namespaces.clear();
  }

  /** `committed` is exactly what comes after the last delivery, up to the newest commit known:
   *  nothing before it is undelivered, and no read of the log is running that could send it. */
  private followsDelivered(state: NamespaceState, committed: readonly LoggedEvent[]): boolean {
    const first = committed[0]?.event.serverSequence;
    const last = committed.at(-1)?.event.serverSequence;
    return (
      state.started &&
      !state.draining &&
      first === state.lastBroadcast + 1 &&
      last === state.committed &&
      last - first + 1 === committed.length
    );
  }

  private async drain(namespace: string, state: NamespaceState): Promise<void> {
    if (state.draining) return;
    state.draining = true;
    try {
      await state.ready;
      for (const sequence of state.origins.keys()) if (sequence <= state.lastBroadcast) state.origins.delete(sequence);
      while (state.lastBroadcast < state.committed && this.namespaces.get(namespace) === state) {
        // No further than what was announced: a commit of this process read before its own
        // announcement would lose its origin and be echoed. (Sequences have no gaps.)
        const logged = await this.store.readLog(namespace, state.lastBroadcast, Math.min(LOG_PAGE, state.committed - state.lastBroadcast));
        const last = logged.at(-1);
        if (!last) break;
        state.lastBroadcast = last.event.serverSequence;
        this.deliver(state, logged);
      }
    } catch (error) {
      // The next commit retries from lastBroadcast; nothing is skipped.
      this.log.error('broadcast failed', { namespace, error });
    } finally {
      state.draining = false;
    }
  }

  private deliver(state: NamespaceState, logged: readonly LoggedEvent[]): void {
    const byRepository = new Map<string, { event: SequencedEvent; origin?: string }[]>();
    for (const { repository, event, origin: committedBy } of logged) {
      const origin = committedBy ?? state.origins.get(event.serverSequence);
      state.origins.delete(event.serverSequence);
      let group = byRepository.get(repository);
      if (!group) byRepository.set(repository, (group = []));
      group.push(origin === undefined ? { event } : { event, origin });
    }
    for (const [repository, group] of byRepository) {
      const origins = new Set(group.map((g) => g.origin));
      const everything = eventsFrames(repository, group.map((g) => g.event), this.maxFrameBytes);
      for (const subscriber of state.subscribers) {
        if (!origins.has(subscriber.id)) {
          for (const { frame } of everything) subscriber.deliver(frame);
          continue;
        }
        const others = group.filter((g) => g.origin !== subscriber.id).map((g) => g.event);
        for (const { frame } of others.length > 0 ? eventsFrames(repository, others, this.maxFrameBytes) : []) subscriber.deliver(frame);
      }
    }
  }
}
