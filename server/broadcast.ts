/**
 * Fan-out: committed events go to every other connection of their namespace, in order, each
 * once (CommitStream), from the namespace's highest sequence when its first connection joined:
 * what came before is the catch-up's job. Events committed by another server instance
 * (PostgreSQL) reach this instance's connections through the same path. Each event of this
 * process carries its origin (the pushing connection's id), which is not sent its own events back.
 * Each frame is built once and the same bytes go to every subscriber it is for.
 */
import { CommitStream } from './commit-stream';
import { eventsBatchFrame, eventText, liveEventsFrames, type EventText } from './events-frames';
import { eventLoopPace, type FanoutPace } from './fanout-pace';
import type { Logger } from './log';
import type { Commit, EventStore, LoggedEvent } from './store/event-store';

/** A connection as the hub sees it. */
export interface Subscriber {
  readonly id: string;
  /** The client named EVENTS_BATCH_FEATURE in its `auth`: it is sent a batch as one `events_batch` frame (absent: it is not). */
  readonly takesBatches?: boolean;
  /** Sends an already serialized `events` or `events_batch` message: the same bytes go to every subscriber they are for. */
  deliver(frame: Buffer): void;
}

/**
 * Frames per second the fan-out aims at, all namespaces together. Each frame costs a write to
 * its socket whatever it holds, so with many subscribers a namespace's commits are sent together
 * once per interval (subscribers / this rate, at most MAX_FANOUT_INTERVAL_MS) instead of one frame
 * per commit per subscriber; the first commit after a quiet interval goes at the end of its turn.
 * While the event loop is saturated the interval stretches (FanoutPace, up to 4×).
 */
const FANOUT_FRAMES_PER_SECOND = 20_000;
const MAX_FANOUT_INTERVAL_MS = 50;
/** Below this interval (fewer than 20 subscribers) every commit goes out as it is handed on. */
const MIN_FANOUT_INTERVAL_MS = 1;

interface NamespaceState {
  readonly namespace: string;
  readonly subscribers: Set<Subscriber>;
  readonly stream: CommitStream;
  /** Resolves once the starting point is known (the store's maxSequence at the first join). */
  ready: Promise<void>;
  /** Handed on, waiting for the namespace's next send. */
  pending: LoggedEvent[];
  /** Cancels the namespace's scheduled send, while one is. */
  cancel: (() => void) | undefined;
  lastSent: number;
}

/** An event with its text, serialized once per send of its namespace. */
interface Outgoing {
  entry: LoggedEvent;
  text: EventText;
}

export class Hub {
  private readonly namespaces = new Map<string, NamespaceState>();
  private readonly unsubscribe: () => void;
  private subscriberCount = 0;
  private readonly pace: FanoutPace;
  private readonly stopPace: () => void;

  constructor(
    private readonly store: EventStore,
    private readonly log: Logger,
    /** Most bytes of one `events` frame (a large commit goes in several). */
    private readonly maxFrameBytes: number,
    /** How far the paced interval stretches; by default, after this process's event loop. */
    pace?: FanoutPace,
  ) {
    this.unsubscribe = store.onAppended((commit: Commit) => this.namespaces.get(commit.namespace)?.stream.heard(commit));
    const own = pace ? undefined : eventLoopPace();
    this.pace = pace ?? own!.pace;
    this.stopPace = () => own?.stop();
  }

  /** Adds a subscriber; resolves once the namespace's starting point is known. */
  join(namespace: string, subscriber: Subscriber): Promise<void> {
    const state = this.namespaces.get(namespace) ?? this.open(namespace);
    if (!state.subscribers.has(subscriber)) this.subscriberCount++;
    state.subscribers.add(subscriber);
    return state.ready;
  }

  private open(namespace: string): NamespaceState {
    const state: NamespaceState = {
      namespace,
      subscribers: new Set(),
      stream: new CommitStream({ namespace, store: this.store, log: this.log, what: 'broadcast', handOn: (events) => this.handOn(state, events) }),
      ready: Promise.resolve(),
      pending: [],
      cancel: undefined,
      lastSent: 0,
    };
    // Broadcast only what is committed from now on: earlier events are the catch-up's job.
    state.ready = this.store.maxSequence(namespace).then(
      (max) => state.stream.startAfter(max),
      (error: unknown) => {
        // Let the next join try again instead of inheriting a broken starting point.
        if (this.namespaces.get(namespace) === state) this.drop(namespace, state);
        throw error;
      },
    );
    this.namespaces.set(namespace, state);
    return state;
  }

  leave(namespace: string, subscriber: Subscriber): void {
    const state = this.namespaces.get(namespace);
    if (!state || !state.subscribers.delete(subscriber)) return;
    this.subscriberCount--;
    if (state.subscribers.size === 0) this.drop(namespace, state);
  }

  close(): void {
    this.unsubscribe();
    this.stopPace();
    for (const [namespace, state] of this.namespaces) this.drop(namespace, state);
  }

  private drop(namespace: string, state: NamespaceState): void {
    state.stream.stop();
    state.cancel?.();
    state.pending = [];
    this.subscriberCount -= state.subscribers.size;
    state.subscribers.clear();
    this.namespaces.delete(namespace);
  }

