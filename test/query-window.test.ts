/** Live windows: after each change a tab gets what entered, left, moved or was updated, and the count. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeQuery, type NormalizedQuery, type QueryInput, type WindowDelta } from '../protocol/query';
import { countRows, evaluateRows } from '../worker/local/query/evaluate';
import type { QueryRow } from '../worker/local/query/row';
import { applyDelta, LiveCount, LiveWindow, loadBound, type QueryChange } from '../worker/local/query/window';
import { pick, randomValue, seeded } from './query-random';

function query(input: QueryInput): NormalizedQuery {
  const result = normalizeQuery(input);
  if (!result.ok) throw new Error(result.error.message);
  return result.query;
}

let versions = 0;
const row = (id: string, data: Record<string, unknown>): QueryRow => ({ id, version: `v${++versions}`, data: { id, ...data } });
const upsert = (id: string, data: Record<string, unknown>): QueryChange => ({ id, row: row(id, data) });
const ids = (rows: readonly QueryRow[]) => rows.map((r) => r.id);
/** A delta with records reduced to their ids, to compare with what a test expects. */
function shape(delta: WindowDelta<QueryRow> | undefined) {
  if (!delta) return undefined;
  return {
    entered: delta.entered.map(({ index, record }) => [record.id, index]),
    left: delta.left.map(({ id, index }) => [id, index]),
    moved: delta.moved.map(({ id, from, to }) => [id, from, to]),
    updated: delta.updated.map(({ index, record }) => [record.id, index]),
    count: delta.count,
  };
}

/** Records a..h with n = 1..8; the window is offset 2, limit 3 by n: [c, d, e]. */
function lettered(): LiveWindow {
  const rows = 'abcdefgh'.split('').map((id, i) => row(id, { n: i + 1, kind: 'task' }));
  return new LiveWindow(query({ where: { kind: 'task' }, orderBy: { n: 'asc' }, offset: 2, limit: 3 }), rows);
}

test('the initial window and count', () => {
  const live = lettered();
  assert.deepEqual(ids(live.window()), ['c', 'd', 'e']);
  assert.equal(live.count, 8);
});

test('a record entering before the window shifts it: one comes in at the top, the last falls out', () => {
  const live = lettered();
  assert.deepEqual(shape(live.apply([upsert('x', { n: 0, kind: 'task' })])), { entered: [['b', 0]], left: [['e', 2]], moved: [], updated: [], count: 9 });
  assert.deepEqual(ids(live.window()), ['b', 'c', 'd']);
  assert.deepEqual(shape(live.apply([{ id: 'x', row: undefined }])), { entered: [['e', 2]], left: [['b', 0]], moved: [], updated: [], count: 8 }, 'and back when it goes');
});

test('a change past the window changes only the count; one outside the results changes nothing', () => {
  const live = lettered();
  assert.deepEqual(shape(live.apply([upsert('y', { n: 100, kind: 'task' })])), { entered: [], left: [], moved: [], updated: [], count: 9 });
  assert.equal(live.apply([upsert('z', { n: 1, kind: 'note' })]), undefined);
  assert.equal(live.apply([{ id: 'nobody', row: undefined }]), undefined);
});

test('a record of the window deleted, or no longer matching: it leaves, the next one enters', () => {
  const live = lettered();
  assert.deepEqual(shape(live.apply([{ id: 'd', row: undefined }])), { entered: [['f', 2]], left: [['d', 1]], moved: [], updated: [], count: 7 });
  assert.deepEqual(shape(live.apply([upsert('c', { n: 3, kind: 'note' })])), { entered: [['g', 2]], left: [['c', 0]], moved: [], updated: [], count: 6 });
});

test('moving within the window is one move; a change that keeps the place is an update', () => {
  const live = lettered();
  assert.deepEqual(shape(live.apply([upsert('e', { n: 3.5, kind: 'task' })])), { entered: [], left: [], moved: [['e', 2, 1]], updated: [], count: 8 });
  assert.deepEqual(ids(live.window()), ['c', 'e', 'd']);
  assert.deepEqual(shape(live.apply([upsert('d', { n: 4.5, kind: 'task' })])), { entered: [], left: [], moved: [], updated: [['d', 2]], count: 8 }, 'a new n, the same place');
  assert.deepEqual(shape(live.apply([upsert('c', { n: 3, kind: 'task', title: 'new' })])), { entered: [], left: [], moved: [], updated: [['c', 0]], count: 8 });
});

test('moving out of the window past its end: it leaves and the next one enters', () => {
  const live = lettered();
  assert.deepEqual(shape(live.apply([upsert('c', { n: 7.5, kind: 'task' })])), { entered: [['f', 2]], left: [['c', 0]], moved: [], updated: [], count: 8 });
  assert.deepEqual(ids(live.window()), ['d', 'e', 'f']);
});

