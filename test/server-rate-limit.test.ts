/** The token buckets behind the message and byte rate limits. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SharedBuckets, takeFromAll, TokenBucket } from '../server/rate-limit';

describe('rate limits', () => {
  it('takes a frame\'s bytes from every bucket or from none', () => {
    // 1 token/s: no refill to speak of while the test runs.
    const connection = new TokenBucket(1, 1000);
    const principal = new TokenBucket(1, 600);
    assert.equal(takeFromAll([connection, principal], 500), true);
    assert.equal(takeFromAll([connection, principal], 500), false, 'the principal has 100 left');
    assert.equal(connection.take(500), true, 'the refused frame took nothing from the connection');
    assert.equal(takeFromAll([undefined, principal], 100), true, 'an unauthenticated connection has no principal bucket');
  });

  it('shares a bucket among a key\'s holders, keeps it while it refills, and forgets it once full and idle', () => {
    const buckets = new SharedBuckets(1, 1000);
    const first = buckets.acquire('alice');
    assert.equal(buckets.acquire('alice'), first, 'one bucket for all of alice\'s connections');
    first.take(900);
    buckets.release('alice');
    buckets.release('alice');
    assert.equal(buckets.size, 1, 'an idle bucket that has not refilled is kept: reconnecting gives no fresh burst');
    assert.equal(buckets.acquire('alice'), first);
    buckets.release('alice');

    for (let i = 0; i < 100; i++) {
      buckets.acquire(`user${i}`);
      buckets.release(`user${i}`);
    }
    assert.equal(buckets.size, 1, 'full idle buckets are dropped: many principals coming and going grow no memory');
  });
});
