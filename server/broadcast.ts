/**
 * Fan-out: committed events go to every other connection of their namespace, in order, each
 * once (CommitStream), from the namespace's highest sequence when its first connection joined:
 * what came before is the catch-up's job. Events committed by another server instance
 * (PostgreSQL) reach this instance's connections through the same path. Each event of this
 * process carries its origin (the pushing connection's id), which is not sent its own events back.
 */
import type { SequencedEvent } from '../protocol';
import { CommitStream } from './commit-stream';
import { eventsFrames } from './events-frames';
import type { Logger } from './log';
import type { Commit, EventStore, LoggedEvent } from './store/event-store';

/** A connection as the hub sees it. */
export interface Subscriber {
  readonly id: string;
  /** Sends an already serialized `events` message. */
  deliver(text: string): void;
}

interface NamespaceState {
  readonly subscribers: Set<Subscriber>;
  readonly stream: CommitStream;
  /** Resolves once the starting point is known (the store's maxSequence at the first join). */
  ready: Promise<void>;
}

export class Hub {
  private readonly namespaces = new Map<string, NamespaceState>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: EventStore,
    private readonly log: Logger,
    /** Most bytes of one `events` frame (a large commit goes in several). */
    private readonly maxFrameBytes: number,
  ) {
    this.unsubscribe = store.onAppended((commit: Commit) => this.namespaces.get(commit.namespace)?.stream.heard(commit));
  }

  /** Adds a subscriber; resolves once the namespace's starting point is known. */
  join(namespace: string, subscriber: Subscriber): Promise<void> {
    let state = this.namespaces.get(namespace);
    if (!state) {
      const subscribers = new Set<Subscriber>();
      const stream = new CommitStream({
        namespace,
        store: this.store,
        log: this.log,
        what: 'broadcast',
        handOn: (events) => this.deliver(subscribers, events),
      });
      const created: NamespaceState = { subscribers, stream, ready: Promise.resolve() };
      // Broadcast only what is committed from now on: earlier events are the catch-up's job.
      created.ready = this.store.maxSequence(namespace).then(
        (max) => stream.startAfter(max),
        (error: unknown) => {
          // Let the next join try again instead of inheriting a broken starting point.
          if (this.namespaces.get(namespace) === created) this.drop(namespace, created);
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
    if (state.subscribers.size === 0) this.drop(namespace, state);
  }

  close(): void {
    this.unsubscribe();
    for (const [namespace, state] of this.namespaces) this.drop(namespace, state);
  }

  private drop(namespace: string, state: NamespaceState): void {
    state.stream.stop();
    this.namespaces.delete(namespace);
  }

  private deliver(subscribers: ReadonlySet<Subscriber>, logged: readonly LoggedEvent[]): void {
    const byRepository = new Map<string, { event: SequencedEvent; origin?: string }[]>();
    for (const { repository, event, origin } of logged) {
      let group = byRepository.get(repository);
      if (!group) byRepository.set(repository, (group = []));
      group.push(origin === undefined ? { event } : { event, origin });
    }
    for (const [repository, group] of byRepository) {
      const origins = new Set(group.map((g) => g.origin));
      const everything = eventsFrames(repository, group.map((g) => g.event), this.maxFrameBytes);
      for (const subscriber of subscribers) {
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
