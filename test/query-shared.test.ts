/** Tabs watching the same query share one evaluation; changes during its load are not lost. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyDelta, normalizeQuery, queryKey, type NormalizedQuery, type QueryInput, type WindowDelta } from '../protocol/query';
import { evaluateRows } from '../worker/local/query/evaluate';
import type { QueryRow } from '../worker/local/query/row';
import { SharedQueries } from '../worker/local/query/shared';
import { WINDOW_MARGIN } from '../worker/local/query/window';
import { seeded } from './query-random';

function query(input: QueryInput): NormalizedQuery {
  const result = normalizeQuery(input);
  if (!result.ok) throw new Error(result.error.message);
  return result.query;
}

const row = (id: string, data: Record<string, unknown>, version = `v-${id}`): QueryRow => ({ id, version, data: { id, ...data } });
const rows = [row('a', { done: false, n: 1 }), row('b', { done: true, n: 2 }), row('c', { done: false, n: 3 })];

test('two watches of one query share its evaluation: one load, one apply, both told', async () => {
  const shared = new SharedQueries();
  let loads = 0;
  const load = () => {
    loads++;
    return rows;
  };
  const seen: WindowDelta<QueryRow>[][] = [[], []];
  const first = await shared.windows.watch('todos', query({ where: { done: false }, orderBy: { n: 'asc' } }), { load, listener: (d) => seen[0]!.push(d), description: 'scan' });
  const second = await shared.windows.watch('todos', query({ orderBy: [{ n: 'asc' }], where: { done: { eq: false } } }), { load, listener: (d) => seen[1]!.push(d) });
  assert.equal(loads, 1);
  assert.equal(first.live, second.live);
  assert.deepEqual(first.live.window().map((r) => r.id), ['a', 'c']);
  shared.apply('todos', [{ id: 'b', row: row('b', { done: false, n: 2 }, 'v2') }]);
  shared.apply('notes', [{ id: 'b', row: row('b', { done: false, n: 0 }, 'v3') }]);
  assert.deepEqual(seen.map((deltas) => deltas.map((d) => d.entered.map((e) => [e.record.id, e.index]))), [[[['b', 1]]], [[['b', 1]]]]);
  assert.deepEqual(shared.describe().windows, [{ repository: 'todos', query: queryKey(query({ where: { done: false }, orderBy: { n: 'asc' } })), watchers: 2, count: 3, description: 'scan' }]);

  first.stop();
  assert.equal(shared.describe().windows[0]?.watchers, 1);
  second.stop();
  assert.deepEqual(shared.describe().windows, [], 'the last watcher gone, the evaluation goes');
  await shared.windows.watch('todos', query({ where: { done: false } }), { load, listener: () => {} });
  assert.equal(loads, 2);
});

test('two watches with one callback stop apart', async () => {
  const shared = new SharedQueries();
  let told = 0;
  const listener = () => told++;
  const a = await shared.windows.watch('todos', query({}), { load: () => rows, listener });
  await shared.windows.watch('todos', query({}), { load: () => rows, listener });
  a.stop();
  shared.apply('todos', [{ id: 'd', row: row('d', {}) }]);
  assert.equal(told, 1);
});

test('changes that arrive while the query loads are applied once it has loaded', async () => {
  const shared = new SharedQueries();
  let release!: (rows: QueryRow[]) => void;
  const loaded = new Promise<QueryRow[]>((resolve) => (release = resolve));
  const watching = shared.windows.watch('todos', query({ where: { done: false }, orderBy: { n: 'asc' } }), { load: () => loaded, listener: () => {} });
  const alsoWatching = shared.windows.watch('todos', query({ where: { done: false }, orderBy: { n: 'asc' } }), { load: () => assert.fail('loaded twice'), listener: () => {} });
  // The load read a, b, c; meanwhile d was written and c deleted.
  shared.apply('todos', [{ id: 'd', row: row('d', { done: false, n: 0 }) }]);
  shared.apply('todos', [{ id: 'c', row: undefined }]);
  release(rows);
  const [first, second] = await Promise.all([watching, alsoWatching]);
  assert.deepEqual(first.live.window().map((r) => r.id), ['d', 'a']);
  assert.equal(second.live, first.live);
});

test('a failed load fails its watches and leaves nothing behind', async () => {
  const shared = new SharedQueries();
  await assert.rejects(shared.windows.watch('todos', query({}), { load: () => Promise.reject(new Error('disk gone')), listener: () => {} }), /disk gone/);
  assert.deepEqual(shared.describe().windows, []);
  const again = await shared.windows.watch('todos', query({}), { load: () => rows, listener: () => {} });
  assert.equal(again.live.count, 3);
});

test('counts are shared by queries with the same where, whatever their order and window', async () => {
  const shared = new SharedQueries();
  const counts: number[] = [];
  const a = await shared.counts.watch('todos', query({ where: { done: false }, orderBy: { n: 'desc' }, limit: 1 }), { load: () => rows, listener: (n) => counts.push(n) });
  const b = await shared.counts.watch('todos', query({ where: { done: false } }), { load: () => assert.fail('loaded twice'), listener: (n) => counts.push(n) });
  assert.equal(a.live, b.live);
  assert.equal(a.live.count, 2);
  shared.apply('todos', [{ id: 'a', row: undefined }]);
  assert.deepEqual(counts, [1, 1]);
});

test('a shared window drained by deletes reads its prefix again; changes during the read follow it', async () => {
  const shared = new SharedQueries();
  const numbered = Array.from({ length: 40 }, (_, i) => row(`r${String(i + 1).padStart(2, '0')}`, { n: i + 1 }));
  let release!: (rows: QueryRow[]) => void;
  let reads = 0;
  const loadMore = () => {
    reads++;
    return new Promise<readonly QueryRow[]>((resolve) => (release = resolve));
  };
  const deltas: WindowDelta<QueryRow>[] = [];
  let told!: () => void;
  const q = query({ orderBy: { n: 'asc' }, limit: 2 });
  const watching = await shared.windows.watch('todos', q, { load: () => numbered, loadMore, listener: (d) => (deltas.push(d), told?.()) });
  assert.equal(watching.live.loaded, 2 + WINDOW_MARGIN);
  const deleted = numbered.slice(0, WINDOW_MARGIN + 1).map((r) => ({ id: r.id, row: undefined }));
  shared.apply('todos', deleted.slice(0, -1));
  assert.deepEqual(watching.live.window().map((r) => r.id), deleted.slice(-1).map((d) => d.id).concat(numbered[WINDOW_MARGIN + 1]!.id));
  deltas.length = 0;
  shared.apply('todos', deleted.slice(-1));
  assert.equal(reads, 1, 'drained: one read of the prefix');
  assert.equal(deltas.length, 0, 'no short window is sent meanwhile');
  shared.apply('todos', [{ id: 'x', row: row('x', { n: 0.5 }) }]);
  const answered = new Promise<void>((resolve) => (told = resolve));
  release(numbered.slice(WINDOW_MARGIN + 1, 2 * WINDOW_MARGIN + 3));
  await answered;
  const next = numbered[WINDOW_MARGIN + 1]!.id;
  assert.deepEqual(watching.live.window().map((r) => r.id), ['x', next]);
  assert.deepEqual(deltas.map((d) => [d.left.map((l) => l.id), d.entered.map((e) => e.record.id), d.count]), [[[deleted.at(-1)!.id], ['x'], 40 - WINDOW_MARGIN - 1 + 1]]);
});

/** A read of the window's prefix that the test answers when it likes: before or after later commits. */
class PendingReads {
  private pending: (() => void)[] = [];
  get waiting(): number {
    return this.pending.length;
  }
  read(answer: () => readonly QueryRow[]): Promise<readonly QueryRow[]> {
    return new Promise((resolve) => this.pending.push(() => resolve(answer())));
  }
  answerAll(): void {
    for (const answer of this.pending.splice(0)) answer();
  }
}

