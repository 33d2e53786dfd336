/**
 * Sending the durable outbox: unacknowledged events go out in order, packed into batches, with
 * a small window of frames awaiting their `ack` (what waits meanwhile joins the next frame, so
 * a burst of writes becomes a few large frames). An `ack` removes its frame's entries. A new
 * session sends everything unacknowledged again; the server stores an eventId once. What this
 * runtime's own commits queued (as the commit returned it) goes out from memory, without reading
 * back what was just written.
 */
import { DEFAULT_MAX_MESSAGE_BYTES, MAX_BATCH_EVENTS, PUSH_FRAME_ENVELOPE_BYTES } from '../../protocol/limits';
import type { ClientMessage, SyncEvent } from '../../protocol/messages';
import type { OutboxEntry, SyncStorage } from '../storage/storage';
import { OutboxTail } from './outbox-tail';

/** Frames sent and not yet acknowledged, at most. */
const WINDOW_FRAMES = 2;
/** Keeps a batch frame under the server's default frame cap, with room for its envelope. */
const MAX_BATCH_BYTES = DEFAULT_MAX_MESSAGE_BYTES - PUSH_FRAME_ENVELOPE_BYTES;
const encoder = new TextEncoder();

export interface Batch {
  repository: string;
  entries: OutboxEntry[];
  /** Its events' JSON, in bytes, with a separator each. */
  bytes: number;
}

/** Cuts entries, in order, into runs of one repository of at most `maxEvents` events and
 *  `maxBytes` of JSON each. A many-write's entries (adjacent, of one `group`) share a run, so
 *  that the server stores all or none of them: it never straddles two, unless it alone exceeds
 *  the limits (the server's frame got smaller since it was written), when it is cut as single
 *  entries are. A group over several repositories (`lf.batch`) is a batch of its own. */
export function packBatches(entries: readonly OutboxEntry[], maxEvents = MAX_BATCH_EVENTS, maxBytes = MAX_BATCH_BYTES): Batch[] {
  const batches: Batch[] = [];
  let current: Batch | undefined;
  const add = (repository: string, unit: readonly OutboxEntry[], bytes: number) => {
    if (!current || current.repository !== repository || current.entries.length + unit.length > maxEvents || current.bytes + bytes > maxBytes) {
      batches.push((current = { repository, entries: [], bytes: 0 }));
    }
    current.entries.push(...unit);
    current.bytes += bytes;
  };
  for (const unit of units(entries)) {
    const fits = unit.entries.length <= maxEvents && unit.bytes <= maxBytes;
    if (fits && spansRepositories(unit.entries)) {
      // An `lf.batch`: a `push_batch` frame of its own, its entries in the order of its parts.
      batches.push({ repository: unit.repository, entries: byRepository(unit.entries), bytes: unit.bytes });
      current = undefined;
    } else if (fits) add(unit.repository, unit.entries, unit.bytes);
    else unit.entries.forEach((entry, i) => add(entry.repository, [entry], unit.sizes[i]!));
  }
  return batches;
}

function spansRepositories(entries: readonly OutboxEntry[]): boolean {
  return entries.some((entry) => entry.repository !== entries[0]?.repository);
}

/** Each repository's entries, repositories in the order they first appear: a push_batch's parts. */
function partsOf(entries: readonly OutboxEntry[]): Map<string, OutboxEntry[]> {
  const parts = new Map<string, OutboxEntry[]>();
  for (const entry of entries) {
    const part = parts.get(entry.repository);
    if (part) part.push(entry);
    else parts.set(entry.repository, [entry]);
  }
  return parts;
}

/** The entries in the order of their batch's parts. */
function byRepository(entries: readonly OutboxEntry[]): OutboxEntry[] {
  return [...partsOf(entries).values()].flat();
}

/** The entries as units that go out together: each a many-write's entries, or a single entry,
 *  with the size of each entry's event. */
