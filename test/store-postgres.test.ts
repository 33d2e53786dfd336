/**
 * The PostgreSQL event store: the shared contract, then what only PostgreSQL has to prove:
 * several instances (pools) over one database, connection loss, and reads at a million events.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { SyncEvent } from '../protocol';
import type { Commit, EventStore } from '../server/store/event-store';
import { openPostgresStore } from '../server/store/postgres';
import { READ_COMPACTED_TEXT } from '../server/store/postgres-queries';
import { createTestDatabase, type TestDatabase } from './helpers/postgres';
import { assertUsage, keptLog, runStoreContract, sizeOf } from './store-contract';

runStoreContract('postgres', async () => {
  const database = await createTestDatabase();
  const { log, lines } = keptLog();
  const open = () => openPostgresStore(database.url, { poolSize: 4, log });
  try {
    return { store: await open(), logged: () => lines, reopen: open, cleanup: () => database.drop() };
  } catch (error) {
    await database.drop();
    throw error;
  }
});

let clock = Date.parse('2024-01-01T00:00:00.000Z');
function event(eventId: string, dataId = `record-${eventId}`): SyncEvent {
  return { eventId, dataId, operation: 0, createdAt: new Date(clock++).toISOString(), data: { title: eventId } };
}

function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (condition()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(check, 20);
    };
    check();
  });
}

/** Runs SQL as the superuser on the test database (to observe or break what the store does). */
async function admin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(url);
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

describe('postgres store: a database of schema version 1 (before the namespace quota)', () => {
  test('is migrated with each namespace\'s usage counted, at least the exact count, and the quota holds from then on', async () => {
    const database = await createTestDatabase();
    try {
      const events = [event('v1-a'), event('v1-b')];
      const exact = sizeOf('todos', events);
      const store = await openPostgresStore(database.url, { poolSize: 2 });
      await store.append('ns', 'todos', events);
      await store.close();
      await admin(database.url, (c) =>
        c.query('DROP FUNCTION tabsync_append_within; ALTER TABLE namespaces DROP COLUMN bytes; UPDATE schema_version SET version = 1'),
      );

      const migrated = await openPostgresStore(database.url, { poolSize: 2 });
      try {
        const { rows } = await admin(database.url, (c) => c.query<{ bytes: string }>("SELECT bytes FROM namespaces WHERE namespace = 'ns'"));
        const counted = Number(rows[0]?.bytes);
        // jsonb prints `{"title": "v1-a"}`: a space more per key than JSON.stringify.
        assert.ok(counted >= exact && counted <= exact + 16, `counted ${counted}, exact ${exact}`);
        await assertUsage(migrated, 'ns', counted);
      } finally {
        await migrated.close();
      }
    } finally {
      await database.drop();
    }
  });
});