test('the same row applied again changes nothing', () => {
  const live = lettered();
  const d = live.window()[1]!;
  assert.equal(live.apply([{ id: 'd', row: d }]), undefined);
});

test('a batch of changes gives one delta that turns the old window into the new one', () => {
  const live = lettered();
  const before = live.window();
  const delta = live.apply([upsert('c', { n: 4.5, kind: 'task' }), upsert('d', { n: 3.5, kind: 'task' }), upsert('x', { n: 0.5, kind: 'task' })]);
  assert.ok(delta);
  assert.deepEqual(ids(applyDelta(before, delta)), ids(live.window()));
  assert.deepEqual(ids(live.window()), ['b', 'd', 'c']);
});

test('applyDelta refuses a delta that does not fit the window', () => {
  const record = row('q', { n: 1 });
  assert.throws(() => applyDelta([], { entered: [], left: [{ id: 'q', index: 0 }], moved: [], updated: [], count: 0 }), /removes records the window does not hold/);
  assert.throws(() => applyDelta([], { entered: [{ index: 3, record }], left: [], moved: [], updated: [], count: 1 }), /inserts at 3, past the window's end/);
  assert.throws(() => applyDelta([row('p', {})], { entered: [], left: [], moved: [], updated: [{ index: 0, record }], count: 1 }), /updates q at 0/);
});

test('LiveCount follows the number of matching records', () => {
  const live = new LiveCount(query({ where: { done: false } }), [row('a', { done: false }), row('b', { done: true })]);
  assert.equal(live.count, 1);
  assert.equal(live.apply([upsert('b', { done: false })]), 2);
  assert.equal(live.apply([upsert('b', { done: false, title: 'x' })]), undefined);
  assert.equal(live.apply([{ id: 'a', row: undefined }]), 1);
  assert.equal(live.apply([{ id: 'a', row: undefined }]), undefined);
});

const FIELDS = ['n', 's', 'flag'];
function randomData(random: () => number): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const field of FIELDS) {
    const value = randomValue(random);
    if (value !== undefined) data[field] = value;
  }
  return data;
}

function randomQuery(random: () => number): NormalizedQuery {
  const where: NonNullable<QueryInput['where']> = {};
  if (random() < 0.4) where['n'] = pick(random, [{ gte: 0 }, { lt: 2 }, { gt: -1, lte: 3 }, { in: [0, 1, 'a', null] }]);
  if (random() < 0.3) where['flag'] = pick(random, [true, false, null]);
  if (random() < 0.2) where['s'] = pick(random, [{ startsWith: 'a' }, { gte: 'b' }, 'ab']);
  const orderBy = FIELDS.filter(() => random() < 0.4).map((field) => ({ [field]: pick(random, ['asc', 'desc'] as const) }));
  const limit = random() < 0.8 ? 1 + Math.floor(random() * 6) : undefined;
  return query({ where, orderBy, offset: Math.floor(random() * 4), ...(limit !== undefined && { limit }) });
}

test('random changes: every delta turns the old window into a fresh evaluation of the new data', () => {
  for (let seed = 1; seed <= 150; seed++) {
    const random = seeded(seed);
    const rows = new Map<string, QueryRow>();
    const idPool = Array.from({ length: 14 }, (_, i) => `r${i}`);
    for (const id of idPool) if (random() < 0.6) rows.set(id, row(id, randomData(random)));
    const q = randomQuery(random);
    const live = new LiveWindow(q, rows.values());
    const count = new LiveCount(q, rows.values());
    let window = live.window();
    for (let step = 0; step < 40; step++) {
      const changes = randomChanges(random, idPool, rows, 0.25);
      const before = window;
      const delta = live.apply(changes);
      const counted = count.apply(changes);
      const expected = evaluateRows(q, rows.values());
      const message = `seed ${seed}, step ${step}, query ${JSON.stringify(q)}`;
      if (delta) window = applyDelta(before, delta);
      assert.deepEqual(ids(window), ids(expected), message);
      assert.deepEqual(window.map((r) => r.version), expected.map((r) => r.version), message);
      assert.equal(live.count, countRows(q, rows.values()), message);
      assert.equal(count.count, live.count, message);
      if (delta) assert.equal(delta.count, live.count, message);
      if (counted !== undefined) assert.equal(counted, live.count, message);
      if (delta) assertMovesNeeded(before, delta, message);
    }
  }
});

