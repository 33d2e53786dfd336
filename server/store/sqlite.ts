/**
 * The embedded event log: one SQLite file (better-sqlite3). Appends run in one IMMEDIATE
 * transaction that assigns sequences, stores the events and moves each record's LWW winner;
 * appends that arrive while one is being committed share the next transaction (group commit,
 * the same queue as PostgreSQL's: append-queue.ts), whatever their namespace, so a burst of
 * pushes from many connections costs two fsyncs, not one per push or per namespace.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SequencedEvent, SyncEvent } from '../../protocol';
import {
  commitOf,
  EVENT_ROW_BYTES,
  nextTurn,
  PageCollector,
  parsePage,
  quotaExceeded,
  storedBytes,
  storedEvents,
  storedInAnotherRepository,
  storeLog,
  type AppendResult,
  type Commit,
  type CompactedQuery,
  type EventStore,
  type LoggedEvent,
  type Page,
  type RepositoryInfo,
  type StoredPage,
  type StoreLogOptions,
} from './event-store';
import { GroupCommitQueue, type AppendRequest } from './append-queue';
import { eventOfRow, sequencedWithText, winnersOf, type EventRow as Row, type WinnerRow as CurrentWinner } from './event-rows';
import { Listeners } from './listeners';

/** Data read synchronously in one go before the event loop gets a turn (a page may hold several). */
const STRETCH_BYTES = 1024 * 1024;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS namespaces (
    namespace TEXT PRIMARY KEY,
    last_sequence INTEGER NOT NULL,
    bytes INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE IF NOT EXISTS events (
    namespace TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    repository TEXT NOT NULL,
    event_id TEXT NOT NULL,
    data_id TEXT NOT NULL,
    operation INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    data TEXT,
    PRIMARY KEY (namespace, sequence),
    UNIQUE (namespace, event_id)
  );
  CREATE INDEX IF NOT EXISTS events_by_repository ON events (namespace, repository, sequence);
  CREATE TABLE IF NOT EXISTS records (
    namespace TEXT NOT NULL,
    repository TEXT NOT NULL,
    data_id TEXT NOT NULL,
    winner_sequence INTEGER NOT NULL,
    winner_created_at TEXT NOT NULL,
    winner_event_id TEXT NOT NULL,
    PRIMARY KEY (namespace, repository, data_id)
  );
  CREATE INDEX IF NOT EXISTS records_by_winner ON records (namespace, repository, winner_sequence);
`;

/**
 * The compacted view: a range scan of records_by_winner (namespace, repository, sequence > after),
 * already in sequence order, joined to each winner's event by primary key.
 */
export const READ_COMPACTED = `
  SELECT e.sequence, e.repository, e.event_id, e.data_id, e.operation, e.created_at, e.data
  FROM records r JOIN events e ON e.namespace = r.namespace AND e.sequence = r.winner_sequence
  WHERE r.namespace = @namespace AND r.repository = @repository AND r.winner_sequence > @afterSequence
    AND (@since IS NULL OR r.winner_created_at > @since)
  ORDER BY r.winner_sequence
  LIMIT @limit`;

interface CompactedParameters {
  namespace: string;
  repository: string;
  afterSequence: number;
  since: string | null;
  limit: number;
}

/** SQLite keeps an event's data as JSON text. */
type EventRow = Row<string>;

/**
 * iterate() reads row by row, so rows past the page's byte budget are never read (nor held).
 * Reads are synchronous: after every STRETCH_BYTES of data the iterator is closed (so appends
 * can use the connection) and the event loop gets a turn before the page goes on from there.
 */
async function readCompactedText(
  compacted: Database.Statement<[CompactedParameters], EventRow>,
  query: CompactedQuery & { namespace: string; repository: string; maxBytes: number },
): Promise<StoredPage> {
  const { namespace, repository } = query;
  const collector = new PageCollector(query.limit, query.maxBytes);
  let after = query.afterSequence;
  for (;;) {
    const rows = compacted.iterate({ namespace, repository, afterSequence: after, since: query.since ?? null, limit: collector.rowsWanted });
    let stretch = 0;
    for (const row of rows) {
      if (!collector.add(row)) return collector.page(true);
      after = row.sequence;
      stretch += row.data?.length ?? 0;
      if (stretch >= STRETCH_BYTES) break;
    }
    if (stretch < STRETCH_BYTES) return collector.page(false);
    await nextTurn();
  }
}

export function openSqliteStore(path: string, options?: StoreLogOptions): EventStore {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // FULL, not NORMAL: NORMAL in WAL mode already survives kill -9 of this process, but an
  // acknowledged event must also survive a power cut or an OS crash; FULL fsyncs every commit
  // and group commit keeps that cost per burst of messages, not per event or per message.
  db.pragma('synchronous = FULL');
  // Several processes may share the file (a restart overlapping a shutdown): wait, don't fail.
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  addUsageColumn(db);

  const appendInTransaction = prepareAppend(db);
  const statements = prepareReads(db);

  const readText = (namespace: string, repository: string, query: CompactedQuery & { maxBytes: number }) =>
    readCompactedText(statements.compacted, { namespace, repository, ...query });

  const listeners = new Listeners<Commit>(storeLog(options), 'onAppended');
  const queue = groupCommit(appendInTransaction, listeners);

  return {
    kind: 'sqlite',

    append(namespace, repository, events, options) {
      return queue.append(namespace, [{ repository, events }], options);
    },

    appendBatch(namespace, parts, options) {
      return queue.append(namespace, parts, options);
    },

    async readCompacted(namespace, repository, query): Promise<Page> {
      return parsePage(await readText(namespace, repository, { ...query, maxBytes: Infinity }));
    },

    readCompactedText(namespace, repository, query): Promise<StoredPage> {
      return readText(namespace, repository, query);
    },

    async readWinners(namespace, repository, dataIds) {
      return winnersOf(statements.winners.all(namespace, repository, JSON.stringify(dataIds)));
    },

    async readLog(namespace, afterSequence, limit): Promise<LoggedEvent[]> {
      return statements.log.all(namespace, afterSequence, limit).map((row) => ({ repository: row.repository, event: toEvent(row) }));
    },

    async maxSequence(namespace) {
      return statements.lastSequence.get(namespace)?.last_sequence ?? 0;
    },

    async repositories(namespace): Promise<RepositoryInfo[]> {
      return statements.repositories.all(namespace).map((r) => ({ name: r.name, events: r.events, maxSequence: r.max_sequence }));
    },

    onAppended(listener) {
      return listeners.add(listener);
    },

    async close() {
      listeners.clear();
      if (db.open) db.close();
    },
  };
}

/** One lane: the file has one writer, so every namespace's appends share a transaction (one fsync). */
function groupCommit(appendInTransaction: ReturnType<typeof prepareAppend>, listeners: Listeners<Commit>): GroupCommitQueue<SyncEvent> {
  return new GroupCommitQueue<SyncEvent>(
    async (requests) => {
      // The commit itself is synchronous: yield once first, so that appends arriving meanwhile
      // wait in the queue and go together in the next transaction.
      await new Promise((resolve) => setImmediate(resolve));
      const commits = appendInTransaction.immediate(byNamespace(requests));
      const results = new Map<AppendRequest<SyncEvent>, AppendResult[]>();
      for (const { namespace, requests: theirs, results: theirResults, sequence, stored } of commits) {
        theirs.forEach((request, i) => results.set(request, theirResults[i]!));
        if (stored) listeners.emit(commitOf(namespace, sequence, storedEvents(theirs, theirResults)), { namespace });
      }
      return requests.map((request) => results.get(request)!);
    },
    isRequestError,
    () => 'database',
  );
}

/** The read statements: counters, the compacted view, winners, the log, repositories. */
function prepareReads(db: Database.Database) {
  return {
    lastSequence: db.prepare<[string], { last_sequence: number }>('SELECT last_sequence FROM namespaces WHERE namespace = ?'),
    compacted: db.prepare<[CompactedParameters], EventRow>(READ_COMPACTED),
    log: db.prepare<[string, number, number], EventRow>(
      `SELECT sequence, repository, event_id, data_id, operation, created_at, data
       FROM events WHERE namespace = ? AND sequence > ? ORDER BY sequence LIMIT ?`,
    ),
    winners: db.prepare<[string, string, string], CurrentWinner>(
      `SELECT r.data_id, r.winner_created_at AS created_at, r.winner_event_id AS event_id, e.operation
       FROM records r JOIN events e ON e.namespace = r.namespace AND e.sequence = r.winner_sequence
       WHERE r.namespace = ? AND r.repository = ? AND r.data_id IN (SELECT value FROM json_each(?))`,
    ),
    repositories: db.prepare<[string], { name: string; events: number; max_sequence: number }>(
      `SELECT repository AS name, COUNT(*) AS events, MAX(sequence) AS max_sequence
       FROM events WHERE namespace = ? GROUP BY repository ORDER BY repository`,
    ),
  };
}

/**
 * The append transaction, over one or several namespaces: for each, assigns sequences, stores
 * the events, moves each record's winner and keeps the namespace's counters (last sequence,
 * bytes held). A refusal throws, which rolls back the whole transaction; the queue then commits
 * each request alone.
 */
function prepareAppend(db: Database.Database) {
  const statements = {
    findEvent: db.prepare<[string, string], EventRow>(
      'SELECT sequence, repository, event_id, data_id, operation, created_at, data FROM events WHERE namespace = ? AND event_id = ?',
    ),
    counters: db.prepare<[string], { last_sequence: number; bytes: number }>('SELECT last_sequence, bytes FROM namespaces WHERE namespace = ?'),
    setCounters: db.prepare<[string, number, number]>(
      `INSERT INTO namespaces (namespace, last_sequence, bytes) VALUES (?, ?, ?)
       ON CONFLICT (namespace) DO UPDATE SET last_sequence = excluded.last_sequence, bytes = excluded.bytes`,
    ),
    /** Stores the event unless its eventId is stored already (then it changes nothing). */
    insertEvent: db.prepare<[string, number, string, string, string, number, string, string | null]>(
      `INSERT INTO events (namespace, sequence, repository, event_id, data_id, operation, created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (namespace, event_id) DO NOTHING`,
    ),
    /**
     * Makes the event its record's winner when it beats the current one in compareEvents' order:
     * (createdAt, eventId), both ASCII (the protocol's forms), so SQLite's byte order is that order.
     */
    offerWinner: db.prepare<[string, string, string, number, string, string]>(
      `INSERT INTO records (namespace, repository, data_id, winner_sequence, winner_created_at, winner_event_id) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (namespace, repository, data_id) DO UPDATE SET
         winner_sequence = excluded.winner_sequence, winner_created_at = excluded.winner_created_at, winner_event_id = excluded.winner_event_id
       WHERE (excluded.winner_created_at, excluded.winner_event_id) > (winner_created_at, winner_event_id)`,
    ),
  };

  /** Stores one event unless its eventId is stored already; with the bytes it took. Two
   *  statements for a new event (the common case): its insert and its record's winner. */
  const appendOne = (namespace: string, repository: string, event: SyncEvent, sequence: number): AppendResult & { bytes: number } => {
    const data = event.data === undefined ? null : JSON.stringify(event.data);
    const { changes } = statements.insertEvent.run(namespace, sequence, repository, event.eventId, event.dataId, event.operation, event.createdAt, data);
    if (changes === 0) {
      const existing = statements.findEvent.get(namespace, event.eventId)!;
      if (existing.repository !== repository) throw storedInAnotherRepository(event.eventId, existing.repository);
      return { event: toEvent(existing), repository, duplicate: true, bytes: 0 };
    }
    statements.offerWinner.run(namespace, repository, event.dataId, sequence, event.createdAt, event.eventId);
    return { event: sequencedWithText(event, sequence, data), repository, duplicate: false, bytes: storedBytes(repository, event, data) };
  };

  const appendToNamespace = (namespace: string, requests: readonly AppendRequest<SyncEvent>[]) => {
    const counters = statements.counters.get(namespace);
    let sequence = counters?.last_sequence ?? 0;
    let bytes = counters?.bytes ?? 0;
    const results = requests.map(({ parts, quotaBytes }) => {
      const stored = parts.flatMap(({ repository, events }) =>
        events.map((event) => {
          const { bytes: added, ...result } = appendOne(namespace, repository, event, sequence + 1);
          if (!result.duplicate) sequence++;
          bytes += added;
          return result;
        }),
      );
      if (quotaBytes !== undefined && bytes > quotaBytes) throw quotaExceeded(quotaBytes);
      return stored;
    });
    const stored = sequence > (counters?.last_sequence ?? 0);
    if (stored) statements.setCounters.run(namespace, sequence, bytes);
    return { namespace, requests, results, sequence, stored };
  };
  return db.transaction((groups: readonly { namespace: string; requests: readonly AppendRequest<SyncEvent>[] }[]) =>
    groups.map(({ namespace, requests }) => appendToNamespace(namespace, requests)),
  );
}

/** Requests by namespace, namespaces and requests in arrival order. */
function byNamespace(requests: readonly AppendRequest<SyncEvent>[]): { namespace: string; requests: AppendRequest<SyncEvent>[] }[] {
  const groups = new Map<string, AppendRequest<SyncEvent>[]>();
  for (const request of requests) {
    const group = groups.get(request.namespace);
    if (group) group.push(request);
    else groups.set(request.namespace, [request]);
  }
  return [...groups].map(([namespace, theirs]) => ({ namespace, requests: theirs }));
}

/** The bytes each namespace holds (storedBytes), counted once for a database written before the
 *  quota existed; from then on every append keeps it. */
function addUsageColumn(db: Database.Database): void {
  const columns = db.prepare<[], { name: string }>('PRAGMA table_info(namespaces)').all();
  if (columns.some((column) => column.name === 'bytes')) return;
  db.transaction(() => {
    db.exec('ALTER TABLE namespaces ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0');
    db.prepare(
      `UPDATE namespaces SET bytes = (
         SELECT COALESCE(SUM(COALESCE(LENGTH(CAST(data AS BLOB)), 0) + LENGTH(CAST(event_id AS BLOB)) + LENGTH(CAST(data_id AS BLOB))
                + LENGTH(CAST(repository AS BLOB)) + ?), 0)
         FROM events WHERE events.namespace = namespaces.namespace)`,
    ).run(EVENT_ROW_BYTES);
  }).immediate();
}

/** A database that cannot write fails every request alike; anything else may be one request's
 *  content, which the queue then retries alone so that the others are still stored. */
const DATABASE_FAILURE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CORRUPT|READONLY|CANTOPEN|NOTADB|NOMEM)/;
function isRequestError(error: unknown): boolean {
  return !(error instanceof Database.SqliteError && DATABASE_FAILURE.test(error.code));
}

function toEvent(row: EventRow): SequencedEvent {
  return eventOfRow(row, row.data === null ? null : (JSON.parse(row.data) as Record<string, unknown>));
}
