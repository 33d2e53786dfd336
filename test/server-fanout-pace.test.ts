/**
 * The paced fan-out's stretch: it doubles while the event loop is saturated, up to 4×, and
 * halves back once the loop has room, holding between the two thresholds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FanoutPace, MAX_STRETCH } from '../server/fanout-pace';

/** A pace fed the given utilizations, one per sample; the stretch after each. */
function stretches(utilizations: readonly number[]): number[] {
  let next = 0;
  const pace = new FanoutPace(() => utilizations[next++]!);
  return utilizations.map(() => {
    pace.sample();
    return pace.stretch;
  });
}

describe('fan-out pace', () => {
  it('starts unstretched', () => {
    assert.equal(new FanoutPace(() => 1).stretch, 1);
  });

  it('doubles while the loop is saturated, never past MAX_STRETCH', () => {
    assert.deepEqual(stretches([0.9, 0.95, 1, 1]), [2, 4, MAX_STRETCH, MAX_STRETCH]);
    assert.equal(MAX_STRETCH, 4);
  });

  it('halves back once the loop has room, never below 1', () => {
    assert.deepEqual(stretches([1, 1, 0.3, 0.2, 0.1]), [2, 4, 2, 1, 1]);
  });

  it('holds between the thresholds: a loop that is busy but keeps up keeps its interval', () => {
    assert.deepEqual(stretches([0.9, 0.6, 0.7, 0.6]), [2, 2, 2, 2]);
    assert.deepEqual(stretches([0.6, 0.7]), [1, 1]);
  });
});
