/**
 * Queries on IndexedDB (fake-indexeddb): declared indexes added and dropped by an upgrade with no
 * record lost, and every query answered from the store along its plan exactly as in memory.
 */
import 'fake-indexeddb/auto';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeQuery, type NormalizedQuery, type QueryInput } from '../protocol/query';
import { countIndexedDb, countRows, evaluateIndexedDb, evaluateRows, unwindowed, watchStartIndexedDb } from '../worker/local/query/evaluate';
import { LiveCount, LiveWindow, loadBound, WINDOW_MARGIN } from '../worker/local/query/window';
import { indexedFields, indexesMatch, indexSpecs, upgradeIndexes, withIndexKeys, type IndexSpec, type UpgradeReport } from '../worker/local/query/indexes';
import { planQuery } from '../worker/local/query/plan';
import { queryRowOf, type QueryRow } from '../worker/local/query/row';
import { pick, randomValue, seeded } from './query-random';

interface Row {
  repository: string;
  id: string;
  data?: Record<string, unknown>;
  deleted: boolean;
  createdAt: string;
  eventId: string;
  keys?: unknown;
}

let databases = 0;
/** Opens (creating or upgrading) a database whose `records` store is keyed as idb-store.ts keys it. */
function open(name: string, version: number, specs: readonly IndexSpec[]): Promise<{ db: IDBDatabase; report?: UpgradeReport }> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, version);
    let upgraded: Promise<UpgradeReport> | undefined;
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains('records')) db.createObjectStore('records', { keyPath: ['repository', 'id'] });
      upgraded = upgradeIndexes(request.transaction!.objectStore('records'), specs);
    };
    request.onerror = () => reject(request.error);
    request.onsuccess = async () => {
      const report = upgraded ? await upgraded : undefined;
      resolve({ db: request.result, ...(report && { report }) });
    };
  });
}

function transact<T>(db: IDBDatabase, mode: IDBTransactionMode, work: (store: IDBObjectStore) => Promise<T> | T): Promise<T> {
  const tx = db.transaction('records', mode);
  const done = new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
  return Promise.resolve(work(tx.objectStore('records'))).then(async (result) => {
    await done;
    return result;
  });
}

function all(db: IDBDatabase): Promise<Row[]> {
  return transact(db, 'readonly', (store) => new Promise<Row[]>((resolve) => {
    const request = store.getAll();
    request.onsuccess = () => resolve(request.result as Row[]);
  }));
}

const liveRow = (repository: string, id: string, data: Record<string, unknown>, n = 1): Row => ({
  repository, id, data: { id, ...data }, deleted: false, createdAt: '2024-01-01T00:00:00.000Z', eventId: `e${id}${n}`,
});
const tombstone = (repository: string, id: string): Row => ({ repository, id, deleted: true, createdAt: '2024-01-01T00:00:00.000Z', eventId: `d${id}` });
const withoutKeys = (rows: readonly Row[]) => rows.map(({ keys: _keys, ...row }) => row);

test('an upgrade adds and drops declared indexes and rewrites keys without losing a record', async () => {
  const name = `query-upgrade-${++databases}`;
  const first = await open(name, 1, []);
  const rows = [liveRow('todos', 'a', { done: false, listId: 'L1' }), liveRow('todos', 'b', { done: true }), tombstone('todos', 'c'), liveRow('notes', 'a', { text: 'x' })];
  await transact(first.db, 'readwrite', (store) => rows.forEach((row) => store.put(row)));
  first.db.close();

  const v2 = indexSpecs({ todos: ['done', ['listId', 'done']] });
  const second = await open(name, 2, v2);
  assert.deepEqual(second.report, { added: ['query:todos:done', 'query:todos:listId+done'], dropped: [], rewritten: 2 });
  assert.deepEqual(withoutKeys(await all(second.db)), withoutKeys(rows.sort((x, y) => (x.repository + x.id < y.repository + y.id ? -1 : 1))));
  const store = second.db.transaction('records').objectStore('records');
  assert.equal(indexesMatch(store, v2), true);
  assert.deepEqual(await countIndex(second.db, 'query:todos:done'), 2, 'live todos only: no tombstone, no note');
  second.db.close();

  const v3 = indexSpecs({ todos: [['listId', 'done']], notes: ['text'] });
  const third = await open(name, 3, v3);
  assert.deepEqual(third.report, { added: ['query:notes:text'], dropped: ['query:todos:done'], rewritten: 1 });
  assert.deepEqual(withoutKeys(await all(third.db)), withoutKeys(rows));
  assert.deepEqual(Array.from(third.db.transaction('records').objectStore('records').indexNames).sort(), ['query:notes:text', 'query:todos:listId+done']);
  assert.equal(await countIndex(third.db, 'query:notes:text'), 1);
  third.db.close();

  const fourth = await open(name, 4, []);
  assert.deepEqual(fourth.report, { added: [], dropped: ['query:notes:text', 'query:todos:listId+done'], rewritten: 3 });
  assert.deepEqual(await all(fourth.db), withoutKeys(rows), 'no keys left where no index wants them');
  fourth.db.close();
});

