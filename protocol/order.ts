/**
 * The one total order every replica uses to pick a record's winner: last writer wins on
 * `(createdAt, eventId)`. The server's compaction and the worker's merge both call this.
 */
import { MAX_TIMESTAMP } from './limits';

export interface Ordered {
  readonly createdAt: string;
  readonly eventId: string;
}

/** The latest instant a `createdAt` may name (the server refuses later ones). */
export const LATEST_TIMESTAMP_MS = Date.parse(MAX_TIMESTAMP);

/** Negative when `a` loses to `b`, positive when it wins, 0 for the same event. */
export function compareEvents(a: Ordered, b: Ordered): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  if (a.eventId !== b.eventId) return a.eventId < b.eventId ? -1 : 1;
  return 0;
}

/** A timestamp for a new local event that is never older than the event it replaces, so a
 *  user's edit beats what they saw even when another device's clock runs ahead of theirs. It
 *  never passes LATEST_TIMESTAMP_MS: at that ceiling it ties with what it replaces, and
 *  `eventIdAfter` breaks the tie. */
export function nextTimestamp(now: number, replaces?: Ordered): string {
  const previous = replaces ? Date.parse(replaces.createdAt) : Number.NEGATIVE_INFINITY;
  return new Date(Math.min(LATEST_TIMESTAMP_MS, Math.max(now, previous + 1))).toISOString();
}

/** Event id characters (protocol/limits.ts EVENT_ID) in the order `<` compares them. */
const ID_ALPHABET = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
const MAX_EVENT_ID_LENGTH = 64;

/**
 * `own` when it sorts after `replaced`, else an id that does, still unique: the leading 'z's of
 * `replaced`, its next character raised by one step, then as much of `own` as fits. Used when a
 * new event's timestamp ties with the one it replaces (both at LATEST_TIMESTAMP_MS): the local
 * write still wins the order everywhere. Each such edit of one record lengthens the raised prefix
 * by at most one character per 63 edits, so `own`'s randomness survives thousands of them.
 */
export function eventIdAfter(replaced: string, own: string): string {
  if (own > replaced) return own;
  let i = 0;
  while (i < replaced.length && replaced[i] === 'z') i++;
  const raised = i < replaced.length ? ID_ALPHABET[ID_ALPHABET.indexOf(replaced[i]!) + 1] ?? 'z' : '';
  const prefix = replaced.slice(0, i) + raised;
  return (prefix + own).slice(0, MAX_EVENT_ID_LENGTH);
}
