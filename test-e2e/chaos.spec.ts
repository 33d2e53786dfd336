import { expect, test } from '@playwright/test';
import { randomSeed } from './chaos/random';
import { passed, runChaos, summary } from './chaos/run';

/** The short chaos run of `npm test`; `npm run chaos -- --seconds 120` runs the same code longer. */
const SECONDS = 20;

test('chaos: cuts, stalls, tab churn and two server kills lose nothing, store nothing twice, and converge', async ({ browser }) => {
  test.setTimeout(150_000);
  const seed = Number(process.env['CHAOS_SEED'] ?? randomSeed());
  const lines: string[] = [];
  const report = await runChaos(browser, { seed, seconds: SECONDS, log: (line) => lines.push(line) });
  const result = `${summary(report)} (seed ${seed}; replay with CHAOS_SEED=${seed})`;
  console.log(result);
  expect(report.problems, `${result}\n${lines.join('\n')}`).toEqual([]);
  expect(report.faults.kills).toBe(2);
  expect(report.writes).toBeGreaterThan(0);
  expect({ lost: report.lost, duplicates: report.duplicates, converged: report.converged }).toEqual({ lost: 0, duplicates: 0, converged: true });
  expect(passed(report)).toBe(true);
});
