/**
 * The event log behind the server: one seam, two implementations (SQLite, PostgreSQL), one
 * contract suite (test/store-contract.ts) that both run.
 */
import type { SequencedEvent, SyncEvent } from '../../protocol';
import { createLogger, type Logger } from '../log';
import { eventJson, type EventTextRow } from './event-rows';

export interface AppendResult {
  /** The event as stored, with its sequence (the first copy's, for a duplicate). */
  event: SequencedEvent;
  repository: string;
  /** The eventId was already stored in this namespace: nothing was written. */
  duplicate: boolean;
}

/** What one append may take. */
export interface AppendOptions {
  /** Most bytes the namespace may hold (`storedBytes` of every event stored); none when absent. */
  quotaBytes?: number | undefined;
  /**
   * Who wrote the events (a connection's id, `server` for a server-side write): the commit's
   * listeners get it with each event, so that the fan-out does not echo a push to its sender.
   */
  origin?: string | undefined;
}

/** What a store is opened with beside its database. */
export interface StoreLogOptions {
  /** Where failures that are handled, not thrown (a throwing listener, a lost LISTEN connection), are reported. */
  log?: Logger | undefined;
}

/** A store opened without a logger reports to stderr, errors only. */
export function storeLog(options: StoreLogOptions | undefined): Logger {
  return options?.log ?? createLogger('error', (line) => process.stderr.write(line + '\n'));
}

/**
 * A push the store refuses for what it holds, whole: nothing of it is stored, and sending it again
 * as it is will be refused again. `code` is the protocol's error code.
 */
export class AppendRefused extends Error {
  constructor(
    readonly code: 'quota_exceeded' | 'event_id_conflict',
    message: string,
  ) {
    super(message);
    this.name = 'AppendRefused';
  }
}

export function quotaExceeded(quotaBytes: number): AppendRefused {
  return new AppendRefused('quota_exceeded', `storing this would pass the namespace's quota of ${quotaBytes} bytes: nothing of it was stored`);
}

export function storedInAnotherRepository(eventId: string, repository: string): AppendRefused {
  return new AppendRefused('event_id_conflict', `eventId ${eventId} is already stored in repository ${repository}: an eventId names one event`);
}

/** What a stored event holds beside its data and identifiers (createdAt, operation, sequence, keys). */
export const EVENT_ROW_BYTES = 64;

/**
 * What an event counts against its namespace's quota: the UTF-8 bytes of its data as stored (its
 * JSON), of its identifiers, and EVENT_ROW_BYTES. Both stores persist the sum per namespace, so
 * the count is exact across restarts and costs nothing to read.
 */
export function storedBytes(repository: string, event: SyncEvent, dataText: string | null): number {
  const text = (value: string) => Buffer.byteLength(value, 'utf8');
  return (dataText === null ? 0 : text(dataText)) + text(event.eventId) + text(event.dataId) + text(repository) + EVENT_ROW_BYTES;
}

export interface Page {
  events: SequencedEvent[];
  hasMore: boolean;
}

/** One event of the compacted view as its JSON text, ready to be put into a frame as it is. */
export interface StoredEvent {
  serverSequence: number;
  json: string;
}

/** A page of StoredEvents: at most `limit` events and `maxBytes` bytes of JSON (at least one event). */
export interface StoredPage {
  events: StoredEvent[];
  hasMore: boolean;
}

export interface CompactedQuery {
  afterSequence: number;
  since?: string | undefined;
  limit: number;
}

/**
 * A page filled row by row, in sequence order, until `limit` events or `maxBytes` bytes of JSON
 * (each event and its comma), always at least one event: the store reads no further than the
 * page needs. A row offered once the page is full is not taken and means there is more.
 */
export class PageCollector {
  readonly events: StoredEvent[] = [];
  private bytes = 0;
  private largest = 0;

  constructor(
    private readonly limit: number,
    private readonly maxBytes: number,
  ) {}

  /** Takes the row; false when the page is full (the row is left for the next page). */
  add(row: EventTextRow): boolean {
    const json = eventJson(row);
    const size = Buffer.byteLength(json) + 1;
    if (this.events.length === this.limit || (this.events.length > 0 && this.bytes + size > this.maxBytes)) return false;
    this.events.push({ serverSequence: row.sequence, json });
    this.bytes += size;
    this.largest = Math.max(this.largest, size);
    return true;
  }

  /** Bytes the page may still take. */
  get remaining(): number {
    return Math.max(0, this.maxBytes - this.bytes);
  }

  /** Rows to ask for so that one more than the limit can be seen (the one that tells there is more). */
  get rowsWanted(): number {
    return this.limit - this.events.length + 1;
  }

  /** How many more rows to read at once: what the budget still holds at the largest size seen, plus the one that tells. */
  nextRead(): number {
    if (this.largest === 0) return this.rowsWanted;
    return Math.max(1, Math.min(this.rowsWanted, Math.floor(this.remaining / this.largest) + 1));
  }

  page(hasMore: boolean): StoredPage {
    return { events: this.events, hasMore };
  }
}

/** Lets timers and I/O run between two synchronous reads of the database. */
export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The page with its events parsed (REST and tests; catch-up sends the text). */
export function parsePage(page: StoredPage): Page {
  return { events: page.events.map((e) => JSON.parse(e.json) as SequencedEvent), hasMore: page.hasMore };
}

/** A record's current winner: what a new write of it must follow in the LWW order. */
export interface Winner {
  createdAt: string;
  eventId: string;
  /** The winner is a delete: the record is gone. */
  deleted: boolean;
}

export interface RepositoryInfo {
  name: string;
  events: number;
  maxSequence: number;
}

