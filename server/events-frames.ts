/**
 * `events` messages cut to a byte bound. A client refuses a frame above its cap (the worker's is
 * MAX_SERVER_FRAME_BYTES) and would then miss those events for good, since the next page or
 * broadcast moves its cursor past them: so no frame may exceed the bound, whatever the records
 * weigh. Frames are built around events serialized once (the fan-out's EventText, the store's
 * text for catch-up): an event is never serialized again per frame or per subscriber.
 */
import type { SequencedEvent } from '../protocol';
import { storedText } from './store/event-rows';

/** An event of the live fan-out serialized once, whatever the number of subscribers it goes to. */
export interface EventText {
  /** JSON.stringify of the event. */
  json: string;
  /** Its UTF-8 bytes. */
  bytes: number;
}

/** The event's text: the one its store built as it stored it (SQLite), else JSON.stringify of it. */
export function eventText(event: SequencedEvent): EventText {
  const json = storedText(event) ?? JSON.stringify(event);
  return { json, bytes: Buffer.byteLength(json) };
}

/** The head of a live `events` frame, before its events: `{"type":"events","repository":"…","events":[`. */
function liveHead(repository: string): string {
  return `{"type":"events","repository":${JSON.stringify(repository)},"events":[`;
}

/**
 * Live `events` frames (no hasMore) around events already serialized, each of at most `maxBytes`
 * (a single event that alone exceeds it goes alone), in order, filled greedily: the same text
 * JSON.stringify of each message gives, built without serializing any event again.
 */
export function liveEventsFrames(repository: string, events: readonly EventText[], maxBytes: number): string[] {
  const head = liveHead(repository);
  const envelope = Buffer.byteLength(head) + 2; // `]}`
  const frames: string[] = [];
  let run: string[] = [];
  let bytes = envelope;
  for (const { json, bytes: size } of events) {
    if (run.length > 0 && bytes + 1 + size > maxBytes) {
      frames.push(`${head}${run.join(',')}]}`);
      run = [];
      bytes = envelope;
    }
    bytes += size + (run.length > 0 ? 1 : 0);
    run.push(json);
  }
  if (run.length > 0) frames.push(`${head}${run.join(',')}]}`);
  return frames;
}

/** A batch committed together as one `events_batch` message (see EVENTS_BATCH_FEATURE), around events already serialized. */
export function eventsBatchFrame(parts: readonly { repository: string; events: readonly EventText[] }[]): string {
  const repositories = parts.map(({ repository, events }) => `{"repository":${JSON.stringify(repository)},"events":[${events.map((e) => e.json).join(',')}]}`);
  return `{"type":"events_batch","repositories":[${repositories.join(',')}]}`;
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
