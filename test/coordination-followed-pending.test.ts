/** A follower's pending count beside its leader's: the leader's count, plus the follower's own
 *  writes no leader's count is known to hold. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FollowedPending } from '../worker/coordination/followed-pending';

test('own writes count until the leader says it counted them, by number or by leading since after them', () => {
  const pending = new FollowedPending('me');
  const first = pending.wrote(1, 1000);
  const second = pending.wrote(2, 2000);
  assert.deepEqual([first, second], [1, 2]);
  // The leader's status from before it heard of them.
  assert.equal(pending.follow(5, {}, undefined), 8);
  // It counted the first (and another runtime's writes, which are not ours).
  assert.equal(pending.follow(6, { me: first, other: 9 }, undefined), 8);
  // A new leader that never heard of the second, but began to lead after it was committed.
  assert.equal(pending.follow(2, {}, 2001), 2);
  // Counted writes stay counted, whatever the next status says.
  assert.equal(pending.follow(0, {}, undefined), 0);
});

test('a write committed as a leader began to lead is not taken for counted', () => {
  const pending = new FollowedPending('me');
  pending.wrote(1, 3000);
  assert.equal(pending.follow(0, {}, 3000), 1);
});

test('as leader it says, per runtime, the last write a count of its held', () => {
  const pending = new FollowedPending('leader');
  pending.countedWrite('a', 3);
  pending.countedWrite('a', 2); // a count that ended late, for an older write
  pending.countedWrite('b', 1);
  assert.deepEqual(pending.counted(), { a: 3, b: 1 });
});
