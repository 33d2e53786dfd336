/** The PostgreSQL store's statements (schema in postgres-schema.ts). */
import type { SyncEvent } from '../../protocol';

export interface EventRow {
  sequence: number;
  repository: string;
  event_id: string;
  data_id: string;
  operation: SyncEvent['operation'];
  created_at: string;
  data: Record<string, unknown> | null;
}

const EVENT_COLUMNS = 'sequence, repository, event_id, data_id, operation, created_at, data';

/** See tabsync_append in postgres-schema.ts. */
export const APPEND = 'SELECT * FROM tabsync_append($1, $2, $3, $4, $5, $6, $7)';

/**
 * A page of the compacted view as text: a range of records_by_winner, each winner joined to its
 * event, its data as JSON text. With a byte budget ($6) only the rows whose data before them
 * stays within it come back, so the one row that crosses it is the last: the caller (collectPage,
 * which measures whole events) then knows there is more without the database sending the rest.
 */
export const READ_COMPACTED_TEXT = `
  SELECT sequence, event_id, data_id, operation, created_at, data FROM (
    SELECT page.*, sum(coalesce(octet_length(data), 0))
      OVER (ORDER BY sequence ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS bytes_before
    FROM (
      SELECT e.sequence, e.event_id, e.data_id, e.operation, e.created_at, e.data::text AS data
      FROM records r JOIN events e ON e.namespace = r.namespace AND e.sequence = r.winner_sequence
      WHERE r.namespace = $1 AND r.repository = $2 AND r.winner_sequence > $3
        AND ($5::text IS NULL OR r.winner_created_at > $5::text)
      ORDER BY r.winner_sequence
      LIMIT $4
    ) page
  ) sized
  WHERE $6::bigint IS NULL OR coalesce(bytes_before, 0) <= $6::bigint
  ORDER BY sequence`;

/** A range of the log's primary key. */
export const READ_LOG = `
  SELECT ${EVENT_COLUMNS} FROM events WHERE namespace = $1 AND sequence > $2 ORDER BY sequence LIMIT $3`;

export const MAX_SEQUENCE = 'SELECT sequence FROM namespaces WHERE namespace = $1';

/** The highest sequence of each of several namespaces. */
export const MAX_SEQUENCES = 'SELECT namespace, sequence FROM namespaces WHERE namespace = ANY($1::text[])';

export const REPOSITORIES = `
  SELECT repository AS name, events, max_sequence AS "maxSequence"
  FROM repositories WHERE namespace = $1 ORDER BY repository`;
