/**
 * Hostile input against a real server process: 10,000 generated frames (valid, mutated, garbage,
 * binary, oversize, deeply nested, prototype keys, SQL-ish and ill-formed strings) from
 * authenticated and unauthenticated connections at once. Replay a failure with FUZZ_SEED=<seed>;
 * run far longer with `npm run fuzz -- --frames 200000`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCampaign, summarize } from './fuzz/campaign';
import { fuzzSeed } from './fuzz/random';

const FRAMES = 10_000;
/**
 * Growth allowed between the warmed-up server and the server after the run, both measured after a
 * full GC: RSS 64 MB; live heap 16 MB, which a leak of 2 KB per frame would already exceed.
 */
const RSS_GROWTH_LIMIT_BYTES = 64 * 1024 * 1024;
const HEAP_GROWTH_LIMIT_BYTES = 16 * 1024 * 1024;

describe('sync server under hostile input', () => {
  it(`answers ${FRAMES.toLocaleString('en')} generated frames, stores only valid events from authenticated connections, and stays healthy`, async (t) => {
    const seed = fuzzSeed();
    t.diagnostic(`fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`);
    const result = await runCampaign({
      seed,
      frames: FRAMES,
      // Every frame is sent, however slow the machine: the count is the test, not the time.
      maxSendMs: Number.POSITIVE_INFINITY,
      authenticatedConnections: 4,
      unauthenticatedConnections: 2,
      maxMessageBytes: 256 * 1024,
      rssGrowthLimitBytes: RSS_GROWTH_LIMIT_BYTES,
      heapGrowthLimitBytes: HEAP_GROWTH_LIMIT_BYTES,
    });
    for (const line of summarize(result)) t.diagnostic(line);

    assert.deepEqual(result.violations, [], `seed ${seed}: ${result.violationCount} violations`);
    assert.equal(result.stats.framesSent, FRAMES, `seed ${seed}: only ${result.stats.framesSent} frames were sent`);
    // The run reached every path it is meant to: stored events, refusals, and each kind of close.
    const { stats } = result;
    assert.ok(result.storedEvents > 0 && stats.eventsAcked > 0, 'valid events were acked and stored');
    for (const code of ['invalid_message', 'unauthenticated', 'auth_failed', 'too_large']) {
      assert.ok(stats.errorsByCode.get(code) > 0, `some frames were answered ${code}`);
    }
    for (const code of ['1007', '1008', '1009']) assert.ok(stats.closesByCode.get(code) > 0, `some sockets were closed with ${code}`);
    assert.ok(stats.broadcastsReceived > 0, 'fan-out ran');
  });
});