function units(entries: readonly OutboxEntry[]): (Batch & { sizes: number[] })[] {
  const found: (Batch & { sizes: number[] })[] = [];
  let last: (Batch & { sizes: number[] }) | undefined;
  for (const entry of entries) {
    const size = encoder.encode(JSON.stringify(entry.event)).byteLength + 1;
    const previous = last?.entries.at(-1);
    if (!last || entry.group === undefined || entry.group !== previous?.group) {
      found.push((last = { repository: entry.repository, entries: [], bytes: 0, sizes: [] }));
    }
    last.entries.push(entry);
    last.bytes += size;
    last.sizes.push(size);
  }
  return found;
}

/** A read that filled its limit may end inside a many-write, whose rest comes with the next
 *  read: its entries wait for that one (unless they are all the read holds: a group is at most
 *  MAX_BATCH_EVENTS, which a read always takes). */
export function withoutCutGroup(entries: readonly OutboxEntry[]): readonly OutboxEntry[] {
  const group = entries.at(-1)?.group;
  if (group === undefined) return entries;
  let start = entries.length - 1;
  while (start > 0 && entries[start - 1]!.group === group) start--;
  return start === 0 ? entries : entries.slice(0, start);
}

/** The frame that carries a batch: `push_batch` when it spans repositories, else one repository's push. */
export function pushFrame(batch: Batch): ClientMessage {
  if (!spansRepositories(batch.entries)) return pushMessage(batch.repository, batch.entries.map((entry) => entry.event));
  const parts = [...partsOf(batch.entries)].map(([repository, entries]) => ({ repository, events: entries.map((entry) => entry.event) }));
  return { type: 'push_batch', repositories: parts };
}

export function pushMessage(repository: string, events: readonly SyncEvent[]): ClientMessage {
  const [first] = events;
  return events.length === 1 && first
    ? { type: 'push_event', repository, event: first }
    : { type: 'push_events_batch', repository, events: [...events] };
}

export class OutboxSender {
  /** Highest outbox key sent in the current session. */
  private sentThrough = 0;
  /** Frames awaiting their ack, by their first eventId (an ack lists the frame's eventIds). */
  private readonly inFlight = new Map<string, OutboxEntry[]>();
  /** Bumped per session, so that a drain of an older one stops. */
  private session = 0;
  private draining: Promise<void> | null = null;
  private drainAgain = false;
  /** The last pass sent everything the outbox held after sentThrough, and nothing was queued
   *  since: a drain (after an ack) then has nothing to send and reads nothing. */
  private caughtUp = false;
  /** Batches stay within the server's frame cap (less the envelope). */
  private maxBatchBytes = MAX_BATCH_BYTES;
  /** A read of the store in this session found its end. With other writers, what they queue
   *  after that is announced (`queued`); what they queued before, only the store knows. */
  private readToEnd = false;
  /** What this runtime's commits queued lately, so the drain need not read back what it just wrote. */
  private readonly tail = new OutboxTail();

  constructor(
    private readonly storage: SyncStorage,
    /** Sends on the live, authenticated socket; false when there is none. */
    private readonly send: (message: ClientMessage) => boolean,
    /** Other runtimes may write the same outbox (dedicated workers of one profile, or two
     *  deployments' SharedWorkers on one schema): what this one holds in memory is partial. */
    private readonly sharedWithOthers = false,
    /** An entry no frame of this server can carry (its event alone is above the frame cap):
     *  the sender skips it for the session; the caller takes it out of the outbox and says so. */
    private readonly unsendable: (entry: OutboxEntry, maxBatchBytes: number) => void = () => {},
  ) {}

  /** The largest frame the server takes: batches stay within it, less the envelope. */
  serverTakes(frameBytes: number): void {
    this.maxBatchBytes = frameBytes - PUSH_FRAME_ENVELOPE_BYTES;
  }

  /** A new session: nothing is in flight in it yet, so everything unacknowledged goes again. */
  reset(): void {
    this.session++;
    this.sentThrough = 0;
    this.inFlight.clear();
    this.caughtUp = false;
    this.readToEnd = false;
  }

