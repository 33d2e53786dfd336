/** Which version of a record wins: last writer wins by default, or the app's resolver. */
import { compareEvents } from '../../protocol/order';
import type { RecordRow } from '../storage/storage';

/** A record's state as a resolver sees it: its data (absent once deleted) and its event. */
export type RecordVersion = Omit<RecordRow, 'repository' | 'id'>;

/**
 * Returns the winner: `local` or `remote` itself. It must be deterministic and symmetric
 * (the same pair picks the same winner in either order), or replicas diverge.
 */
export type ConflictResolver = (local: RecordVersion, remote: RecordVersion, repository: string) => RecordVersion;

/** Whether `incoming` replaces `current`. An event already applied never applies again. */
export function incomingWins(current: RecordRow | undefined, incoming: RecordRow, resolve?: ConflictResolver): boolean {
  if (!current) return true;
  if (current.eventId === incoming.eventId) return false;
  if (resolve) return resolve(current, incoming, incoming.repository) === incoming;
  return compareEvents(incoming, current) > 0;
}
