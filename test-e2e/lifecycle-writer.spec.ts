/**
 * The database's only writer in a real browser: two deployments' SharedWorkers (two script URLs)
 * on one database write at the same time. The one holding the connection commits every write
 * (knowing its records' versions), the other writes through it; once the first goes, the second
 * takes the writer lock. Nothing is lost, nothing stored twice, both show the same records.
 */
import type { Page } from '@playwright/test';
import { allTodos, waitConnected, waitSynced } from './fixtures';
import { diagnostics, expect, openDemo, storedTodos, test, workerUrl } from './lifecycle';

/** `count` upserts made at once in the page, ids `${prefix}-i`, and one of the shared record. */
function writeMany(page: Page, prefix: string, count: number): Promise<void> {
  return page.evaluate(
    async ({ prefix, count }) => {
      const writes = Array.from({ length: count }, (_, i) => window.todos.upsert({ id: `${prefix}-${i}`, title: prefix, done: false }));
      await Promise.all([...writes, window.todos.upsert({ id: 'shared', title: `last written by ${prefix}`, done: false })]);
    },
    { prefix, count },
  );
}

test('two deployments writing at once: one writer commits both, nothing lost or stored twice, also after it goes', async ({ browser, server }) => {
  const context = await browser.newContext();
  try {
    const older = await openDemo(context, server.url);
    await waitConnected(older);
    const newer = await openDemo(context, server.url, { worker: workerUrl({ reconnectDelay: 100 }) });
    await waitConnected(newer);

    await Promise.all([writeMany(older, 'older', 25), writeMany(newer, 'newer', 25)]);
    await waitSynced(newer);
    const [olderKnows, newerKnows] = [(await diagnostics(older)).storage.knownVersions, (await diagnostics(newer)).storage.knownVersions];
    expect(olderKnows?.entries, 'the writer knows every record it committed, both deployments\' ones').toBe(51);
    expect(newerKnows, 'the other deployment keeps nothing: it writes through the writer').toBeUndefined();
    await expect.poll(async () => (await storedTodos(server)).logged).toBe(52);
    expect(await allTodos(newer)).toEqual(await allTodos(older));

    // The older deployment's tab closes, and its worker with it: the newer one becomes the writer.
    await older.close();
    await writeMany(newer, 'after', 10);
    await waitSynced(newer);
    await expect.poll(async () => (await diagnostics(newer)).storage.knownVersions?.entries).toBe(61);
    // 63 writes, each in the server's log once (a write sent twice would be logged twice).
    await expect.poll(async () => (await storedTodos(server)).logged).toBe(63);
    expect((await storedTodos(server)).dataIds).toHaveLength(61);
    expect(await allTodos(newer)).toHaveLength(61);
  } finally {
    await context.close();
  }
});
