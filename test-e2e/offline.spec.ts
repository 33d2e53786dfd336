import { allTodos, expect, openApp, status, test, upsert, waitConnected, waitSynced, watched, watchTodos } from './fixtures';
import { workerLocksHeld } from './page-probes';

test('a write made offline survives closing every tab and reaches another browser', async ({ browser, server }) => {
  test.setTimeout(90_000); // the reader waits for its worker's reconnect back-off
  const writerBrowser = await browser.newContext();
  const readerBrowser = await browser.newContext();
  try {
    const writer = await openApp(writerBrowser, server);
    // A page of the origin that is not the app: it sees the profile's locks once the app is gone.
    const onlooker = await writerBrowser.newPage();
    await onlooker.goto(`${server.url}/styles.css`);
    const reader = await openApp(readerBrowser, server);
    await watchTodos(reader);
    await waitConnected(writer);
    await waitConnected(reader);

    await server.stop();
    await expect.poll(async () => (await status(writer)).connected).toBe(false);
    const todo = { id: 'offline', title: 'Written offline', done: false };
    await upsert(writer, todo);
    expect((await status(writer)).pending).toBe(1);

    // Closing the last tab of the writer's browser ends its worker: only the outbox in IndexedDB remains.
    await writer.close();
    await expect.poll(() => onlooker.evaluate(workerLocksHeld)).toBe(0);

    await server.restart();
    const reopened = await openApp(writerBrowser, server);
    await expect.poll(() => watched(reader), { timeout: 45_000 }).toEqual([todo]);
    await waitSynced(reopened);
    expect(await server.records('todos')).toEqual([todo]);
  } finally {
    await writerBrowser.close();
    await readerBrowser.close();
  }
});

test('a reload keeps every record, including writes still waiting to sync', async ({ context, server }) => {
  let page = await openApp(context, server);
  const synced = { id: 'a', title: 'Synced', done: true };
  await upsert(page, synced);
  await waitSynced(page);

  await server.stop();
  const waiting = { id: 'b', title: 'Waiting', done: false };
  await upsert(page, waiting);
  expect((await status(page)).pending).toBe(1);
  // The server comes back with an empty database: after the reload, the records can only come
  // from this browser's own storage.
  server.wipeDatabase();
  await server.restart();

  await page.reload();
  await page.waitForFunction(() => window.todos !== undefined);
  expect(await allTodos(page)).toEqual([synced, waiting]);

  // A fresh tab, after every tab was closed and the worker ended, reads the same.
  await page.close();
  page = await openApp(context, server);
  expect(await allTodos(page)).toEqual([synced, waiting]);
  // The write that waited was kept in the outbox and reaches the server.
  await waitSynced(page);
  expect(await server.records('todos')).toContainEqual(waiting);
});
