/**
 * `npm run chaos [-- --seconds 120] [--seed N]`: the chaos convergence run (test-e2e/chaos/run.ts)
 * on its own, for as long as asked. Builds first (unless --no-build); prints the seed, so
 * `--seed N` (or CHAOS_SEED=N) replays the same decisions. Exits non-zero unless nothing was
 * lost, nothing stored twice and every replica converged.
 */
import { execFileSync } from 'node:child_process';
import { chromium } from '@playwright/test';
import config from '../playwright.config';
import { randomSeed } from '../test-e2e/chaos/random';
import { passed, runChaos, summary } from '../test-e2e/chaos/run';

const DEFAULT_SECONDS = 20;

function flag(name: string): string | undefined {
  const args = process.argv.slice(2);
  const index = args.findIndex((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`));
  if (index < 0) return undefined;
  const arg = args[index]!;
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[index + 1];
}

function integer(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

const seconds = integer('--seconds', flag('seconds'), DEFAULT_SECONDS);
const seed = integer('--seed', flag('seed') ?? process.env['CHAOS_SEED'], randomSeed());
if (!process.argv.includes('--no-build')) execFileSync(process.execPath, ['esbuild.mjs', '--quiet'], { stdio: 'inherit' });

console.log(`seed ${seed} (replay: npm run chaos -- --seed ${seed} --seconds ${seconds})`);
const browser = await chromium.launch({ ...config.use?.launchOptions, headless: true });
const started = Date.now();
try {
  const report = await runChaos(browser, { seed, seconds, log: (line) => console.log(line) });
  const { cuts, stalls, delays, reopens, kills } = report.faults;
  console.log(`faults: ${cuts} cuts, ${stalls} stalls, ${delays} delay changes, ${reopens} tab reopenings, ${kills} server kills`);
  console.log(`server log: ${report.serverEvents} events, ${report.records} live records; ${report.rejected} writes rejected, ${report.unknown} unanswered (tab closed mid-write)`);
  for (const problem of report.problems) console.log(`problem: ${problem}`);
  console.log(`${summary(report)} (${Math.round((Date.now() - started) / 1000)} s)`);
  process.exitCode = passed(report) ? 0 : 1;
} finally {
  await browser.close();
}