function countIndex(db: IDBDatabase, index: string): Promise<number> {
  return transact(db, 'readonly', (store) => new Promise<number>((resolve) => {
    const request = store.index(index).count();
    request.onsuccess = () => resolve(request.result);
  }));
}

const FIELDS = ['done', 'priority', 'title', 'listId'];
// Ranged fields followed by others come first: a bound must pass every key holding its value.
const SPECS = indexSpecs({ todos: [['priority', 'title'], ['title', 'done'], 'done', ['listId', 'priority'], ['done', 'title'], ['listId', 'done', 'title'], 'title', 'priority'] });

function randomData(random: () => number): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const field of FIELDS) {
    const value = field === 'listId' ? pick(random, ['L1', 'L2', 'L3', undefined, null, 3]) : randomValue(random);
    if (value !== undefined) data[field] = value;
  }
  return data;
}

function randomQuery(random: () => number): NormalizedQuery {
  const where: NonNullable<QueryInput['where']> = {};
  const conditions: Record<string, () => unknown> = {
    done: () => pick(random, [true, false, null]),
    priority: () => pick(random, [1, { gte: 0 }, { gt: 0, lt: 3 }, { lte: 2 }, { gt: 'a' }, { in: [1, 2] }]),
    title: () => pick(random, ['ab', { startsWith: 'a' }, { gte: 'b' }, { lt: 'b' }, { startsWith: '' }, null]),
    listId: () => pick(random, ['L1', 'L2', null, { in: ['L1', 'L3'] }]),
  };
  for (const field of FIELDS) if (random() < 0.35) where[field] = conditions[field]!() as never;
  const orderFields = FIELDS.filter(() => random() < 0.3);
  const direction = pick(random, ['asc', 'desc'] as const);
  const orderBy = orderFields.map((field) => ({ [field]: random() < 0.8 ? direction : pick(random, ['asc', 'desc'] as const) }));
  if (random() < 0.2) orderBy.push({ id: direction });
  const limit = random() < 0.7 ? 1 + Math.floor(random() * 8) : undefined;
  const result = normalizeQuery({ where, orderBy, offset: random() < 0.5 ? 0 : Math.floor(random() * 5), ...(limit !== undefined && { limit }) });
  if (!result.ok) throw new Error(result.error.message);
  return result.query;
}

test('every query answers the same from IndexedDB along its plan as from memory (seeds 1..6, 120 queries each)', async () => {
  const fields = indexedFields(SPECS, 'todos');
  const served = { scan: 0, index: 0, ordered: 0 };
  for (let seed = 1; seed <= 6; seed++) {
    const random = seeded(seed);
    const name = `query-evaluate-${++databases}`;
    const { db } = await open(name, 1, SPECS);
    const rows: Row[] = [];
    for (let i = 0; i < 80; i++) {
      const id = `r${String(Math.floor(random() * 1000)).padStart(3, '0')}`;
      rows.push(random() < 0.1 ? tombstone('todos', id) : liveRow('todos', id, randomData(random), i));
    }
    // Another repository's rows, with the same fields, must never show.
    for (let i = 0; i < 10; i++) rows.push(liveRow('todos2', `r${i}`, randomData(random)), liveRow('todo', `r${i}`, randomData(random)));
    await transact(db, 'readwrite', (store) => rows.forEach((row) => store.put(withIndexKeys(row, row.repository === 'todos' ? fields : []))));
    const memory: QueryRow[] = (await all(db)).filter((row) => row.repository === 'todos').flatMap((row) => queryRowOf(row) ?? []);
    for (let i = 0; i < 120; i++) {
      const query = randomQuery(random);
      const plan = planQuery('todos', SPECS, query);
      served[plan.kind]++;
      if (plan.kind === 'index' && plan.ordered) served.ordered++;
      const fromStore = await transact(db, 'readonly', (store) => evaluateIndexedDb(store, 'todos', query, plan));
      const expected = evaluateRows(query, memory);
      const message = `seed ${seed}, query ${i}: ${JSON.stringify(query)} by ${plan.description}`;
      assert.deepEqual(fromStore.map((row) => row.id), expected.map((row) => row.id), message);
      // A live window starts from every matching record, read along the same plan.
      const matching = await transact(db, 'readonly', (store) => evaluateIndexedDb(store, 'todos', unwindowed(query), plan));
      assert.deepEqual(new LiveWindow(query, matching).window().map((row) => row.id), expected.map((row) => row.id), `${message}, live`);
      // Or, as a watch starts: its first loadBound rows along the plan and the ids of every match.
      const start = await transact(db, 'readonly', (store) => watchStartIndexedDb(store, 'todos', query, plan, loadBound(query)));
      const started = new LiveWindow(query, start);
      assert.deepEqual(started.window().map((row) => row.id), expected.map((row) => row.id), `${message}, started`);
      assert.equal(started.count, countRows(query, memory), `${message}, started count`);
      const countStart = await transact(db, 'readonly', (store) => watchStartIndexedDb(store, 'todos', query, plan, 0));
      assert.equal(new LiveCount(query, countStart).count, countRows(query, memory), `${message}, count started`);
    }
    db.close();
  }
  // The comparison is worth something only if both paths ran often.
  assert.ok(served.index > 150 && served.scan > 60 && served.ordered > 50, JSON.stringify(served));
});

