/** The PrincipalLimiter: one object for a principal's connection count and its byte budget. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PrincipalLimiter } from '../server/principal-limiter';

// 1 byte/s: no refill to speak of while the test runs.
const slowRate = { perSecond: 1, burst: 1000 };

describe('PrincipalLimiter', () => {
  it('admits a principal up to its connections, refuses the one too many, and admits again once a slot is released', () => {
    const limiter = new PrincipalLimiter(2, slowRate);
    const first = limiter.admit('alice');
    const second = limiter.admit('alice');
    assert.ok(first && second);
    assert.equal(limiter.admit('alice'), undefined, 'alice holds 2 of 2');
    assert.ok(limiter.admit('bob'), 'another principal has slots of its own');
    first.release();
    first.release();
    assert.equal(limiter.connectionsOf('alice'), 1, 'a second release of one slot gives nothing back twice');
    assert.ok(limiter.admit('alice'));
    assert.equal(limiter.admit('alice'), undefined);
  });

  it("shares one byte budget among a principal's slots, and keeps it spent across a reconnect", () => {
    const limiter = new PrincipalLimiter(5, slowRate);
    const first = limiter.admit('alice')!;
    const second = limiter.admit('alice')!;
    assert.equal(first.bytes, second.bytes);
    assert.equal(first.bytes.take(900), true);
    first.release();
    second.release();
    assert.equal(limiter.connectionsOf('alice'), 0);
    const again = limiter.admit('alice')!;
    assert.equal(again.bytes.take(200), false, 'reconnecting hands out no fresh burst: 100 bytes are left');
    assert.equal(again.bytes.take(100), true);
    again.release();
  });

  it('forgets principals that left with a full budget: many coming and going grow no memory', () => {
    const limiter = new PrincipalLimiter(5, slowRate);
    for (let i = 0; i < 100; i++) limiter.admit(`user${i}`)!.release();
    assert.equal(limiter.size, 0);
    limiter.admit('spender')!.bytes.take(10);
    assert.equal(limiter.size, 1);
  });
});
