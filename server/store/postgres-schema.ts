/**
 * The PostgreSQL schema and its migrations, applied at start under an advisory lock so that
 * instances starting together migrate once, one after the other.
 *
 * Every text column compares in byte order (COLLATE "C"): createdAt and eventId are ASCII, so
 * byte order is the order of protocol/order.ts compareEvents, whatever the database's locale.
 */
import type pg from 'pg';
import { EVENT_ROW_BYTES } from './event-store';
import { inTransaction } from './postgres-pool';

/** Migration n (1-based) brings the schema from version n - 1 to n. Append only. */
const MIGRATIONS: readonly string[] = [
  `
  -- Per-namespace sequence counter. Its row lock serializes the appends of a namespace across
  -- instances, so sequences are assigned and committed in order.
  CREATE TABLE namespaces (
    namespace text COLLATE "C" PRIMARY KEY,
    sequence bigint NOT NULL
  );

  -- The log. The unique constraint makes an eventId stored once per namespace.
  CREATE TABLE events (
    namespace text COLLATE "C" NOT NULL,
    sequence bigint NOT NULL,
    repository text COLLATE "C" NOT NULL,
    event_id text COLLATE "C" NOT NULL,
    data_id text COLLATE "C" NOT NULL,
    operation smallint NOT NULL,
    created_at text COLLATE "C" NOT NULL,
    data jsonb,
    PRIMARY KEY (namespace, sequence),
    UNIQUE (namespace, event_id)
  );

  -- The compacted view: the last-writer-wins winner of each record, kept in the append's
  -- transaction, indexed so a page of winners after a cursor is one index range scan.
  CREATE TABLE records (
    namespace text COLLATE "C" NOT NULL,
    repository text COLLATE "C" NOT NULL,
    data_id text COLLATE "C" NOT NULL,
    winner_sequence bigint NOT NULL,
    winner_created_at text COLLATE "C" NOT NULL,
    winner_event_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (namespace, repository, data_id)
  );
  CREATE INDEX records_by_winner ON records (namespace, repository, winner_sequence);

  -- Per-repository totals, so listing a namespace's repositories never scans the log.
  CREATE TABLE repositories (
    namespace text COLLATE "C" NOT NULL,
    repository text COLLATE "C" NOT NULL,
    events bigint NOT NULL,
    max_sequence bigint NOT NULL,
    PRIMARY KEY (namespace, repository)
  );

  -- One append, in one round trip: the namespace's lock is held from the counter to the commit
  -- and no longer. Each statement of the function reads a fresh snapshot, so \`existing\`, run
  -- under the lock, sees every earlier append of the namespace: events already stored come back
  -- as duplicates, the others get the next sequences in the order given, move their record's
  -- winner when they beat it (createdAt, then eventId: compareEvents), their repository's totals
  -- and the counter. The unique constraint stays the final word on idempotency. The arrays hold
  -- one entry per event, with distinct event ids.
  CREATE FUNCTION tabsync_append(
    p_namespace text, p_repositories text[],
    p_event_ids text[], p_data_ids text[], p_operations smallint[], p_created_ats text[], p_data jsonb[]
  ) RETURNS TABLE (
    sequence bigint, repository text, event_id text, data_id text, operation smallint,
    created_at text, data jsonb, duplicate boolean
  ) LANGUAGE plpgsql AS $$
  #variable_conflict use_column
  DECLARE
    last_sequence bigint;
  BEGIN
    INSERT INTO namespaces AS n (namespace, sequence) VALUES (p_namespace, 0)
    ON CONFLICT (namespace) DO UPDATE SET sequence = n.sequence
    RETURNING n.sequence INTO last_sequence;

    RETURN QUERY
    WITH incoming AS (
      SELECT * FROM unnest(p_repositories, p_event_ids, p_data_ids, p_operations, p_created_ats, p_data)
        WITH ORDINALITY AS t(repository, event_id, data_id, operation, created_at, data, position)
    ),
    existing AS (
      SELECT e.sequence, e.repository, e.event_id, e.data_id, e.operation, e.created_at, e.data
      FROM events e
      WHERE e.namespace = p_namespace AND e.event_id IN (SELECT event_id FROM incoming)
    ),
    fresh AS (
      SELECT i.*, last_sequence + row_number() OVER (ORDER BY i.position) AS sequence
      FROM incoming i WHERE i.event_id NOT IN (SELECT event_id FROM existing)
    ),
    stored AS (
      INSERT INTO events AS e (namespace, sequence, repository, event_id, data_id, operation, created_at, data)
      SELECT p_namespace, sequence, repository, event_id, data_id, operation, created_at, data FROM fresh
      ON CONFLICT (namespace, event_id) DO NOTHING
      RETURNING e.sequence, e.repository, e.event_id, e.data_id, e.operation, e.created_at, e.data
    ),
    winners AS (
      INSERT INTO records AS r (namespace, repository, data_id, winner_sequence, winner_created_at, winner_event_id)
      SELECT DISTINCT ON (repository, data_id) p_namespace, repository, data_id, sequence, created_at, event_id
      FROM stored
      ORDER BY repository, data_id, created_at DESC, event_id DESC
      ON CONFLICT (namespace, repository, data_id) DO UPDATE SET
        winner_sequence = excluded.winner_sequence,
        winner_created_at = excluded.winner_created_at,
        winner_event_id = excluded.winner_event_id
      WHERE (r.winner_created_at, r.winner_event_id) < (excluded.winner_created_at, excluded.winner_event_id)
    ),
    totals AS (
      INSERT INTO repositories AS t (namespace, repository, events, max_sequence)
      SELECT p_namespace, repository, count(*), max(sequence) FROM stored GROUP BY repository
      ON CONFLICT (namespace, repository) DO UPDATE SET
        events = t.events + excluded.events,
        max_sequence = excluded.max_sequence
    ),
    counter AS (
      UPDATE namespaces n SET sequence = (SELECT max(sequence) FROM stored)
      WHERE n.namespace = p_namespace AND EXISTS (SELECT FROM stored)
    )
    SELECT s.*, false FROM stored s
    UNION ALL
    SELECT x.*, true FROM existing x;
  END
  $$;
  `,
  `
  -- The bytes each namespace holds (storedBytes in event-store.ts), kept by every append. For the
  -- events stored before, data is counted as jsonb prints it (a little more than its JSON as sent).
  ALTER TABLE namespaces ADD COLUMN bytes bigint NOT NULL DEFAULT 0;
  UPDATE namespaces n SET bytes = (
    SELECT coalesce(sum(coalesce(octet_length(e.data::text), 0) + octet_length(e.event_id) + octet_length(e.data_id)
                        + octet_length(e.repository) + ${EVENT_ROW_BYTES}), 0)
    FROM events e WHERE e.namespace = n.namespace);

  -- tabsync_append, refusing the whole call, before anything is stored, when an event's id is
  -- stored under another repository (TS409, DETAIL its id and that repository as JSON) or when
  -- the events not stored yet (p_sizes: their storedBytes) would take the namespace past p_quota
  -- (TS413). It takes the namespace's lock first, so what it reads holds until its commit.
  CREATE FUNCTION tabsync_append_within(
    p_namespace text, p_repositories text[],
    p_event_ids text[], p_data_ids text[], p_operations smallint[], p_created_ats text[], p_data jsonb[],
    p_sizes bigint[], p_quota bigint
  ) RETURNS TABLE (
    sequence bigint, repository text, event_id text, data_id text, operation smallint,
    created_at text, data jsonb, duplicate boolean
  ) LANGUAGE plpgsql AS $$
  #variable_conflict use_column
  DECLARE
    used bigint;
    added bigint;
    conflict text;
  BEGIN
    INSERT INTO namespaces AS n (namespace, sequence) VALUES (p_namespace, 0)
    ON CONFLICT (namespace) DO UPDATE SET sequence = n.sequence
    RETURNING n.bytes INTO used;

    SELECT json_build_object('eventId', e.event_id, 'repository', e.repository)::text INTO conflict
    FROM unnest(p_event_ids, p_repositories) AS i(event_id, repository)
    JOIN events e ON e.namespace = p_namespace AND e.event_id = i.event_id
    WHERE e.repository <> i.repository
    LIMIT 1;
    IF conflict IS NOT NULL THEN
      RAISE EXCEPTION 'eventId stored in another repository' USING ERRCODE = 'TS409', DETAIL = conflict;
    END IF;

    SELECT coalesce(sum(i.size), 0) INTO added
    FROM unnest(p_event_ids, p_sizes) AS i(event_id, size)
    WHERE NOT EXISTS (SELECT FROM events e WHERE e.namespace = p_namespace AND e.event_id = i.event_id);
    IF p_quota IS NOT NULL AND used + added > p_quota THEN
      RAISE EXCEPTION 'namespace quota exceeded' USING ERRCODE = 'TS413';
    END IF;

    RETURN QUERY SELECT * FROM tabsync_append(p_namespace, p_repositories, p_event_ids, p_data_ids, p_operations, p_created_ats, p_data);
    UPDATE namespaces n SET bytes = n.bytes + added WHERE n.namespace = p_namespace;
  END
  $$;
  `,
  `
  -- The same two functions, but for how they find the events already stored: one probe of the
  -- (namespace, event_id) index per incoming event (LATERAL ... LIMIT 1, which the planner cannot
  -- turn into a join), whatever the statistics say of the namespace's size. Before, a plan made
  -- while the statistics had not seen the log grow (a fresh database, or a namespace far larger
  -- than the average) read every event of the namespace on each append, three times: an append's
  -- cost grew with the log (13 ms of CPU for one event in a namespace of 20,000). And
  -- tabsync_append_within looks each event up once for both of its checks, not once each.
  CREATE OR REPLACE FUNCTION tabsync_append(
    p_namespace text, p_repositories text[],
    p_event_ids text[], p_data_ids text[], p_operations smallint[], p_created_ats text[], p_data jsonb[]
  ) RETURNS TABLE (
    sequence bigint, repository text, event_id text, data_id text, operation smallint,
    created_at text, data jsonb, duplicate boolean
  ) LANGUAGE plpgsql AS $$
  #variable_conflict use_column
  DECLARE
    last_sequence bigint;
  BEGIN
    INSERT INTO namespaces AS n (namespace, sequence) VALUES (p_namespace, 0)
    ON CONFLICT (namespace) DO UPDATE SET sequence = n.sequence
    RETURNING n.sequence INTO last_sequence;

    RETURN QUERY
    WITH incoming AS (
      SELECT * FROM unnest(p_repositories, p_event_ids, p_data_ids, p_operations, p_created_ats, p_data)
        WITH ORDINALITY AS t(repository, event_id, data_id, operation, created_at, data, position)
    ),
    existing AS (
      SELECT e.sequence, e.repository, e.event_id, e.data_id, e.operation, e.created_at, e.data
      FROM incoming i CROSS JOIN LATERAL (
        SELECT e.sequence, e.repository, e.event_id, e.data_id, e.operation, e.created_at, e.data
        FROM events e WHERE e.namespace = p_namespace AND e.event_id = i.event_id LIMIT 1
      ) e
    ),
    fresh AS (
      SELECT i.*, last_sequence + row_number() OVER (ORDER BY i.position) AS sequence
      FROM incoming i WHERE i.event_id NOT IN (SELECT event_id FROM existing)
    ),
    stored AS (
      INSERT INTO events AS e (namespace, sequence, repository, event_id, data_id, operation, created_at, data)
      SELECT p_namespace, sequence, repository, event_id, data_id, operation, created_at, data FROM fresh
      ON CONFLICT (namespace, event_id) DO NOTHING
      RETURNING e.sequence, e.repository, e.event_id, e.data_id, e.operation, e.created_at, e.data
    ),
    winners AS (
      INSERT INTO records AS r (namespace, repository, data_id, winner_sequence, winner_created_at, winner_event_id)
      SELECT DISTINCT ON (repository, data_id) p_namespace, repository, data_id, sequence, created_at, event_id
      FROM stored
      ORDER BY repository, data_id, created_at DESC, event_id DESC
      ON CONFLICT (namespace, repository, data_id) DO UPDATE SET
        winner_sequence = excluded.winner_sequence,
        winner_created_at = excluded.winner_created_at,
        winner_event_id = excluded.winner_event_id
      WHERE (r.winner_created_at, r.winner_event_id) < (excluded.winner_created_at, excluded.winner_event_id)
    ),
    totals AS (
      INSERT INTO repositories AS t (namespace, repository, events, max_sequence)
      SELECT p_namespace, repository, count(*), max(sequence) FROM stored GROUP BY repository
      ON CONFLICT (namespace, repository) DO UPDATE SET
        events = t.events + excluded.events,
        max_sequence = excluded.max_sequence
    ),
    counter AS (
      UPDATE namespaces n SET sequence = (SELECT max(sequence) FROM stored)
      WHERE n.namespace = p_namespace AND EXISTS (SELECT FROM stored)
    )
    SELECT s.*, false FROM stored s
    UNION ALL
    SELECT x.*, true FROM existing x;
  END
  $$;

  CREATE OR REPLACE FUNCTION tabsync_append_within(
    p_namespace text, p_repositories text[],
    p_event_ids text[], p_data_ids text[], p_operations smallint[], p_created_ats text[], p_data jsonb[],
    p_sizes bigint[], p_quota bigint
  ) RETURNS TABLE (
    sequence bigint, repository text, event_id text, data_id text, operation smallint,
    created_at text, data jsonb, duplicate boolean
  ) LANGUAGE plpgsql AS $$
  #variable_conflict use_column
  DECLARE
    used bigint;
    added bigint;
    conflict text;
  BEGIN
    INSERT INTO namespaces AS n (namespace, sequence) VALUES (p_namespace, 0)
    ON CONFLICT (namespace) DO UPDATE SET sequence = n.sequence
    RETURNING n.bytes INTO used;

    SELECT coalesce(sum(i.size) FILTER (WHERE e.repository IS NULL), 0),
           (array_agg(json_build_object('eventId', i.event_id, 'repository', e.repository)::text ORDER BY i.position)
              FILTER (WHERE e.repository <> i.repository))[1]
    INTO added, conflict
    FROM unnest(p_event_ids, p_repositories, p_sizes) WITH ORDINALITY AS i(event_id, repository, size, position)
    LEFT JOIN LATERAL (
      SELECT e.repository FROM events e WHERE e.namespace = p_namespace AND e.event_id = i.event_id LIMIT 1
    ) e ON true;
    IF conflict IS NOT NULL THEN
      RAISE EXCEPTION 'eventId stored in another repository' USING ERRCODE = 'TS409', DETAIL = conflict;
    END IF;
    IF p_quota IS NOT NULL AND used + added > p_quota THEN
      RAISE EXCEPTION 'namespace quota exceeded' USING ERRCODE = 'TS413';
    END IF;

    RETURN QUERY SELECT * FROM tabsync_append(p_namespace, p_repositories, p_event_ids, p_data_ids, p_operations, p_created_ats, p_data);
    UPDATE namespaces n SET bytes = n.bytes + added WHERE n.namespace = p_namespace;
  END
  $$;
  `,
];

/** An arbitrary key that names "tabsync schema migration" among the database's advisory locks. */
const MIGRATION_LOCK_KEY = 0x7ab5_0001;

export async function migrate(pool: pg.Pool): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_version');
    const current = rows[0]?.version;
    if (current === undefined) await client.query('INSERT INTO schema_version (version) VALUES (0)');
    const from = current ?? 0;
    if (from > MIGRATIONS.length) {
      throw new Error(`database schema version ${from} is newer than this server's (${MIGRATIONS.length})`);
    }
    for (const migration of MIGRATIONS.slice(from)) await client.query(migration);
    await client.query('UPDATE schema_version SET version = $1', [MIGRATIONS.length]);
  });
}
