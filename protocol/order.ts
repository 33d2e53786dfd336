/**
 * The one total order every replica uses to pick a record's winner: last writer wins on
 * `(createdAt, eventId)`. The server's compaction and the worker's merge both call this.
 */
export interface Ordered {
  readonly createdAt: string;
  readonly eventId: string;
}

/** Negative when `a` loses to `b`, positive when it wins, 0 for the same event. */
export function compareEvents(a: Ordered, b: Ordered): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  if (a.eventId !== b.eventId) return a.eventId < b.eventId ? -1 : 1;
  return 0;
}

/** A timestamp for a new local event that is never older than the event it replaces, so a
 *  user's edit beats what they saw even when another device's clock runs ahead of theirs. */
export function nextTimestamp(now: number, replaces?: Ordered): string {
  const previous = replaces ? Date.parse(replaces.createdAt) : Number.NEGATIVE_INFINITY;
  return new Date(Math.max(now, previous + 1)).toISOString();
}
