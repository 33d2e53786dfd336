/** The PostgreSQL store's statements (schema in postgres-schema.ts). */
import type { EventRow as Row } from './event-rows';

/** pg parses jsonb: an event's data comes back as an object. */
export type EventRow = Row<Record<string, unknown>>;

const EVENT_COLUMNS = 'sequence, repository, event_id, data_id, operation, created_at, data';

/** See tabsync_append_within in postgres-schema.ts. */
export const APPEND = 'SELECT * FROM tabsync_append_within($1, $2, $3, $4, $5, $6, $7, $8, $9)';

/**
 * A stretch of the compacted view: a range of records_by_winner ($4 rows at most), each winner
 * joined to its event, its data as JSON text (never parsed: catch-up sends it as it is). Rows
 * come back only while the data before the previous row stays within the byte budget $6: the
 * row that crosses it and one after it, so that the caller (PageCollector, which measures whole
 * events, never less than this, and takes a first row of any size) always refuses a row when
 * anything was cut and knows there is more, without holding much more than the budget. A page is
 * read in such stretches, each as long as the budget still holds at the largest row seen.
 */
export const READ_COMPACTED_TEXT = `
  SELECT sequence, event_id, data_id, operation, created_at, data FROM (
    SELECT stretch.*, sum(coalesce(octet_length(data), 0))
      OVER (ORDER BY sequence ROWS BETWEEN UNBOUNDED PRECEDING AND 2 PRECEDING) AS bytes_before_previous
    FROM (
      SELECT e.sequence, e.event_id, e.data_id, e.operation, e.created_at, e.data::text AS data
      FROM records r JOIN events e ON e.namespace = r.namespace AND e.sequence = r.winner_sequence
      WHERE r.namespace = $1 AND r.repository = $2 AND r.winner_sequence > $3
        AND ($5::text IS NULL OR r.winner_created_at > $5::text)
      ORDER BY r.winner_sequence
      LIMIT $4
    ) stretch
  ) sized
  WHERE coalesce(bytes_before_previous, 0) <= $6::float8
  ORDER BY sequence`;

/** The winners of some records of a repository, by the records primary key. */
export const READ_WINNERS = `
  SELECT r.data_id, r.winner_created_at AS created_at, r.winner_event_id AS event_id, e.operation
  FROM records r JOIN events e ON e.namespace = r.namespace AND e.sequence = r.winner_sequence
  WHERE r.namespace = $1 AND r.repository = $2 AND r.data_id = ANY($3::text[])`;

/** A range of the log's primary key. */
export const READ_LOG = `
  SELECT ${EVENT_COLUMNS} FROM events WHERE namespace = $1 AND sequence > $2 ORDER BY sequence LIMIT $3`;

export const MAX_SEQUENCE = 'SELECT sequence FROM namespaces WHERE namespace = $1';

/** The highest sequence of each of several namespaces. */
export const MAX_SEQUENCES = 'SELECT namespace, sequence FROM namespaces WHERE namespace = ANY($1::text[])';

export const REPOSITORIES = `
  SELECT repository AS name, events, max_sequence AS "maxSequence"
  FROM repositories WHERE namespace = $1 ORDER BY repository`;
