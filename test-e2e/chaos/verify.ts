/**
 * What the chaos run checks once everything is quiet: the server's compacted view, its raw event
 * log (read from the SQLite file itself), and every write a tab saw resolve.
 */
import Database from 'better-sqlite3';
import { compareEvents, Operation, type SequencedEvent } from '../../protocol';
import type { Todo, Write } from './tab';

const NAMESPACE = 'default';
const PAGE_LIMIT = 1000;

/** The server's compacted view of a repository, read page by page over REST: record → winner. */
export async function compactedWinners(baseUrl: string, repository: string): Promise<Map<string, SequencedEvent>> {
  const winners = new Map<string, SequencedEvent>();
  let afterSequence = 0;
  for (;;) {
    const response = await fetch(`${baseUrl}/api/events/${repository}?afterSequence=${afterSequence}&limit=${PAGE_LIMIT}`);
    if (!response.ok) throw new Error(`GET /api/events/${repository}: ${response.status}`);
    const page = (await response.json()) as { events: SequencedEvent[]; hasMore: boolean };
    for (const event of page.events) winners.set(event.dataId, event);
    const last = page.events.at(-1);
    if (!page.hasMore || !last) return winners;
    afterSequence = last.serverSequence;
  }
}

/** The live records the winners describe, sorted by id as a tab's getAll() returns them. */
export function liveRecords(winners: ReadonlyMap<string, SequencedEvent>): Todo[] {
  return [...winners.values()]
    .flatMap((event) => (event.data ? [{ ...(event.data as Omit<Todo, 'id'>), id: event.dataId }] : []))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export interface LoggedEvent {
  eventId: string;
  dataId: string;
  operation: number;
  createdAt: string;
  title: string | undefined;
}

/** Every event the server stored for the repository, straight from its SQLite file (server stopped). */
export function readEventLog(databasePath: string, repository: string): LoggedEvent[] {
  const db = new Database(databasePath, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare('SELECT event_id, data_id, operation, created_at, data FROM events WHERE namespace = ? AND repository = ? ORDER BY sequence')
      .all(NAMESPACE, repository) as { event_id: string; data_id: string; operation: number; created_at: string; data: string | null }[];
    return rows.map((row) => {
      const data = row.data === null ? undefined : (JSON.parse(row.data) as { title?: unknown });
      return {
        eventId: row.event_id,
        dataId: row.data_id,
        operation: row.operation,
        createdAt: row.created_at,
        title: typeof data?.title === 'string' ? data.title : undefined,
      };
    });
  } finally {
    db.close();
  }
}

export interface LogCheck {
  /** Resolved writes the log does not hold. */
  lost: Write[];
  /** Events stored more than once: the same eventId twice, or one write (its unique title) under two eventIds. */
  duplicates: number;
  /** Records whose compacted winner is not the last writer over the whole log. */
  compactionMismatches: string[];
}

export function checkLog(log: readonly LoggedEvent[], resolved: readonly Write[], winners: ReadonlyMap<string, SequencedEvent>): LogCheck {
  const eventIds = new Set(log.map((event) => event.eventId));
  const upserts = new Map<string, number>();
  const deletes = new Map<string, number>();
  const lastWriter = new Map<string, LoggedEvent>();
  for (const event of log) {
    if (event.operation === Operation.delete) deletes.set(event.dataId, (deletes.get(event.dataId) ?? 0) + 1);
    else if (event.title !== undefined) {
      const key = `${event.dataId}\u0000${event.title}`;
      upserts.set(key, (upserts.get(key) ?? 0) + 1);
    }
    const current = lastWriter.get(event.dataId);
    if (!current || compareEvents(event, current) > 0) lastWriter.set(event.dataId, event);
  }

  const lost: Write[] = [];
  const deletesResolved = new Map<string, Write[]>();
  for (const write of resolved) {
    if (write.title === undefined) deletesResolved.set(write.id, [...(deletesResolved.get(write.id) ?? []), write]);
    else if (!upserts.has(`${write.id}\u0000${write.title}`)) lost.push(write);
  }
  // A delete carries no title: each resolved delete of a record needs its own delete event.
  for (const [id, writes] of deletesResolved) lost.push(...writes.slice(deletes.get(id) ?? 0));

  let duplicates = log.length - eventIds.size;
  for (const count of upserts.values()) duplicates += count - 1;

  const compactionMismatches: string[] = [];
  for (const [id, event] of lastWriter) {
    if (winners.get(id)?.eventId !== event.eventId) compactionMismatches.push(id);
  }
  for (const id of winners.keys()) if (!lastWriter.has(id)) compactionMismatches.push(id);
  return { lost, duplicates, compactionMismatches };
}