  /** Events handed on in order: sent now, or with the others of the namespace's interval. */
  private handOn(state: NamespaceState, events: readonly LoggedEvent[]): void {
    for (const entry of events) state.pending.push(entry);
    if (state.cancel !== undefined) return;
    const unstretched = Math.min(MAX_FANOUT_INTERVAL_MS, (this.subscriberCount * 1000) / FANOUT_FRAMES_PER_SECOND);
    if (unstretched < MIN_FANOUT_INTERVAL_MS) return this.send(state);
    const interval = unstretched * this.pace.stretch;
    const run = () => {
      state.cancel = undefined;
      this.send(state);
    };
    const wait = state.lastSent + interval - performance.now();
    // Paced, even the first send after a quiet interval waits for the end of this turn: the acks
    // of the commit (sent as its appends resolve) go out before its 99 frames.
    if (wait <= 0) {
      const immediate = setImmediate(run);
      state.cancel = () => clearImmediate(immediate);
    } else {
      const timer = setTimeout(run, wait);
      state.cancel = () => clearTimeout(timer);
    }
  }

  private send(state: NamespaceState): void {
    const logged = state.pending;
    state.pending = [];
    state.lastSent = performance.now();
    try {
      this.deliver(state.subscribers, logged);
    } catch (error) {
      this.log.error('broadcast failed', { namespace: state.namespace, error });
    }
  }

  /** Events in order: a batch over several repositories as one change, the rest by repository. */
  private deliver(subscribers: ReadonlySet<Subscriber>, logged: readonly LoggedEvent[]): void {
    const outgoing = logged.map((entry): Outgoing => ({ entry, text: eventText(entry.event) }));
    for (const { batch, events } of segments(outgoing)) {
      if (batch) this.deliverBatch(subscribers, events);
      else this.deliverByRepository(subscribers, events);
    }
  }

  /**
   * One batch (one push, one origin): one `events_batch` frame to a subscriber that takes them,
   * one `events` frame per repository to any other (what a client before batches applies), none
   * to its sender. A batch too large for one frame (a push cap above the page cap) goes by repository.
   */
  private deliverBatch(subscribers: ReadonlySet<Subscriber>, outgoing: readonly Outgoing[]): void {
    const origin = outgoing[0]?.entry.origin;
    const parts = partsOf(outgoing);
    const whole = Buffer.from(eventsBatchFrame(parts));
    const fits = whole.byteLength <= this.maxFrameBytes;
    let byRepository: Buffer[] | undefined;
    for (const subscriber of subscribers) {
      if (subscriber.id === origin) continue;
      if (fits && subscriber.takesBatches) {
        subscriber.deliver(whole);
        continue;
      }
      byRepository ??= parts.flatMap(({ repository, events }) => liveEventsFrames(repository, events, this.maxFrameBytes)).map((frame) => Buffer.from(frame));
      for (const frame of byRepository) subscriber.deliver(frame);
    }
  }

  /** Each repository's events as the same frames to every subscriber, but for their senders, who get the others' only. */
  private deliverByRepository(subscribers: ReadonlySet<Subscriber>, outgoing: readonly Outgoing[]): void {
    const byRepository = new Map<string, Outgoing[]>();
    for (const item of outgoing) {
      let group = byRepository.get(item.entry.repository);
      if (!group) byRepository.set(item.entry.repository, (group = []));
      group.push(item);
    }
    for (const [repository, group] of byRepository) {
      const origins = new Set(group.map((g) => g.entry.origin));
      const frames = (items: readonly Outgoing[]) => liveEventsFrames(repository, items.map((g) => g.text), this.maxFrameBytes).map((frame) => Buffer.from(frame));
      let everything: Buffer[] | undefined;
      for (const subscriber of subscribers) {
        if (!origins.has(subscriber.id)) {
          everything ??= frames(group);
          for (const frame of everything) subscriber.deliver(frame);
          continue;
        }
        const others = group.filter((g) => g.entry.origin !== subscriber.id);
        for (const frame of others.length > 0 ? frames(others) : []) subscriber.deliver(frame);
      }
    }
  }
}

/** The events cut into runs: each batch alone (its events are consecutive), the others between them together. */
function segments(outgoing: readonly Outgoing[]): { batch: number | undefined; events: Outgoing[] }[] {
  const runs: { batch: number | undefined; events: Outgoing[] }[] = [];
  for (const item of outgoing) {
    const last = runs.at(-1);
    if (last && last.batch === item.entry.batch) last.events.push(item);
    else runs.push({ batch: item.entry.batch, events: [item] });
  }
  return runs;
}

/** A batch's events by repository, repositories in the order the batch gave them. */
function partsOf(outgoing: readonly Outgoing[]): { repository: string; events: EventText[] }[] {
  const parts = new Map<string, EventText[]>();
  for (const { entry, text } of outgoing) {
    const events = parts.get(entry.repository);
    if (events) events.push(text);
    else parts.set(entry.repository, [text]);
  }
  return [...parts].map(([repository, events]) => ({ repository, events }));
}
