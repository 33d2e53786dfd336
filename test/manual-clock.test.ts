import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from './helpers/manual-clock';

test('the manual clock fires timers in time order, repeats intervals, and skips cleared ones', async () => {
  const clock = new ManualClock(1000);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
  clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
  const cleared = clock.setTimeout(() => fired.push('never'), 15);
  const every = clock.setInterval(() => fired.push(`i@${clock.now()}`), 8);
  clock.clear(cleared);
  await clock.advance(20);
  assert.deepEqual(fired, ['i@1008', 'a@1010', 'i@1016', 'b@1020']);
  assert.equal(clock.now(), 1020);
  clock.clear(every);
  assert.equal(clock.pending, 0);
});

test('a timer set while firing falls in the same step when it is due within it', async () => {
  const clock = new ManualClock(0);
  const fired: number[] = [];
  clock.setTimeout(() => {
    fired.push(clock.now());
    clock.setTimeout(() => fired.push(clock.now()), 5);
  }, 5);
  await clock.advance(9);
  assert.deepEqual(fired, [5]);
  await clock.advance(1);
  assert.deepEqual(fired, [5, 10]);
});

test('promises a timer starts settle before the next timer fires', async () => {
  const clock = new ManualClock(0);
  const order: string[] = [];
  clock.setTimeout(() => void Promise.resolve().then(() => order.push('first settled')), 1);
  clock.setTimeout(() => order.push('second fired'), 2);
  await clock.advance(2);
  assert.deepEqual(order, ['first settled', 'second fired']);
});