export interface LoggedEvent {
  repository: string;
  event: SequencedEvent;
  /** AppendOptions.origin of the append that stored it; known only to the process that did. */
  origin?: string;
  /**
   * Set on the events of a batch over several repositories (appendBatch): the serverSequence of
   * its first event, the same on each of them. They are one change, sent as one frame. The log
   * does not keep it: another instance learns it from the commit's notification (Commit.batches).
   */
  batch?: number;
}

/** A batch's first and last serverSequence (its events are consecutive). */
export type BatchRange = [first: number, last: number];

/** One repository's events of an append. */
export interface AppendPart<E = SyncEvent> {
  repository: string;
  events: readonly E[];
}

/** Events committed to a namespace, as an AppendedListener hears of them. */
export interface Commit {
  namespace: string;
  /** The namespace's highest sequence the commit (or the commits announced together) reached. */
  maxSequence: number;
  /**
   * The lowest sequence of what is announced, when known: always for a commit of this process,
   * and for another instance's when its notification says (not after a LISTEN outage).
   */
  firstSequence?: number | undefined;
  /** For a commit of this process: the events it stored (no duplicates), in sequence order. */
  events?: readonly LoggedEvent[] | undefined;
  /** For another instance's commit, when its notification says: the batches among its events. */
  batches?: readonly BatchRange[] | undefined;
}

export type AppendedListener = (commit: Commit) => void;

/** The events a commit stored, in sequence order, each with its request's origin, and for those
 *  of a request over several repositories the batch they make (its first stored sequence). */
export function storedEvents(
  requests: readonly { origin?: string | undefined; parts: readonly unknown[] }[],
  results: readonly (readonly AppendResult[])[],
): LoggedEvent[] {
  const stored = results.flatMap((request, i) => {
    const origin = requests[i]?.origin;
    const fresh = request.filter((result) => !result.duplicate);
    const batch = (requests[i]?.parts.length ?? 0) > 1 ? fresh[0]?.event.serverSequence : undefined;
    return fresh.map(({ repository, event }): LoggedEvent => ({ repository, event, ...(origin === undefined ? {} : { origin }), ...(batch === undefined ? {} : { batch }) }));
  });
  return stored.sort((a, b) => a.event.serverSequence - b.event.serverSequence);
}

/** The sequence range of each batch among `events` (LoggedEvent.batch), first to last, in order. */
export function batchRanges(events: readonly LoggedEvent[]): BatchRange[] {
  const ranges: BatchRange[] = [];
  for (const { event, batch } of events) {
    if (batch === undefined) continue;
    const last = ranges.at(-1);
    if (last && last[0] === batch) last[1] = event.serverSequence;
    else ranges.push([batch, event.serverSequence]);
  }
  return ranges;
}

/** What a listener hears of a commit of this process. */
export function commitOf(namespace: string, maxSequence: number, events: readonly LoggedEvent[]): Commit {
  return { namespace, maxSequence, firstSequence: events[0]?.event.serverSequence, events };
}

export interface EventStore {
  /** `sqlite` or `postgres`: shown by /api/health. */
  readonly kind: string;
  /**
   * Appends events atomically and durably: when the promise resolves, every event is committed
   * (survives kill -9). Idempotent by (namespace, eventId). Sequences are strictly increasing per
   * namespace and become visible to readers in sequence order (no reader sees n+1 before n).
   * Rejects with AppendRefused, storing none of `events`, when one of them is stored under
   * another repository, or when storing them would pass `options.quotaBytes`.
   */
  append(namespace: string, repository: string, events: readonly SyncEvent[], options?: AppendOptions): Promise<AppendResult[]>;
  /**
   * Appends several repositories' events as ONE append, as `append` does one repository's: all
   * committed in one transaction or none (AppendRefused names why), the quota counted for them
   * all, an eventId stored under another repository (or given in two parts) refusing them all.
   * Results in part order. Listeners hear of them in one commit, marked as one batch
   * (LoggedEvent.batch) when there are several parts and something was stored.
   */
  appendBatch(namespace: string, parts: readonly AppendPart[], options?: AppendOptions): Promise<AppendResult[]>;
  /**
   * The compacted view: for each record of the repository, its winning event by
   * `compareEvents` (last writer wins on createdAt, eventId) over ALL its events; only winners
   * whose sequence is > afterSequence (and, when given, whose createdAt is > since), ordered by
   * sequence, at most `limit`. A delete stays visible as the record's winner.
   */
  readCompacted(namespace: string, repository: string, options: CompactedQuery): Promise<Page>;
  /**
   * The same view as JSON text, cut at `maxBytes` as well (see collectPage): what catch-up and
   * REST send, so that a page is never held as parsed objects.
   */
  readCompactedText(namespace: string, repository: string, options: CompactedQuery & { maxBytes: number }): Promise<StoredPage>;
  /** The current winner of each of `dataIds` that has one, by dataId (server-side writes follow it). */
  readWinners(namespace: string, repository: string, dataIds: readonly string[]): Promise<Map<string, Winner>>;
  /** The raw log of a namespace after a sequence, in order (for fan-out between instances). */
  readLog(namespace: string, afterSequence: number, limit: number): Promise<LoggedEvent[]>;
  /** The highest sequence of a namespace (0 when empty). */
  maxSequence(namespace: string): Promise<number>;
  repositories(namespace: string): Promise<RepositoryInfo[]>;
  /**
   * Calls `listener(commit)` whenever events are committed to a namespace, by this process or
   * (PostgreSQL) another instance. For a commit of this process, `commit.events` holds the events
   * it stored (no duplicates), in sequence order, each with its origin, so that the fan-out need
   * not read back what it just wrote. A listener that throws is logged; the others still hear of
   * the commit, and the append still resolves. Returns an unsubscribe function.
   */
  onAppended(listener: AppendedListener): () => void;
  close(): Promise<void>;
}