describe('postgres store: several instances over one database', () => {
  let database: TestDatabase;
  let a: EventStore;
  let b: EventStore;
  const bLog = keptLog();

  before(async () => {
    database = await createTestDatabase();
    // Started together on an empty database: the advisory lock makes them migrate one by one.
    [a, b] = await Promise.all([openPostgresStore(database.url, { poolSize: 4 }), openPostgresStore(database.url, { poolSize: 4, log: bLog.log })]);
  });

  after(async () => {
    await a?.close();
    await b?.close();
    await database?.drop();
  });

  test('instances starting at once migrate the schema once', async () => {
    const versions = await admin(database.url, (c) => c.query<{ version: number }>('SELECT version FROM schema_version'));
    assert.deepEqual(versions.rows, [{ version: 3 }]);
  });

  test('the same eventId appended through two instances at once is stored once', async () => {
    for (let round = 0; round < 40; round++) {
      const same = event(`same-${round}`);
      const [fromA, fromB] = await Promise.all([a.append('dup', 'todos', [same]), b.append('dup', 'todos', [same])]);
      const results = [fromA[0]!, fromB[0]!];
      assert.equal(results.filter((r) => !r.duplicate).length, 1, `round ${round}: exactly one instance stores it`);
      assert.equal(results[0]!.event.serverSequence, results[1]!.event.serverSequence, 'both report the stored copy');
    }
    // Overlapping batches, too: every event once, whichever instance won it.
    const batch = Array.from({ length: 30 }, (_, i) => event(`overlap-${i}`));
    await Promise.all([a.append('dup', 'todos', batch.slice(0, 20)), b.append('dup', 'todos', batch.slice(10))]);
    const log = await a.readLog('dup', 0, 1000);
    assert.equal(log.length, 40 + 30);
    assert.equal(new Set(log.map((l) => l.event.eventId)).size, log.length);
  });

  test('concurrent appends through two instances get distinct sequences that become visible in order', async () => {
    const writers = 6;
    const appendsPerWriter = 25;
    let writing = true;
    const sequences: number[] = [];
    const write = async (store: EventStore, writer: number) => {
      for (let i = 0; i < appendsPerWriter; i++) {
        const size = 1 + ((writer + i) % 4);
        const batch = Array.from({ length: size }, (_, k) => event(`w${writer}-${i}-${k}`));
        for (const result of await store.append('order', 'todos', batch)) sequences.push(result.event.serverSequence);
      }
    };
    // A reader following the log from its cursor, as a broadcaster does: it must never see a
    // sequence before all lower ones, or it would skip them for good.
    let cursor = 0;
    const read = async () => {
      while (writing || cursor < (await b.maxSequence('order'))) {
        for (const { event: e } of await b.readLog('order', cursor, 1000)) {
          assert.equal(e.serverSequence, cursor + 1, `saw ${e.serverSequence} while ${cursor + 1} was not visible`);
          cursor = e.serverSequence;
        }
      }
    };
    const reading = read();
    await Promise.all(Array.from({ length: writers }, (_, w) => write(w % 2 === 0 ? a : b, w)));
    writing = false;
    await reading;

    assert.equal(new Set(sequences).size, sequences.length, 'no sequence is handed out twice');
    const total = sequences.length;
    assert.deepEqual([...sequences].sort((x, y) => x - y), Array.from({ length: total }, (_, i) => i + 1));
    assert.equal(cursor, total);
    assert.equal(await a.maxSequence('order'), total);
  });

  test('concurrent appends to one namespace share transactions, yet each succeeds or fails on its own', async () => {
    // PostgreSQL refuses a NUL character in text: a request carrying one fails as a whole,
    // and the requests committed in the same transaction as it are stored all the same.
    const refused = { ...event('refused'), dataId: 'bad\u0000id' };
    const requests = Array.from({ length: 12 }, (_, i) =>
      i === 11 ? [event('fine-11'), refused, event('fine-11b')] : [event(`fine-${i}`), event(`fine-${i}b`)],
    );
    const outcomes = await Promise.allSettled(requests.map((events) => a.append('grouped', 'todos', events)));
    assert.deepEqual(outcomes.map((o) => o.status), [...Array(11).fill('fulfilled'), 'rejected']);
    const log = await a.readLog('grouped', 0, 1000);
    assert.deepEqual(log.map((l) => l.event.serverSequence), Array.from({ length: 22 }, (_, i) => i + 1));
    assert.ok(!log.some((l) => l.event.eventId.startsWith('fine-11')), 'the refused request stored nothing');

    // The same event in concurrent requests of one instance: stored once.
    const same = event('grouped-same');
    const results = await Promise.all(Array.from({ length: 5 }, () => a.append('grouped', 'todos', [same])));
    assert.equal(results.filter(([r]) => !r!.duplicate).length, 1);
    assert.equal(new Set(results.map(([r]) => r!.event.serverSequence)).size, 1);
  });

  test('an append through one instance reaches the other instance’s onAppended, with its range and without its events', async () => {
    const heard: Commit[] = [];
    const stop = b.onAppended((commit) => void heard.push(commit));
    try {
      const results = await a.append('fanout', 'todos', [event('fanout-1'), event('fanout-2')]);
      await until(() => heard.some(({ namespace }) => namespace === 'fanout'), 'the notification on the other instance');
      const [first, second] = results.map((r) => r.event.serverSequence);
      assert.deepEqual(heard.find(({ namespace }) => namespace === 'fanout'), { namespace: 'fanout', maxSequence: second, firstSequence: first });
    } finally {
      stop();
    }
  });

  test('after its LISTEN connection drops, an instance reconnects and re-announces its namespaces', async () => {
    const [first] = await a.append('relisten', 'todos', [event('relisten-1')]);
    await b.readLog('relisten', 0, 1); // b now knows the namespace
    const heard: number[] = [];
    const stop = b.onAppended(({ namespace, maxSequence }) => {
      if (namespace === 'relisten') heard.push(maxSequence);
    });
    try {
      // Nothing is appended meanwhile: only the re-announcement after reconnecting can call b's
      // listener, so that its broadcaster re-reads whatever it may have missed.
      await admin(database.url, (c) =>
        c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tabsync-listen'`),
      );
      await until(() => heard.includes(first!.event.serverSequence), 'the re-announcement after reconnecting');
      const lost = bLog.lines.map((line) => JSON.parse(line) as { level: string; msg: string }).find((entry) => entry.msg.startsWith('LISTEN connection'));
      assert.deepEqual(lost && [lost.level, lost.msg], ['warn', 'LISTEN connection failed; reconnecting'], 'the loss is logged, not swallowed');
      // And the new connection listens again.
      const [next] = await a.append('relisten', 'todos', [event('relisten-2')]);
      await until(() => heard.includes(next!.event.serverSequence), 'a notification on the new connection');
    } finally {
      stop();
    }
  });

  test('connections killed under the pool fail requests, never the process, and the store recovers', async () => {
    await a.append('killed', 'todos', [event('killed-0')]);
    await admin(database.url, (c) =>
      c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`),
    );
    // Dead idle connections are dropped by the pool as they report their error; within a few
    // attempts appends go through again, and nothing was stored twice or lost.
    let stored = false;
    for (let attempt = 0; attempt < 20 && !stored; attempt++) {
      stored = await a.append('killed', 'todos', [event('killed-1')]).then(
        () => true,
        () => false,
      );
      if (!stored) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(stored, 'the store recovered');
    assert.deepEqual((await b.readLog('killed', 0, 10)).map((l) => l.event.eventId), ['killed-0', 'killed-1']);
  });

  test('data round-trips exactly through jsonb, however it is spelled', async () => {
    const data = { quote: 'say "hi"', backslash: 'a\\b', braces: '{a,b}', nul: 'NULL', emoji: 'ünï 🙂', nested: { list: [1, 'two', null, { deep: true }] }, empty: {} };
    const [result] = await a.append('jsonb', 'todos', [{ ...event('jsonb-1'), data }]);
    assert.deepEqual(result!.event.data, data);
    assert.deepEqual((await b.readLog('jsonb', 0, 1))[0]!.event.data, data);
  });
});

describe('postgres store: an append in a namespace whose log grew since its plan was made', () => {
  test('looks up its events by index: it reads a few pages, not the namespace\'s log', async () => {
    const database = await createTestDatabase();
    const store = await openPostgresStore(database.url, { poolSize: 2 });
    const append = (eventId: string) =>
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM tabsync_append_within('grown', ARRAY['todos'], ARRAY['${eventId}'], ARRAY['r-${eventId}'],
         ARRAY[0]::smallint[], ARRAY['2024-01-02T00:00:00.000Z'], ARRAY['{"title":"one more"}']::jsonb[], ARRAY[100]::bigint[], NULL)`;
    try {
      const plan = await admin(database.url, async (c) => {
        // A pool connection's plans are made in its first appends, while the log is small (a
        // fresh database, a young namespace), and kept: the log then grows under them.
        for (let i = 0; i < 10; i++) await c.query(append(`early-${i}`));
        await store.append('grown', 'todos', Array.from({ length: 500 }, (_, i) => event(`grown-${i}`)));
        await admin(database.url, (other) =>
          other.query(
            `INSERT INTO events (namespace, sequence, repository, event_id, data_id, operation, created_at, data)
             SELECT 'grown', 1000 + i, 'todos', 'g' || i, 'r' || i, 0, '2024-01-01T00:00:00.000Z', '{}'::jsonb FROM generate_series(1, 20000) AS i;
             UPDATE namespaces SET sequence = 1000 + 20000 WHERE namespace = 'grown'`,
          ),
        );
        return c.query<{ 'QUERY PLAN': [{ Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }] }>(append('one-more'));
      });
      const { 'Shared Hit Blocks': hit, 'Shared Read Blocks': read } = plan.rows[0]!['QUERY PLAN'][0].Plan;
      // One index probe per lookup and the inserts: tens of pages. Reading the log is hundreds per lookup.
      assert.ok(hit + read < 150, `the append read ${hit + read} pages`);
    } finally {
      await store.close();
      await database.drop();
    }
  });
});

describe('postgres store: a compacted read at a million events', () => {
  let database: TestDatabase;
  let store: EventStore;
  const EVENTS = 1_000_000;
  const RECORDS = 100_000;

  before(async () => {
    database = await createTestDatabase();
    store = await openPostgresStore(database.url, { poolSize: 2 });
    // Written straight into the tables (appending a million events through the store would make
    // this test about insert speed): record r(i % RECORDS) is written EVENTS / RECORDS times, in
    // time order, so each record's winner is its last event, sequence EVENTS - RECORDS + 1 and on.
    await admin(database.url, async (c) => {
      const timestamp = `to_char(timestamp '2024-01-01' + i * interval '1 ms', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
      await c.query(
        `INSERT INTO events (namespace, sequence, repository, event_id, data_id, operation, created_at, data)
         SELECT 'big', i, 'todos', 'e' || i, 'r' || (i % ${RECORDS}), 1, ${timestamp}, jsonb_build_object('n', i)
         FROM generate_series(1, ${EVENTS}) AS i`,
      );
      await c.query(
        `INSERT INTO records (namespace, repository, data_id, winner_sequence, winner_created_at, winner_event_id)
         SELECT 'big', 'todos', 'r' || (i % ${RECORDS}), i, ${timestamp}, 'e' || i
         FROM generate_series(${EVENTS - RECORDS + 1}, ${EVENTS}) AS i`,
      );
      await c.query(`INSERT INTO namespaces (namespace, sequence) VALUES ('big', ${EVENTS})`);
      await c.query('ANALYZE');
    });
  });

  after(async () => {
    await store?.close();
    await database?.drop();
  });

  test('the store pages through the winners only', async () => {
    const first = await store.readCompacted('big', 'todos', { afterSequence: 0, limit: 500 });
    assert.equal(first.events.length, 500);
    assert.equal(first.hasMore, true);
    assert.equal(first.events[0]!.serverSequence, EVENTS - RECORDS + 1);
    const last = await store.readCompacted('big', 'todos', { afterSequence: EVENTS - 300, limit: 500 });
    assert.deepEqual(last.events.map((e) => e.serverSequence), Array.from({ length: 300 }, (_, i) => EVENTS - 299 + i));
    assert.equal(last.hasMore, false);
  });

  for (const since of [null, '2024-01-01T00:16:00.000Z']) {
    test(`the compacted read is an index range scan on records_by_winner (since ${since ?? 'absent'})`, async () => {
      const plan = await admin(database.url, (c) =>
        c.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) ${READ_COMPACTED_TEXT}`, ['big', 'todos', 0, 501, since, 8 * 1024 * 1024]),
      );
      const nodes = flatten(plan.rows[0]!['QUERY PLAN'][0].Plan);
      const onRecords = nodes.filter((n) => n['Relation Name'] === 'records');
      assert.equal(onRecords.length, 1);
      assert.match(onRecords[0]!['Node Type'], /^Index (Only )?Scan$/);
      assert.equal(onRecords[0]!['Index Name'], 'records_by_winner');
      const types = nodes.map((n) => n['Node Type']);
      assert.ok(!types.includes('Seq Scan') && !types.includes('Sort'), `no full scan and no sort: ${types.join(', ')}`);
    });
  }
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function flatten(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(flatten)];
}
