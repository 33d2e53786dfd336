/**
 * The wire contract: every message as a valibot schema. The worker and the server import this
 * module and validate each frame on arrival; the tab facade imports its types only.
 */
import * as v from 'valibot';
import {
  CANONICAL_TIMESTAMP,
  EVENT_ID,
  isCanonicalTimestamp,
  MAX_BATCH_EVENTS,
  MAX_DATA_DEPTH,
  MAX_DATA_ID_LENGTH,
  MAX_PAGE_EVENTS,
  REPOSITORY_NAME,
} from './limits';

export const Operation = { insert: 0, update: 1, delete: 2 } as const;
export type Operation = (typeof Operation)[keyof typeof Operation];

export const ErrorCode = {
  unauthenticated: 'unauthenticated',
  authFailed: 'auth_failed',
  invalidMessage: 'invalid_message',
  tooLarge: 'too_large',
  rateLimited: 'rate_limited',
  /** A push that would take its namespace past NAMESPACE_QUOTA_BYTES; it names its events. */
  quotaExceeded: 'quota_exceeded',
  /** A push naming an eventId the namespace holds under another repository; it names its events. */
  eventIdConflict: 'event_id_conflict',
  /** A push with a record the server's schema for its repository refuses (createSyncServer's `schemas`); it names its events. */
  invalidRecord: 'invalid_record',
  /** A push the server's `authorizeWrite` refused; it names its events. */
  forbidden: 'forbidden',
  internal: 'internal',
  /** The page's origin is not in the server's ALLOWED_ORIGINS; the server closes the socket (1008). */
  originRefused: 'origin_refused',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** What a client reads for an `error.code` it does not know (a newer server's): the frame still
 *  counts, as an error of no known kind, instead of being dropped as invalid (docs/protocol.md). */
export const UNKNOWN_ERROR_CODE = 'server_error';

/** `error.code` on the wire: one of ErrorCode's values; any other string reads as UNKNOWN_ERROR_CODE. */
const ErrorCodeSchema = v.union([
  v.picklist(Object.values(ErrorCode)),
  v.pipe(
    v.string(),
    v.transform((): typeof UNKNOWN_ERROR_CODE => UNKNOWN_ERROR_CODE),
  ),
]);
/** An `error.code` as a client reads it. */
export type ReadErrorCode = v.InferOutput<typeof ErrorCodeSchema>;

const EventId = v.pipe(v.string(), v.regex(EVENT_ID, 'eventId must be 1-64 URL-safe characters'));
/** The events of one push, by id: what `error.eventIds` names. */
export const PushedEventIdsSchema = v.pipe(v.array(EventId), v.maxLength(MAX_BATCH_EVENTS));

const timestamp = v.pipe(
  v.string(),
  v.regex(CANONICAL_TIMESTAMP, 'createdAt must be ISO-8601 UTC with milliseconds (YYYY-MM-DDTHH:mm:ss.sssZ)'),
  v.check(isCanonicalTimestamp, 'createdAt is not a real date (a day the month does not have, or an hour past 23)'),
);
const sequence = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));

export const RepositoryName = v.pipe(
  v.string(),
  v.regex(REPOSITORY_NAME, 'repository must match ^[A-Za-z0-9_-]{1,64}$ and not be __proto__, constructor or prototype'),
);

/**
 * A record's data: a JSON object, kept as it was parsed. Not `v.record`, which copies the object
 * and leaves out its `constructor` and `prototype` keys, and takes an array for an object: what
 * the server acknowledged would not be what it stored.
 */
const RecordData = v.pipe(
  v.custom<Record<string, unknown>>(isPlainObject, 'data must be a JSON object (a record), not an array or a value'),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const problem = dataProblem(dataset.value);
    if (problem) addIssue({ message: problem });
  }),
);

