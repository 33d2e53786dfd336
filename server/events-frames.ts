/**
 * `events` messages cut to a byte bound. A client refuses a frame above its cap (the worker's is
 * MAX_SERVER_FRAME_BYTES) and would then miss those events for good, since the next page or
 * broadcast moves its cursor past them: so no frame may exceed the bound, whatever the records
 * weigh. Serialized once when everything fits, as it nearly always does.
 */
import type { SequencedEvent, ServerMessage } from '../protocol';

export interface EventsFrame {
  /** The serialized `events` message. */
  frame: string;
  /** How many of the events it carries, from the front. */
  count: number;
}

/**
 * The events as `events` frames of at most `maxBytes` each, in order (a single event that alone
 * exceeds it goes alone: the push limit keeps events far below the cap). `hasMore` marks a
 * catch-up page: every frame but the last says `hasMore: true`, the last says the page's own.
 */
export function eventsFrames(repository: string, events: readonly SequencedEvent[], maxBytes: number, hasMore?: boolean): EventsFrame[] {
  const message: ServerMessage =
    hasMore === undefined ? { type: 'events', repository, events: [...events] } : { type: 'events', repository, events: [...events], hasMore };
  const frame = JSON.stringify(message);
  if (events.length <= 1 || Buffer.byteLength(frame) <= maxBytes) return [{ frame, count: events.length }];
  const half = Math.ceil(events.length / 2);
  return [
    ...eventsFrames(repository, events.slice(0, half), maxBytes, hasMore === undefined ? undefined : true),
    ...eventsFrames(repository, events.slice(half), maxBytes, hasMore),
  ];
}

/** A batch committed together as one `events_batch` message (see EVENTS_BATCH_FEATURE). */
export function eventsBatchFrame(parts: readonly { repository: string; events: readonly SequencedEvent[] }[]): string {
  const message: ServerMessage = { type: 'events_batch', repositories: parts.map(({ repository, events }) => ({ repository, events: [...events] })) };
  return JSON.stringify(message);
}

/** Events already serialized (the store's text) as one JSON array, without parsing any. */
export function eventsArrayText(events: readonly { json: string }[]): string {
  return `[${events.map((e) => e.json).join(',')}]`;
}

/** An `events` message around events already serialized: the same text JSON.stringify would give. */
export function eventsFrameText(repository: string, events: readonly { json: string }[], hasMore: boolean): string {
  return `{"type":"events","repository":${JSON.stringify(repository)},"events":${eventsArrayText(events)},"hasMore":${hasMore}}`;
}

/**
 * The bytes a page's events may take so that its `events` frame stays within `maxFrameBytes`:
 * the store counts each event with one comma (see collectPage), one more than the array holds.
 */
export function pageBudget(repository: string, maxFrameBytes: number): number {
  return Math.max(1, maxFrameBytes - Buffer.byteLength(eventsFrameText(repository, [], false)) - 1);
}