test('the rows of a window over an index, as it starts and as it refills, are read along it and no further: offset + limit + margin of 3000', async () => {
  const specs = indexSpecs({ todos: ['priority', ['done', 'priority']] });
  const fields = indexedFields(specs, 'todos');
  const { db } = await open(`query-reads-${++databases}`, 1, specs);
  await transact(db, 'readwrite', (store) => {
    for (let i = 0; i < 3000; i++) store.put(withIndexKeys(liveRow('todos', `r${i}`, { priority: i % 97, done: i % 3 === 0 }), fields));
  });
  const reads = async (input: QueryInput) => {
    const query = normalizeQuery(input);
    if (!query.ok) throw new Error(query.error.message);
    // What a watched window loads again when drained: its first loadBound matches.
    const prefix = { ...query.query, offset: 0, limit: loadBound(query.query) };
    const read = { rows: 0 };
    const rows = await transact(db, 'readonly', (store) => evaluateIndexedDb(store, 'todos', prefix, planQuery('todos', specs, prefix), read));
    return { read: read.rows, loaded: rows.length, bound: prefix.limit };
  };
  const byPriority = await reads({ orderBy: { priority: 'desc' }, offset: 10, limit: 50 });
  assert.deepEqual(byPriority, { read: byPriority.bound, loaded: byPriority.bound, bound: 60 + WINDOW_MARGIN });
  const doneByPriority = await reads({ where: { done: true }, orderBy: { priority: 'asc' }, limit: 20 });
  assert.deepEqual(doneByPriority, { read: 20 + WINDOW_MARGIN, loaded: 20 + WINDOW_MARGIN, bound: 20 + WINDOW_MARGIN });
  const unindexed = await reads({ orderBy: { title: 'asc' }, limit: 20 });
  assert.equal(unindexed.read, 3000, 'no index serves the order: a scan reads every row');
  // A watch's first answer: loadBound rows along the index, and every match's id without its row.
  const starts = async (input: QueryInput) => {
    const query = normalizeQuery(input);
    if (!query.ok) throw new Error(query.error.message);
    const read = { rows: 0 };
    const plan = planQuery('todos', specs, query.query);
    const start = await transact(db, 'readonly', (store) => watchStartIndexedDb(store, 'todos', query.query, plan, loadBound(query.query), read));
    return { read: read.rows, loaded: start.prefix.length, matching: start.matching.length };
  };
  assert.deepEqual(await starts({ orderBy: { priority: 'desc' }, offset: 10, limit: 50 }), { read: 60 + WINDOW_MARGIN, loaded: 60 + WINDOW_MARGIN, matching: 3000 });
  assert.deepEqual(await starts({ where: { done: true }, orderBy: { priority: 'asc' }, limit: 20 }), { read: 20 + WINDOW_MARGIN, loaded: 20 + WINDOW_MARGIN, matching: 1000 });
  assert.deepEqual(await starts({ orderBy: { title: 'asc' }, limit: 20 }), { read: 3000, loaded: 3000, matching: 3000 }, 'no index serves the order: every match is read');
  db.close();
});

test('a count whose where an index range expresses is the index count of that range; the others read rows', async () => {
  const fields = indexedFields(SPECS, 'todos');
  const counted = { fromIndex: 0, fromRows: 0 };
  for (let seed = 11; seed <= 13; seed++) {
    const random = seeded(seed);
    const { db } = await open(`query-count-${++databases}`, 1, SPECS);
    const rows: Row[] = [];
    for (let i = 0; i < 80; i++) {
      const id = `r${String(Math.floor(random() * 1000)).padStart(3, '0')}`;
      rows.push(random() < 0.1 ? tombstone('todos', id) : liveRow('todos', id, randomData(random), i));
    }
    for (let i = 0; i < 10; i++) rows.push(liveRow('todos2', `r${i}`, randomData(random)));
    await transact(db, 'readwrite', (store) => rows.forEach((row) => store.put(withIndexKeys(row, row.repository === 'todos' ? fields : []))));
    const memory: QueryRow[] = (await all(db)).filter((row) => row.repository === 'todos').flatMap((row) => queryRowOf(row) ?? []);
    for (let i = 0; i < 120; i++) {
      const query = randomQuery(random);
      const plan = planQuery('todos', SPECS, query);
      const read = { rows: 0 };
      const count = await transact(db, 'readonly', (store) => countIndexedDb(store, 'todos', query, plan, read));
      assert.equal(count, countRows(query, memory), `seed ${seed}, query ${i}: ${JSON.stringify(query)} by ${plan.description}`);
      if (read.rows === 0) counted.fromIndex++;
      else counted.fromRows++;
    }
    db.close();
  }
  assert.ok(counted.fromIndex > 60 && counted.fromRows > 60, JSON.stringify(counted));
});
