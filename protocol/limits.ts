/** Bounds shared by the worker and the server. A peer that exceeds one gets a clear error. */

/** Default cap on one incoming WebSocket frame (server side, `MAX_MESSAGE_BYTES`). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
/** What a push frame holds beside its events' JSON: `{"type":"push_events_batch","repository":"…","events":[…]}`. */
export const PUSH_FRAME_ENVELOPE_BYTES = 128;
/** What an event holds beside its record's data: eventId, dataId, createdAt, operation, their keys. */
export const EVENT_FIELDS_BYTES = 512;
/** Cap on a frame the worker accepts from a server: pages of compacted events can be large. */
export const MAX_SERVER_FRAME_BYTES = 32 * 1024 * 1024;
/** Deepest JSON nesting a frame may have. An event's data is a record, so real frames stay shallow. */
export const MAX_JSON_DEPTH = 32;
/** Deepest nesting of an event's `data`: an `events` page wraps it three levels deep and must stay within MAX_JSON_DEPTH. */
export const MAX_DATA_DEPTH = MAX_JSON_DEPTH - 3;
/** Most events in one `push_events_batch`. */
export const MAX_BATCH_EVENTS = 500;
/** Most events in one `events` page; also the page size when `request_events` names none. */
export const MAX_PAGE_EVENTS = 1000;
export const DEFAULT_PAGE_EVENTS = 500;
/** Most bytes the server puts in one `events` page: a page of large records is cut short (its
 *  `hasMore` says so), well inside MAX_SERVER_FRAME_BYTES, which a client would otherwise refuse,
 *  skipping those events for good. */
export const MAX_PAGE_BYTES = 8 * 1024 * 1024;

/** A repository name is an object key in `ack.repositories`: the three keys JavaScript reserves are refused. */
export const REPOSITORY_NAME = /^(?!(?:__proto__|constructor|prototype)$)[A-Za-z0-9_-]{1,64}$/;
/** Event ids are nanoids or UUIDs: URL-safe characters only. */
export const EVENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_DATA_ID_LENGTH = 256;
/** Longest namespace or principal (a JWT's claims, AUTH_TOKENS): like a dataId. */
export const MAX_IDENTIFIER_LENGTH = MAX_DATA_ID_LENGTH;
/** The one `createdAt` form every replica writes, so that string order is time order. */
export const CANONICAL_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** The latest `createdAt` any replica may write: a clock must clamp to it, never pass it. */
export const MAX_TIMESTAMP = '9999-12-31T23:59:59.999Z';

/** A `createdAt` in the canonical form that names a real instant: `2026-02-31` or `24:00` are
 *  not (Date would roll them over to another day), and the four-digit year ends at 9999. */
export function isCanonicalTimestamp(text: string): boolean {
  if (!CANONICAL_TIMESTAMP.test(text)) return false;
  const time = Date.parse(text);
  return !Number.isNaN(time) && new Date(time).toISOString() === text;
}
