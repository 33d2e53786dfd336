/**
 * A stored event's row and the event it stands for, the same for both stores: the columns of
 * the `events` table (SQLite keeps `data` as JSON text, PostgreSQL as jsonb), the event they
 * describe, its JSON text built around the stored data text, and a record's winner.
 */
import { Operation, type SequencedEvent, type SyncEvent } from '../../protocol';
import type { Winner } from './event-store';

/** The columns of a stored event; `Data` is how the driver hands `data` over. */
export interface EventRow<Data> {
  sequence: number;
  repository: string;
  event_id: string;
  data_id: string;
  operation: number;
  created_at: string;
  data: Data | null;
}

/** A row of the compacted view's text read: its data still JSON text, its repository implied. */
export type EventTextRow = Omit<EventRow<string>, 'repository'>;

/** The event a row describes, with `data` as parsed (for SQLite: JSON.parse of the column). */
export function eventOfRow(row: Omit<EventRow<unknown>, 'data'>, data: Record<string, unknown> | null): SequencedEvent {
  const event: SequencedEvent = {
    eventId: row.event_id,
    dataId: row.data_id,
    operation: row.operation as SequencedEvent['operation'],
    createdAt: row.created_at,
    serverSequence: row.sequence,
  };
  if (data !== null) event.data = data;
  return event;
}

/** The event as stored: the server's sequence replaces whatever the client sent. */
export function sequenced(event: SyncEvent, serverSequence: number): SequencedEvent {
  const { eventId, dataId, operation, createdAt, data } = event;
  return data === undefined ? { eventId, dataId, operation, createdAt, serverSequence } : { eventId, dataId, operation, createdAt, data, serverSequence };
}

/**
 * The text of each event a store has just stored and built it for (SQLite, around the data text it
 * wrote), by the event object: the fan-out sends it as it is instead of serializing the event again.
 * Weak, so it goes with the event; the events a store reports stay plain SequencedEvents.
 */
const storedTexts = new WeakMap<SequencedEvent, string>();

/** `sequenced(event, serverSequence)`, its JSON.stringify text built around `dataText` (the data as stored) and kept for storedText. */
export function sequencedWithText(event: SyncEvent, serverSequence: number, dataText: string | null): SequencedEvent {
  const stored = sequenced(event, serverSequence);
  const head = `{"eventId":${JSON.stringify(stored.eventId)},"dataId":${JSON.stringify(stored.dataId)},"operation":${stored.operation},"createdAt":${JSON.stringify(stored.createdAt)}`;
  storedTexts.set(stored, dataText === null ? `${head},"serverSequence":${serverSequence}}` : `${head},"data":${dataText},"serverSequence":${serverSequence}}`);
  return stored;
}

/** JSON.stringify(event), when its store built it (sequencedWithText). */
export function storedText(event: SequencedEvent): string | undefined {
  return storedTexts.get(event);
}

/** The event's JSON text, built around its stored data text: nothing is parsed. */
export function eventJson(row: EventTextRow): string {
  const head =
    `{"eventId":${JSON.stringify(row.event_id)},"dataId":${JSON.stringify(row.data_id)},` +
    `"operation":${row.operation},"createdAt":${JSON.stringify(row.created_at)},"serverSequence":${row.sequence}`;
  return row.data === null ? `${head}}` : `${head},"data":${row.data}}`;
}

/** A record's winner as both stores read it (records joined to its event): order keys, operation. */
export interface WinnerRow {
  data_id: string;
  created_at: string;
  event_id: string;
  operation: number;
}

export function winnersOf(rows: readonly WinnerRow[]): Map<string, Winner> {
  return new Map(rows.map((row) => [row.data_id, { createdAt: row.created_at, eventId: row.event_id, deleted: row.operation === Operation.delete }]));
}