  /** Entries were queued (by this runtime, given as its commit returned them, or by another on the
   *  same database): the next drain looks for them. */
  queued(entries: readonly OutboxEntry[] = []): void {
    this.tail.append(entries);
    this.caughtUp = false;
    // Another runtime's: what memory holds no longer stands for the rest until a read finds the end.
    if (entries.length === 0) this.readToEnd = false;
    // A pass reading now may read from before these and end "caught up": it goes round again.
    if (this.draining) this.drainAgain = true;
  }

  /** The storage holds other data now (emptied, replaced): what was remembered of it is not there. */
  forget(): void {
    this.tail.clear();
  }

  /** Sends what the window allows; calls during a drain join it. */
  drain(): Promise<void> {
    if (this.caughtUp) return Promise.resolve();
    if (this.draining) {
      this.drainAgain = true;
      return this.draining;
    }
    this.draining = this.sendWhileNeeded();
    return this.draining;
  }

  /** The server refused a frame for what it holds (`error.eventIds`): it is no longer in flight.
   *  Returns its entries, or undefined when no frame of this session has those events. */
  refused(eventIds: readonly string[]): OutboxEntry[] | undefined {
    const [first] = eventIds;
    if (first === undefined || this.inFlight.get(first)?.length !== eventIds.length) return undefined;
    return this.landed(eventIds);
  }

  /** Removes an acknowledged frame's entries, in one transaction; returns how many. */
  async acknowledge(eventIds: readonly string[]): Promise<number> {
    const entries = this.landed(eventIds);
    if (!entries) return 0;
    const keys = entries.map((entry) => entry.key);
    this.tail.remove(keys);
    await this.storage.removeOutbox(keys);
    return entries.length;
  }

  /** The frame in flight that an answer names (by its first eventId), no longer in flight. */
  private landed(eventIds: readonly string[]): OutboxEntry[] | undefined {
    const [first] = eventIds;
    const entries = first === undefined ? undefined : this.inFlight.get(first);
    if (first !== undefined) this.inFlight.delete(first);
    return entries;
  }

  private async sendWhileNeeded(): Promise<void> {
    try {
      // Each pass sends for the session current at its start: a drain requested by a newer
      // session while an older pass was reading must not be lost with that pass.
      do {
        this.drainAgain = false;
        await this.sendWindow(this.session);
      } while (this.drainAgain);
    } finally {
      this.draining = null;
    }
  }

  private async sendWindow(session: number): Promise<void> {
    while (this.inFlight.size < WINDOW_FRAMES) {
      const room = WINDOW_FRAMES - this.inFlight.size;
      // Entries this runtime just queued go out in this task, without waiting for a read.
      const limit = room * MAX_BATCH_EVENTS;
      const remembered = this.tail.after(this.sentThrough, limit);
      const entries = remembered ?? (await this.storage.readOutbox(this.sentThrough, limit));
      if (session !== this.session) return;
      const lastOnes = entries.length < limit;
      if (lastOnes && !remembered) this.readToEnd = true;
      const batches = packBatches(lastOnes ? entries : withoutCutGroup(entries), MAX_BATCH_EVENTS, this.maxBatchBytes);
      for (const batch of batches.slice(0, room)) {
        const [alone] = batch.entries;
        if (alone && batch.bytes > this.maxBatchBytes) {
          // One event larger than any frame this server takes: sending it would be refused forever.
          this.sentThrough = alone.key;
          this.unsendable(alone, this.maxBatchBytes);
          continue;
        }
        const events = batch.entries.map((entry) => entry.event);
        const first = events[0];
        if (!first || !this.send(pushFrame(batch))) return;
        this.inFlight.set(first.eventId, batch.entries);
        this.sentThrough = batch.entries.at(-1)?.key ?? this.sentThrough;
      }
      // Fewer than asked for, and all of them sent: there is no more until something is queued
      // (which calls `queued`), so the next read would find nothing: skip it. With other writers
      // only once the store was read to its end in this session: before, what came from memory
      // may miss what they queued (e.g. the last write of a leader this runtime took over from).
      if (lastOnes && batches.length <= room && (!this.sharedWithOthers || this.readToEnd)) {
        this.caughtUp = true;
        return;
      }
      if (entries.length === 0) return;
    }
  }
}