test('random histories on a shared window with a margin of 1: refills answered late, changes meanwhile, the tab always right', async () => {
  let refills = 0;
  for (let seed = 1; seed <= 120; seed++) {
    const random = seeded(seed);
    const data = new Map<string, QueryRow>();
    for (let i = 0; i < 12; i++) data.set(`r${i}`, row(`r${i}`, { n: Math.floor(random() * 6) }, `v${seed}-${i}`));
    const q = query({ orderBy: { n: random() < 0.5 ? 'asc' : 'desc' }, offset: Math.floor(random() * 2), limit: 1 + Math.floor(random() * 3) });
    const bound = q.offset + q.limit! + 1;
    const reads = new PendingReads();
    let window: QueryRow[] = [];
    const shared = new SharedQueries(1);
    const prefix = () => evaluateRows({ ...q, offset: 0, limit: bound }, data.values());
    // The read sees the data as it was asked for, or with the commits that came before its answer.
    const loadMore = () => {
      const asked = prefix();
      return reads.read(() => (random() < 0.5 ? asked : prefix()));
    };
    const watching = await shared.windows.watch('todos', q, { load: () => [...data.values()], loadMore, listener: (delta) => (window = applyDelta(window, delta)) });
    window = watching.live.window();
    for (let step = 0; step < 40; step++) {
      const id = `r${Math.floor(random() * 12)}`;
      const next = random() < 0.45 ? undefined : row(id, { n: Math.floor(random() * 6) }, `v${seed}-${step}-${id}`);
      if (next) data.set(id, next);
      else data.delete(id);
      shared.apply('todos', [{ id, row: next }]);
      if (reads.waiting > 0 && random() < 0.5) {
        refills++;
        reads.answerAll();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (reads.waiting > 0) continue;
      const message = `seed ${seed}, step ${step}, ${JSON.stringify(q)}`;
      assert.deepEqual(window.map((r) => r.id), evaluateRows(q, data.values()).map((r) => r.id), message);
    }
  }
  assert.ok(refills > 50, `refills answered (${refills})`);
});
