/** Status publishing: a burst of counter changes wakes the tabs once, a state change at once. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SyncStatus } from '../protocol/tab-api';
import { StatusStore } from '../worker/runtime/status';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a burst of pending counts is published about once per interval, ending with the last count', async () => {
  const published: SyncStatus[] = [];
  const status = new StatusStore((s) => published.push(s));
  for (let pending = 1; pending <= 100; pending++) {
    status.update({ pending });
    await sleep(0);
  }
  await sleep(80);
  assert.ok(published.length <= 6, `100 updates in about 100 ms were published ${published.length} times`);
  assert.equal(published.at(-1)?.pending, 100);
  status.close();
});

test('a change of state is published at once, carrying the counters along', async () => {
  const published: SyncStatus[] = [];
  const status = new StatusStore((s) => published.push(s));
  status.update({ pending: 3 });
  status.update({ connected: true });
  await sleep(5);
  assert.deepEqual(published.map((s) => [s.connected, s.pending]), [[true, 3]]);
  await sleep(80);
  assert.equal(published.length, 1, 'the counter change was not published twice');
  status.close();
});
