import type { Page } from '@playwright/test';
import type { TestServer } from './server';
import { allTodos, upsert, waitConnected, waitSynced } from './fixtures';
import { diagnostics, expect, openDemo, storedTodos, test, workerUrl } from './lifecycle';

declare global {
  interface Window {
    versionChanges?: number;
    /** Set by the test on the page it opened, gone once the page reloaded. */
    beforeReload?: boolean;
  }
}

/** The highest number of connections the server reported while `during` ran. */
async function mostConnections(server: TestServer, during: () => Promise<void>): Promise<number> {
  let most = 0;
  let done = false;
  const sampling = (async () => {
    while (!done) {
      most = Math.max(most, (await server.health()).activeConnections);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  try {
    await during();
  } finally {
    done = true;
    await sampling;
  }
  return most;
}

/** A tab of the current deployment, with a synced todo; and the new deployment's worker URL. */
async function oldTabWithData(context: import('@playwright/test').BrowserContext, server: TestServer): Promise<Page> {
  const old = await openDemo(context, server.url);
  await waitConnected(old);
  await upsert(old, { id: 'a', title: 'written by the old version', done: false });
  await waitSynced(old);
  return old;
}
const newVersion = { worker: workerUrl({ schemaVersion: 2 }) };

test('a new worker version beside an old one: one connection, the old tabs are told, the new one takes over', async ({ context, server }) => {
  const old = await oldTabWithData(context, server);
  await old.evaluate(() => {
    window.versionChanges = 0;
    window.lf.onVersionChange(() => (window.versionChanges = (window.versionChanges ?? 0) + 1));
  });

  let fresh: Page | undefined;
  const most = await mostConnections(server, async () => {
    fresh = await openDemo(context, server.url, newVersion);
    await expect.poll(() => old.evaluate(() => window.versionChanges)).toBe(1);
    await waitConnected(fresh);
  });
  if (!fresh) throw new Error('the new tab did not open');
  expect(most).toBe(1);
  expect((await server.health()).activeConnections).toBe(1);
  const { worker } = await diagnostics(fresh);
  expect(worker.schemaVersion).toBe(2);

  // The new version reads what the old one stored, and syncs; the old one writes no more.
  expect(await allTodos(fresh)).toEqual([{ id: 'a', title: 'written by the old version', done: false }]);
  const refused = await old.evaluate(() =>
    window.todos.upsert({ id: 'late', title: 'too late', done: false }).then(
      () => undefined,
      (error: { code?: string }) => error.code,
    ),
  );
  expect(refused).toBe('closed');
  await upsert(fresh, { id: 'b', title: 'written by the new version', done: false });
  await waitSynced(fresh);
  expect((await storedTodos(server)).dataIds).toEqual(['a', 'b']);
});

test('without an onVersionChange callback, an old tab reloads once it is hidden', async ({ context, server }) => {
  const old = await oldTabWithData(context, server);
  await old.evaluate(() => (window.beforeReload = true));
  const fresh = await openDemo(context, server.url, newVersion);
  await waitConnected(fresh);
  // Still visible: the tab waits, so the user is not interrupted.
  expect(await old.evaluate(() => window.beforeReload)).toBe(true);

  const reloaded = old.waitForEvent('load');
  await old
    .evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
    })
    .catch(() => {}); // the reload may tear the evaluation down
  await reloaded;
  expect(await old.evaluate(() => window.beforeReload)).toBeUndefined();
});

test('two deployments on one schema version share the database: one connection, every write of both reaches the server once, also across a takeover', async ({ browser, server }) => {
  const context = await browser.newContext();
  try {
    // Another script URL is another SharedWorker: the older deployment's and the newer one's.
    const older = await openDemo(context, server.url);
    await waitConnected(older);
    await upsert(older, { id: 'a1', title: 'older deployment', done: false });
    await waitSynced(older);
    const newer = await openDemo(context, server.url, { worker: workerUrl({ reconnectDelay: 100 }) });
    await waitConnected(newer);
    expect((await diagnostics(newer)).worker.id).not.toBe((await diagnostics(older)).worker.id);

    // The newer worker does not hold the connection: its writes go out through the older one.
    for (const id of ['b1', 'b2', 'b3']) await upsert(newer, { id, title: 'newer deployment', done: false });
    await upsert(older, { id: 'a2', title: 'older deployment', done: false });
    await upsert(newer, { id: 'b4', title: 'newer deployment', done: false });
    await expect.poll(async () => (await storedTodos(server)).dataIds.sort()).toEqual(['a1', 'a2', 'b1', 'b2', 'b3', 'b4']);
    expect((await server.health()).activeConnections).toBe(1);
    expect((await diagnostics(newer)).connection.connectionId, 'the newer worker holds no socket').toBeUndefined();

    // The older deployment's last tab goes, and its worker with it; the newer worker takes over
    // the connection and sends what was written meanwhile.
    await older.close();
    await upsert(newer, { id: 'b5', title: 'written during the takeover', done: false });
    await waitSynced(newer);
    await expect.poll(async () => (await diagnostics(newer)).connection.connectionId, 'the newer worker took the connection').toBeDefined();
    await expect.poll(async () => (await storedTodos(server)).dataIds.sort()).toEqual(['a1', 'a2', 'b1', 'b2', 'b3', 'b4', 'b5']);
    expect((await storedTodos(server)).logged, 'each write stored once').toBe(7);
    expect(await allTodos(newer)).toHaveLength(7);
  } finally {
    await context.close();
  }
});
