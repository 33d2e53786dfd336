/** Status publishing: a burst of counter changes wakes the tabs once, a state change at once. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SyncStatus } from '../protocol/tab-api';
import { StatusStore } from '../worker/runtime/status';
import { ManualClock } from './helpers/manual-clock';

test('a burst of pending counts is published about once per interval, ending with the last count', async () => {
  const published: SyncStatus[] = [];
  const clock = new ManualClock();
  const status = new StatusStore((s) => published.push(s), clock);
  // One update per millisecond, as a burst of writes.
  for (let pending = 1; pending <= 100; pending++) {
    status.update({ pending });
    await clock.advance(1);
  }
  await clock.advance(80);
  assert.ok(published.length <= 6, `100 updates in about 100 ms were published ${published.length} times`);
  assert.equal(published.at(-1)?.pending, 100);
  status.close();
});

test('a change of state is published at once, carrying the counters along', async () => {
  const published: SyncStatus[] = [];
  const clock = new ManualClock();
  const status = new StatusStore((s) => published.push(s), clock);
  status.update({ pending: 3 });
  status.update({ connected: true });
  await clock.advance(5);
  assert.deepEqual(published.map((s) => [s.connected, s.pending]), [[true, 3]]);
  await clock.advance(80);
  assert.equal(published.length, 1, 'the counter change was not published twice');
  status.close();
});