/** No move is redundant: reported as a mere update instead, it would leave the window wrong. */
function assertMovesNeeded(before: readonly QueryRow[], delta: WindowDelta<QueryRow>, message: string): void {
  const expected = ids(applyDelta(before, delta));
  for (const move of delta.moved) {
    const demoted = { ...delta, moved: delta.moved.filter((m) => m !== move), updated: [...delta.updated, { index: move.to, record: move.record }] };
    let result: string[] | undefined;
    try {
      result = ids(applyDelta(before, demoted));
    } catch {
      result = undefined;
    }
    assert.notDeepEqual(result, expected, `${message}: ${move.id} need not have moved`);
  }
}

/** The first `bound` matches in order: what a refill reads along the index. */
function prefix(q: NormalizedQuery, rows: Iterable<QueryRow>, bound: number): QueryRow[] {
  return evaluateRows({ where: q.where, orderBy: q.orderBy, offset: 0, limit: bound }, rows);
}

/** Random windows with a limit, kept with a margin of 0..2 rows: inserts sort into or past the
 *  loaded rows, deletes drain them, and a refill reads the prefix again. */
test('random changes on a truncated window: deltas match a fresh evaluation; drained windows refill', () => {
  let refills = 0;
  let truncatedSteps = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const random = seeded(seed);
    const rows = new Map<string, QueryRow>();
    const idPool = Array.from({ length: 24 }, (_, i) => `r${i}`);
    for (const id of idPool) if (random() < 0.7) rows.set(id, row(id, randomData(random)));
    const q = { ...randomQuery(random), limit: 1 + Math.floor(random() * 4) };
    const margin = Math.floor(random() * 3);
    const live = new LiveWindow(q, rows.values(), margin);
    let window = live.window();
    for (let step = 0; step < 40; step++) {
      const changes = randomChanges(random, idPool, rows, 0.35);
      const message = `seed ${seed}, step ${step}, query ${JSON.stringify(q)}, margin ${margin}`;
      let delta = live.apply(changes);
      if (live.needsMore) {
        assert.equal(delta, undefined, message);
        delta = live.refill(prefix(q, rows.values(), loadBound(q, margin)));
        refills++;
      }
      assert.ok(live.loaded <= loadBound(q, margin), message);
      if (countRows(q, rows.values()) > live.loaded) truncatedSteps++;
      if (delta) window = applyDelta(window, delta);
      const expected = evaluateRows(q, rows.values());
      assert.deepEqual(ids(window), ids(expected), message);
      assert.deepEqual(window.map((r) => r.version), expected.map((r) => r.version), message);
      assert.equal(live.count, countRows(q, rows.values()), message);
      assert.deepEqual(ids(live.window()), ids(window), message);
    }
  }
  assert.ok(refills > 100, `drained windows were refilled (${refills})`);
  assert.ok(truncatedSteps > 1000, `windows were truncated (${truncatedSteps})`);
});

/** One to three writes or deletes (with these odds) on random ids of the pool, applied to `rows` too. */
function randomChanges(random: () => number, idPool: readonly string[], rows: Map<string, QueryRow>, deleteOdds: number): QueryChange[] {
  const changes: QueryChange[] = [];
  for (let k = 1 + Math.floor(random() * 3); k > 0; k--) {
    const id = pick(random, idPool);
    const next = random() < deleteOdds ? undefined : row(id, randomData(random));
    if (next) rows.set(id, next);
    else rows.delete(id);
    changes.push({ id, row: next });
  }
  return changes;
}

test('a truncated window ignores a record sorting past its loaded rows, and takes one sorting before', () => {
  const rows = 'abcdefgh'.split('').map((id, i) => row(id, { n: i + 1 }));
  const q = query({ orderBy: { n: 'asc' }, limit: 2 });
  const live = new LiveWindow(q, rows, 1);
  assert.equal(live.loaded, 3);
  assert.equal(live.apply([upsert('z', { n: 100 })])?.count, 9, 'past the loaded rows: only the count');
  assert.equal(live.loaded, 3);
  assert.deepEqual(shape(live.apply([upsert('y', { n: 0 })])), { entered: [['y', 0]], left: [['b', 1]], moved: [], updated: [], count: 10 });
  assert.equal(live.loaded, 3, 'trimmed back to its bound');
  live.apply([{ id: 'y', row: undefined }]);
  assert.equal(live.needsMore, false, 'still offset + limit loaded');
  assert.equal(live.apply([{ id: 'a', row: undefined }]), undefined, 'drained: the delta waits for the refill');
  assert.equal(live.needsMore, true);
  const remaining = rows.slice(1).concat(row('z', { n: 100 }));
  assert.deepEqual(shape(live.refill(prefix(q, remaining, 3))), { entered: [['c', 1]], left: [['a', 0]], moved: [], updated: [], count: 8 });
  assert.deepEqual(ids(live.window()), ['b', 'c']);
});