export const SyncEventSchema = v.pipe(
  v.object({
    eventId: EventId,
    dataId: v.pipe(v.string(), v.minLength(1, 'dataId is empty'), v.maxLength(MAX_DATA_ID_LENGTH, 'dataId is too long')),
    operation: v.picklist([Operation.insert, Operation.update, Operation.delete], 'operation must be 0, 1 or 2'),
    createdAt: timestamp,
    data: v.optional(RecordData),
    serverSequence: v.optional(sequence),
  }),
  v.check((e) => e.operation === Operation.delete || e.data !== undefined, 'insert and update events need data'),
);
export type SyncEvent = v.InferOutput<typeof SyncEventSchema>;
/** An event as the server stores and sends it: it always carries its sequence. */
export type SequencedEvent = SyncEvent & { serverSequence: number };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why `data` cannot be stored as it is, or undefined: nested deeper than a page can carry, or a
 *  number JSON cannot spell (`1e400` parses to Infinity, which JSON.stringify writes as null). */
function dataProblem(data: Record<string, unknown>): string | undefined {
  let nonFinite = false;
  const depthOf = (value: unknown): number => {
    if (typeof value === 'number' && !Number.isFinite(value)) nonFinite = true;
    if (typeof value !== 'object' || value === null) return 0;
    let deepest = 0;
    for (const item of Object.values(value)) deepest = Math.max(deepest, depthOf(item));
    return deepest + 1;
  };
  // Counted as `jsonDepth` counts a frame's text.
  if (depthOf(data) > MAX_DATA_DEPTH) return `data is nested deeper than ${MAX_DATA_DEPTH} levels`;
  if (nonFinite) return 'data holds a number out of range (not finite)';
  return undefined;
}

/** Most repositories one `push_batch` (or `events_batch`) names; its events stay within MAX_BATCH_EVENTS in all. */
export const MAX_BATCH_REPOSITORIES = 32;

/**
 * What a client names in `auth.features` to be sent a batch committed together as ONE
 * `events_batch` frame. A client that does not name it (every worker before batches) gets the
 * batch as one `events` frame per repository, which it already applies: a frame of a type it does
 * not know it would drop, and the cursor a later broadcast moves would then skip those events.
 */
export const EVENTS_BATCH_FEATURE = 'events_batch';
/** Most features an `auth` names, and the longest name: a server ignores those it does not know. */
const MAX_FEATURES = 16;
const MAX_FEATURE_LENGTH = 64;

const credentials = {
  token: v.optional(v.string()),
  headers: v.optional(v.record(v.string(), v.string())),
  features: v.optional(
    v.pipe(v.array(v.pipe(v.string(), v.maxLength(MAX_FEATURE_LENGTH))), v.maxLength(MAX_FEATURES, `at most ${MAX_FEATURES} features`)),
  ),
};

/** One repository's events of a batch. */
const BatchPartSchema = v.object({
  repository: RepositoryName,
  events: v.pipe(v.array(SyncEventSchema), v.minLength(1, 'each repository of a batch needs at least one event')),
});
export type BatchPart = v.InferOutput<typeof BatchPartSchema>;

/** Why the parts of a `push_batch` do not make one batch (a repository named twice, an eventId
 *  given twice, too many events in all), or undefined. */
export function batchProblem(parts: readonly { repository: string; events: readonly { eventId: string }[] }[]): string | undefined {
  const repositories = new Set<string>();
  const eventIds = new Set<string>();
  let events = 0;
  for (const { repository, events: partEvents } of parts) {
    if (repositories.has(repository)) return `repository ${repository} is named twice: give each repository's events in one part`;
    repositories.add(repository);
    events += partEvents.length;
    if (events > MAX_BATCH_EVENTS) return `at most ${MAX_BATCH_EVENTS} events per batch, over all its repositories`;
    for (const { eventId } of partEvents) {
      if (eventIds.has(eventId)) return `eventId ${eventId} is given twice: an eventId names one event`;
      eventIds.add(eventId);
    }
  }
  return undefined;
}

