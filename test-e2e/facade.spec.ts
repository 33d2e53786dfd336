import { expect, openApp, test, upsert, waitConnected } from './fixtures';

declare global {
  interface Window {
    transitions?: boolean[];
    /** Record counts a test watcher received, and its unsubscribe. */
    counts?: number[];
    unwatch?: () => void;
  }
}

test('connection changes reach every tab, on transitions only', async ({ context, server }) => {
  test.setTimeout(90_000); // waits for the worker's reconnect back-off
  const tabs = [await openApp(context, server), await openApp(context, server)];
  for (const tab of tabs) {
    await waitConnected(tab);
    await tab.evaluate(() => {
      window.transitions = [];
      window.lf.onConnectionChange((connected) => window.transitions?.push(connected));
    });
  }
  await server.stop();
  for (const tab of tabs) await expect.poll(() => tab.evaluate(() => window.transitions)).toEqual([false]);
  await server.restart();
  for (const tab of tabs) await expect.poll(() => tab.evaluate(() => window.transitions), { timeout: 45_000 }).toEqual([false, true]);
});

test('watchers of one repository share one subscription and stop when unsubscribed', async ({ page, server }) => {
  await page.goto(server.url);
  await page.waitForFunction(() => window.todos !== undefined);
  const first = { id: 'a', title: 'First', done: false };
  await upsert(page, first);
  await expect(page.locator('.todo')).toHaveCount(1);
  // A watcher that stays holds the repository's subscription in this tab (the demo itself
  // watches queries, not the repository); it has the record once this resolves.
  await page.evaluate(
    () => new Promise<void>((resolve) => void Object.assign(window, { keep: window.todos.watch((records) => records.length === 1 && resolve()) })),
  );

  // A later watcher of the same repository gets that last result at once, synchronously.
  const atOnce = await page.evaluate(() => {
    let received: readonly unknown[] | undefined;
    window.todos.watch((records) => (received = records))();
    return received;
  });
  expect(atOnce).toEqual([first]);

  await page.evaluate(() => {
    const counts: number[] = [];
    window.counts = counts;
    window.unwatch = window.todos.watch((records) => counts.push(records.length));
  });
  await upsert(page, { id: 'b', title: 'Second', done: false });
  const counts = () => page.evaluate(() => window.counts ?? []);
  await expect.poll(counts).toContain(2);

  await page.evaluate(() => window.unwatch?.());
  const before = (await counts()).length;
  await upsert(page, { id: 'c', title: 'Third', done: false });
  // The demo's watcher still runs: once it shows the third todo, ours would have been called too.
  await expect(page.locator('.todo')).toHaveCount(3);
  expect((await counts()).length).toBe(before);
});

test('a closed client rejects every call with code closed', async ({ page, server }) => {
  await page.goto(server.url);
  await page.waitForFunction(() => window.todos !== undefined);
  const failure = await page.evaluate(async () => {
    await window.lf.close();
    try {
      await window.todos.get('a');
      return undefined;
    } catch (error) {
      return { isError: error instanceof Error, code: (error as { code?: string }).code };
    }
  });
  expect(failure).toEqual({ isError: true, code: 'closed' });
});
