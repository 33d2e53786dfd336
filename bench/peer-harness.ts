/**
 * What the query, batch and demo scenarios share: their pages' build, calls into a page's global,
 * heap sizes over the DevTools protocol, and the printed table (tabsync, the peer, the floor).
 */
import type { BrowserContext, Page } from '@playwright/test';
import * as esbuild from 'esbuild';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { DevToolsSession, sharedWorkerTargets } from './worker-profile';

export const progress = (line: string) => process.stdout.write(`  … ${line}\n`);

/** Builds the peers page, its sync worker and the demo probe into the served bench/ folder. */
export async function buildPeerPages(dir: string): Promise<void> {
  const common = { bundle: true, minify: true, target: 'es2022', logLevel: 'warning' } as const;
  const out = join(dir, 'dist/public/bench');
  await esbuild.build({ ...common, format: 'esm', entryPoints: { peers: 'bench/pages/peers.ts' }, outdir: out });
  await esbuild.build({ ...common, format: 'iife', entryPoints: { 'query-worker': 'bench/pages/query-worker.ts', 'demo-probe': 'bench/pages/demo-probe.ts' }, outdir: out });
  copyFileSync('bench/pages/peers.html', join(out, 'peers.html'));
}

/** Calls `globalThis[scope][name](...params)` in the page (one helper for every bench page). */
export { pageCaller as callIn } from './page-call';

/** `promise`, or a clear failure after `seconds`: a wait that never ends names itself instead of
 *  running into the bench's hard limit (once, unexplained, a demo profile's count never arrived). */
export async function within<T>(seconds: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: nothing after ${seconds} s`)), seconds * 1000); });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

const MB = 1024 * 1024;

/** The page's used JS heap after a garbage collection, in MB. */
export async function tabHeapMb(context: BrowserContext, page: Page): Promise<number> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  await cdp.detach();
  return usedSize / MB;
}

/** The used JS heap of the shared worker whose script URL contains `script`, after a collection, in MB. */
export async function sharedWorkerHeapMb(debuggingPort: number, script: string): Promise<number> {
  const target = (await sharedWorkerTargets(debuggingPort)).find((each) => each.url.includes(script));
  if (!target) return Number.NaN;
  const session = await DevToolsSession.open(target.webSocketDebuggerUrl);
  try {
    await session.send('HeapProfiler.collectGarbage');
    const { usedSize } = (await session.send('Runtime.getHeapUsage')) as { usedSize: number };
    return usedSize / MB;
  } finally {
    session.close();
  }
}

/** One printed row: the scenario, then tabsync's figure, the peer's and the floor's ('' where none). */
export type PeerRow = [scenario: string, product: string, peer: string, floor: string];

export const ms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(x < 10 ? 2 : 0)} ms` : '–');
export const mb = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)} MB` : '–');

export function printPeerTable(title: string, peerName: string, rows: readonly PeerRow[]): void {
  if (rows.length === 0) return;
  const all: string[][] = [[title, 'tabsync', peerName, 'floor'], ...rows];
  const widths = all[0]!.map((_, c) => Math.max(...all.map((row) => row[c]!.length)));
  console.log('');
  for (const [i, row] of all.entries()) {
    console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
    if (i === 0) console.log(widths.map((w) => '─'.repeat(w)).join('  '));
  }
}
