/**
 * The storage contract (test/worker-storage-contract.ts, run in Node on fake-indexeddb and memory)
 * in the browser's real IndexedDB: the page at /storage-contract/ of the test build runs every
 * case on the real IdbStorage (test-e2e/storage-contract/runner.ts), and each case must pass.
 */
import { readFileSync } from 'node:fs';
import type { CaseResult } from './storage-contract/runner';
import { expect, test } from './fixtures';

const KIND = 'IndexedDB in the browser';
/** The cases the contract declares, by their titles in its source: the page must run them all. */
const declared = [...readFileSync('test/worker-storage-contract.ts', 'utf8').matchAll(/test\(`\$\{kind\}: ([^`]*)`/g)].map((match) => `${KIND}: ${match[1]}`);

test('the storage contract passes in the browser, case by case, on the real IndexedDB', async ({ page, server }) => {
  expect(declared.length).toBeGreaterThanOrEqual(7);
  await page.goto(`${server.url}/storage-contract/index.html`);
  await page.waitForFunction(() => window.storageContract !== undefined);
  const results: CaseResult[] = await page.evaluate(() => window.storageContract!);
  expect(results).toEqual(declared.map((name) => ({ name, ok: true })));
});
