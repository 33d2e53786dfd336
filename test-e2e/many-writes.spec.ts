/** upsertMany, deleteMany and patch through the facade, in real browsers: another tab and another
 *  device see a batch as one change; refusals cross to the tab as SyncErrors with their codes. */
import type { Page } from '@playwright/test';
import { expect, openApp, test, waitConnected, waitSynced, type Todo } from './fixtures';

declare global {
  interface Window {
    /** The record count of each call of a watcher a test installed. */
    lengths?: number[];
  }
}

const todos = (count: number): Todo[] => Array.from({ length: count }, (_, i) => ({ id: `t${String(i).padStart(3, '0')}`, title: `todo ${i}`, done: false }));

/** Installs a watcher recording the record count of each call; resolves once it had its first. */
async function recordLengths(page: Page): Promise<void> {
  await page.evaluate(() => {
    const lengths: number[] = [];
    window.lengths = lengths;
    window.todos.watch((records) => lengths.push(records.length));
  });
  await expect.poll(() => page.evaluate(() => window.lengths?.length)).toBe(1);
}

const lengths = (page: Page) => page.evaluate(() => window.lengths);

test('a tab\'s upsertMany shows in another tab, and on another device, as one change', async ({ browser, context, server }) => {
  const writer = await openApp(context, server);
  const reader = await openApp(context, server);
  const elsewhere = await browser.newContext();
  const device = await openApp(elsewhere, server);
  for (const page of [writer, reader, device]) await waitConnected(page);
  await recordLengths(reader);
  await recordLengths(device);

  await writer.evaluate((records) => window.todos.upsertMany(records), todos(100));
  await expect.poll(() => lengths(reader)).toEqual([0, 100]);
  await waitSynced(writer);
  await expect.poll(() => lengths(device)).toEqual([0, 100]);
  expect(await device.evaluate(() => window.todos.getAll())).toEqual(todos(100));

  await writer.evaluate((ids) => window.todos.deleteMany(ids), todos(40).map((todo) => todo.id));
  await expect.poll(() => lengths(reader)).toEqual([0, 100, 60]);
  await expect.poll(() => lengths(device)).toEqual([0, 100, 60]);
  await elsewhere.close();
});

test('refusals reach the tab as SyncErrors: the invalid record named, nothing stored; patch merges or is not_found', async ({ context, server }) => {
  const page = await openApp(context, server);
  const outcome = await page.evaluate(async (records) => {
    const codeOf = (call: () => Promise<void>) =>
      call().then(
        () => 'resolved',
        (error: Error & { code?: string }) => `${error instanceof Error ? 'Error' : 'not an Error'} ${error.code}: ${error.message}`,
      );
    const invalid = records.map((record, i) => (i === 57 ? { ...record, done: 'no' as unknown as boolean } : record));
    const refused = await codeOf(() => window.todos.upsertMany(invalid));
    const stored = (await window.todos.getAll()).length;
    await window.todos.upsert({ id: 'a', title: 'milk', done: false });
    await window.todos.patch('a', { done: true });
    return {
      refused,
      stored,
      patched: await window.todos.get('a'),
      missing: await codeOf(() => window.todos.patch('nope', { done: true })),
      tooLong: await codeOf(() => window.todos.patch('a', { title: 'x'.repeat(501) })),
    };
  }, todos(100));
  expect(outcome.refused).toMatch(/^Error invalid_record: records\[57\] \(id "t057"\).*done/);
  expect(outcome.stored).toBe(0);
  expect(outcome.patched).toEqual({ id: 'a', title: 'milk', done: true });
  expect(outcome.missing).toMatch(/^Error not_found: /);
  expect(outcome.tooLong).toMatch(/^Error invalid_record: /);
});
