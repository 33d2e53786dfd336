/**
 * Fan-out: committed events go to every other connection of their namespace, in order, each
 * once (CommitStream), from the namespace's highest sequence when its first connection joined:
 * what came before is the catch-up's job. Events committed by another server instance
 * (PostgreSQL) reach this instance's connections through the same path. Each event of this
 * process carries its origin (the pushing connection's id), which is not sent its own events back.
 */
import type { SequencedEvent } from '../protocol';
import { CommitStream } from './commit-stream';
import { eventsBatchFrame, eventsFrames } from './events-frames';
import type { Logger } from './log';
import type { Commit, EventStore, LoggedEvent } from './store/event-store';

/** A connection as the hub sees it. */
export interface Subscriber {
  readonly id: string;
  /** The client named EVENTS_BATCH_FEATURE in its `auth`: it is sent a batch as one `events_batch` frame (absent: it is not). */
  readonly takesBatches?: boolean;
  /** Sends an already serialized `events` or `events_batch` message. */
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

  /** A commit's events: a batch over several repositories as one change, the rest by repository. */
  private deliver(subscribers: ReadonlySet<Subscriber>, logged: readonly LoggedEvent[]): void {
    for (const { batch, events } of segments(logged)) {
      if (batch) this.deliverBatch(subscribers, events);
      else this.deliverByRepository(subscribers, events);
    }
  }

  /**
   * One batch (one push, one origin): one `events_batch` frame to a subscriber that takes them,
   * one `events` frame per repository to any other (what a client before batches applies), none
   * to its sender. A batch too large for one frame (a push cap above the page cap) goes by repository.
   */
  private deliverBatch(subscribers: ReadonlySet<Subscriber>, logged: readonly LoggedEvent[]): void {
    const origin = logged[0]?.origin;
    const parts = partsOf(logged);
    const whole = eventsBatchFrame(parts);
    const fits = Buffer.byteLength(whole) <= this.maxFrameBytes;
    let byRepository: string[] | undefined;
    for (const subscriber of subscribers) {
      if (subscriber.id === origin) continue;
      if (fits && subscriber.takesBatches) {
        subscriber.deliver(whole);
        continue;
      }
      byRepository ??= parts.flatMap(({ repository, events }) => eventsFrames(repository, events, this.maxFrameBytes).map((f) => f.frame));
      for (const frame of byRepository) subscriber.deliver(frame);
    }
  }

  private deliverByRepository(subscribers: ReadonlySet<Subscriber>, logged: readonly LoggedEvent[]): void {
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

/** The events cut into runs: each batch alone (its events are consecutive), the others between them together. */
function segments(logged: readonly LoggedEvent[]): { batch: number | undefined; events: LoggedEvent[] }[] {
  const runs: { batch: number | undefined; events: LoggedEvent[] }[] = [];
  for (const entry of logged) {
    const last = runs.at(-1);
    if (last && last.batch === entry.batch) last.events.push(entry);
    else runs.push({ batch: entry.batch, events: [entry] });
  }
  return runs;
}

/** A batch's events by repository, repositories in the order the batch gave them. */
function partsOf(logged: readonly LoggedEvent[]): { repository: string; events: SequencedEvent[] }[] {
  const parts = new Map<string, SequencedEvent[]>();
  for (const { repository, event } of logged) {
    const events = parts.get(repository);
    if (events) events.push(event);
    else parts.set(repository, [event]);
  }
  return [...parts].map(([repository, events]) => ({ repository, events }));
}