/** The parts of a `push_batch`: 1–MAX_BATCH_REPOSITORIES repositories, each once, 1–MAX_BATCH_EVENTS events in all, each eventId once. */
const PushBatchParts = v.pipe(
  v.array(BatchPartSchema),
  v.minLength(1, 'a batch needs at least one repository'),
  v.maxLength(MAX_BATCH_REPOSITORIES, `at most ${MAX_BATCH_REPOSITORIES} repositories per batch`),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const problem = batchProblem(dataset.value);
    if (problem) addIssue({ message: problem });
  }),
);

export const ClientMessageSchema = v.variant('type', [
  v.object({ type: v.literal('auth'), ...credentials }),
  v.object({ type: v.literal('ping') }),
  v.object({ type: v.literal('pong') }),
  v.object({ type: v.literal('push_event'), repository: RepositoryName, event: SyncEventSchema }),
  v.object({
    type: v.literal('push_events_batch'),
    repository: RepositoryName,
    events: v.pipe(v.array(SyncEventSchema), v.minLength(1), v.maxLength(MAX_BATCH_EVENTS, `at most ${MAX_BATCH_EVENTS} events per batch`)),
  }),
  /** Events of several repositories, stored all or none in one commit → one `ack` naming them all. */
  v.object({ type: v.literal('push_batch'), repositories: PushBatchParts }),
  v.object({
    type: v.literal('request_events'),
    repository: RepositoryName,
    afterSequence: v.optional(sequence),
    since: v.optional(timestamp),
    limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_PAGE_EVENTS))),
  }),
  v.object({ type: v.literal('request_all_events'), repository: v.optional(RepositoryName) }),
  v.object({ type: v.literal('events_received'), repository: RepositoryName, count: v.pipe(v.number(), v.integer(), v.minValue(0)) }),
]);
export type ClientMessage = v.InferOutput<typeof ClientMessageSchema>;

export const ServerMessageSchema = v.variant('type', [
  v.object({
    type: v.literal('auth_success'),
    principal: v.optional(v.string()),
    namespace: v.optional(v.string()),
    connectionId: v.optional(v.string()),
    /** The largest frame this server takes (its MAX_MESSAGE_BYTES): a client packs its pushes
     *  within it, and knows an event that cannot fit will never be accepted. */
    maxMessageBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1024))),
  }),
  v.object({
    type: v.literal('error'),
    message: v.string(),
    code: v.optional(ErrorCodeSchema),
    /** A push refused for what it holds (it will be refused again, as sent): its events' ids. */
    eventIds: v.optional(PushedEventIdsSchema),
  }),
  v.object({ type: v.literal('ping') }),
  v.object({ type: v.literal('pong') }),
  v.object({
    type: v.literal('events'),
    repository: RepositoryName,
    events: v.array(SyncEventSchema),
    hasMore: v.optional(v.boolean()),
  }),
  /** A batch committed together, for a client that named EVENTS_BATCH_FEATURE: apply it as one change. */
  v.object({
    type: v.literal('events_batch'),
    repositories: v.array(v.object({ repository: RepositoryName, events: v.array(SyncEventSchema) })),
  }),
  v.object({
    type: v.literal('ack'),
    eventIds: v.array(v.string()),
    repositories: v.record(v.string(), v.array(v.string())),
  }),
  v.object({ type: v.literal('sync_complete'), repository: v.optional(RepositoryName) }),
]);
export type ServerMessage = v.InferOutput<typeof ServerMessageSchema>;

export type MessageOf<M extends { type: string }, T extends M['type']> = Extract<M, { type: T }>;

/** The first issue of a failed parse, as one readable line: `events.0.createdAt: ...`. */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  const first = issues[0];
  if (!first) return 'invalid message';
  const path = first.path?.map((p) => String(p.key)).join('.');
  return path ? `${path}: ${first.message}` : first.message;
}
