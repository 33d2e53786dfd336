/**
 * The long fuzz run: `npm run fuzz -- --frames 200000 --seed 42 --max-seconds 1800`.
 * Same generator and checks as test/server-fuzz.test.ts, with progress lines and a summary;
 * exits 1 on any violation.
 */
import { parseArgs } from 'node:util';
import { mb, runCampaign, summarize } from '../test/fuzz/campaign';
import { fuzzSeed } from '../test/fuzz/random';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '200000' },
    seed: { type: 'string' },
    'max-seconds': { type: 'string', default: '1800' },
    connections: { type: 'string', default: '6' },
    'max-message-bytes': { type: 'string', default: String(1024 * 1024) },
  },
});

function positive(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got "${raw}"`);
  return value;
}

const frames = positive('frames', values.frames);
const connections = positive('connections', values.connections);
const seed = fuzzSeed(values.seed === undefined ? process.env : { FUZZ_SEED: values.seed });
console.log(`fuzzing with seed ${seed} (replay with --seed ${seed} or FUZZ_SEED=${seed}): ${frames} frames, ${connections} connections`);

const result = await runCampaign({
  seed,
  frames,
  maxSendMs: positive('max-seconds', values['max-seconds']) * 1000,
  // A third of the connections never hold a token.
  authenticatedConnections: connections - Math.floor(connections / 3),
  unauthenticatedConnections: Math.floor(connections / 3),
  maxMessageBytes: positive('max-message-bytes', values['max-message-bytes']),
  // Measured after a full GC in the server, warmed up and at the end.
  rssGrowthLimitBytes: 64 * 1024 * 1024,
  heapGrowthLimitBytes: 16 * 1024 * 1024,
  onProgress: ({ framesSent, elapsedMs, violations, rssBytes }) => {
    const rate = Math.round(framesSent / (elapsedMs / 1000));
    console.log(`${framesSent}/${frames} frames · ${rate}/s · ${violations} violations · server RSS ${mb(rssBytes)}`);
  },
});

console.log('');
console.log(`seed ${seed} (replay with --seed ${seed})`);
for (const line of summarize(result)) console.log(line);
if (result.stats.framesSent < frames) console.log(`note: stopped at the time bound after ${result.stats.framesSent} of ${frames} frames`);
for (const violation of result.violations) console.log(`VIOLATION ${violation}`);
if (result.violationCount > result.violations.length) console.log(`… and ${result.violationCount - result.violations.length} more`);
process.exitCode = result.violationCount > 0 ? 1 : 0;
