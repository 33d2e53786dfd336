/** The diagnostics' live record counts: read once, kept while nothing changes, re-read at a bounded cost. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LiveRecordCounts } from '../worker/runtime/live-counts';
import type { RecordRow } from '../worker/storage/storage';

const row = (id: string, deleted = false): RecordRow => ({ repository: 'todos', id, deleted, createdAt: '2025-01-01T00:00:00.000Z', eventId: `e-${id}`, ...(deleted ? {} : { data: { id } }) });

/** A repository whose reads are counted and take `readMs` of the fake clock. */
function fixture(rows: RecordRow[], readMs = 2) {
  const clock = { now: 0 };
  let reads = 0;
  let release: (() => void) | undefined;
  const held = { value: false };
  const counts = new LiveRecordCounts(async () => {
    reads++;
    if (held.value) await new Promise<void>((resolve) => (release = resolve));
    clock.now += readMs;
    return [...rows];
  }, () => clock.now);
  return { counts, clock, reads: () => reads, held, release: () => release?.() };
}

test('a count leaves out tombstones and is kept, without reading again, while the repository does not change', async () => {
  const f = fixture([row('a'), row('b', true), row('c')]);
  assert.equal(await f.counts.count('todos'), 2);
  f.clock.now += 60_000;
  assert.equal(await f.counts.count('todos'), 2);
  assert.equal(f.reads(), 1);
  f.counts.changed(['notes']);
  assert.equal(await f.counts.count('todos'), 2, 'another repository changed');
  assert.equal(f.reads(), 1);
});

test('after a change it counts again, but at most once per ten times what the last count took', async () => {
  const rows = [row('a')];
  const f = fixture(rows, 100);
  assert.equal(await f.counts.count('todos'), 1);
  rows.push(row('b'));
  f.counts.changed(['todos']);
  f.clock.now += 500; // half of 10 × 100 ms since the count began: the last count stands
  assert.equal(await f.counts.count('todos'), 1);
  assert.equal(f.reads(), 1);
  f.clock.now += 500;
  assert.equal(await f.counts.count('todos'), 2);
  assert.equal(f.reads(), 2);
});

test('callers during a count share it, and a change made meanwhile leaves that count not current', async () => {
  const rows = [row('a')];
  const f = fixture(rows, 0);
  f.held.value = true;
  const first = f.counts.count('todos');
  const second = f.counts.count('todos');
  f.counts.changed(['todos']); // committed while the rows were being read
  f.held.value = false;
  f.release();
  assert.deepEqual(await Promise.all([first, second]), [1, 1]);
  assert.equal(f.reads(), 1, 'one read for both callers');
  rows.push(row('b'));
  assert.equal(await f.counts.count('todos'), 2, 'the change during the count is counted next time');
  assert.equal(f.reads(), 2);
});

test('a replaced storage is counted afresh, and a count begun before the replacement is not kept', async () => {
  const rows = [row('a'), row('b')];
  const f = fixture(rows, 0);
  f.held.value = true;
  const before = f.counts.count('todos');
  f.counts.reset();
  f.held.value = false;
  f.release();
  await before;
  rows.splice(1);
  assert.equal(await f.counts.count('todos'), 1);
  assert.equal(f.reads(), 2);
});
