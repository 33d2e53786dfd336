/**
 * The scenarios beside a peer library (`--only query,batch,demo`), run by bench/run.ts after its
 * own on the same server: queries and batches beside Dexie (queries.ts), and the demo page itself
 * (demo.ts). They get a browser of their own, launched with a DevTools port, for the shared
 * worker's heap; the bench's other browser is idle by then.
 */
import { chromium } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { demoScenarios } from './demo';
import { buildPeerPages, printPeerTable, type PeerRow } from './peer-harness';
import { batchScenario, queryScenario } from './queries';

/** The namespaces these scenarios write, as AUTH_TOKENS entries (token=namespace). */
export const PEER_TOKENS = 'query=query,batch=batch,demo=demo,demobig=demobig';
const SCENARIOS = ['query', 'batch', 'demo'] as const;
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export interface PeerFigures {
  query: PeerRow[];
  batch: PeerRow[];
  demo: PeerRow[];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function runPeerScenarios(options: { dir: string; serverUrl: string; quick: boolean; only: Set<string> | undefined }): Promise<PeerFigures> {
  const figures: PeerFigures = { query: [], batch: [], demo: [] };
  const runs = (name: (typeof SCENARIOS)[number]) => !options.only || options.only.has(name);
  if (!SCENARIOS.some(runs)) return figures;
  await buildPeerPages(options.dir);
  const debuggingPort = await freePort();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', `--remote-debugging-port=${debuggingPort}`] });
  const env = { browser, serverUrl: options.serverUrl, debuggingPort };
  const scenarios: Record<(typeof SCENARIOS)[number], () => Promise<PeerRow[]>> = {
    query: () => queryScenario(env, options.quick ? 20_000 : 100_000, options.quick ? 100 : 500),
    batch: () => batchScenario(env, options.quick ? 2_000 : 10_000),
    demo: () => demoScenarios({ ...env, dir: options.dir }, { records: options.quick ? 20_000 : 100_000, writes: options.quick ? 30 : 100 }),
  };
  try {
    for (const name of SCENARIOS.filter(runs)) figures[name] = await orFailure(name, scenarios[name]);
  } finally {
    await browser.close();
  }
  return figures;
}

/** A scenario's rows, or one row saying why it failed: the figures the run already has are
 *  still printed, and the bench exits non-zero. */
async function orFailure(name: string, scenario: () => Promise<PeerRow[]>): Promise<PeerRow[]> {
  try {
    return await scenario();
  } catch (error) {
    process.exitCode = 1;
    console.error(`bench: the ${name} scenario failed:`, error);
    return [[`${name}: FAILED (${error instanceof Error ? error.message : String(error)})`, '', '', '']];
  }
}

export function printPeerFigures(figures: PeerFigures): void {
  const dexie = `Dexie ${(JSON.parse(readFileSync('node_modules/dexie/package.json', 'utf8')) as { version: string }).version}`;
  printPeerTable('queries and batches', dexie, [...figures.query, ...figures.batch]);
  printPeerTable('the demo page (public/)', '', figures.demo);
}
