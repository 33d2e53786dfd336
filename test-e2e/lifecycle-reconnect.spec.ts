import { startTcpProxy } from '../test/helpers/tcp-proxy';
import { allTodos, status, waitConnected, waitSynced } from './fixtures';
import { diagnostics, expect, openDemo, recordStatuses, storedTodos, test, workerUrl } from './lifecycle';

const quickRetry = { reconnectDelay: 100, maxReconnectDelay: 500 };
const ids = (count: number) => Array.from({ length: count }, (_, i) => `todo-${String(i).padStart(4, '0')}`);

/** Writes the todos one by one in the page, without waiting for them to finish. */
function writeInBackground(page: import('@playwright/test').Page, todoIds: string[]): Promise<void> {
  return page.evaluate(async (list) => {
    for (const id of list) await window.todos.upsert({ id, title: id, done: false });
  }, todoIds);
}

test('a server killed with SIGKILL during a batch of writes and restarted stores every write exactly once', async ({ context, server }) => {
  const page = await openDemo(context, server.url, { worker: workerUrl(quickRetry) });
  await waitConnected(page);
  const written = ids(400);
  const writing = writeInBackground(page, written);
  // Kill it while writes are still arriving: some acknowledged, some in flight, some not sent yet.
  await expect.poll(async () => (await storedTodos(server)).logged, { intervals: [20] }).toBeGreaterThan(10);
  await server.kill();
  await writing;
  expect((await status(page)).pending).toBeGreaterThan(0);

  await server.restart();
  await waitSynced(page);
  const stored = await storedTodos(server);
  expect(stored.logged).toBe(written.length);
  expect(new Set(stored.eventIds).size).toBe(written.length);
  expect(stored.dataIds).toEqual(written);
  expect((await allTodos(page)).map((todo) => todo.id)).toEqual(written);
});

test('a socket cut mid-batch resumes on a new socket and stores every write exactly once', async ({ context, server }) => {
  const proxy = await startTcpProxy(server.port);
  try {
    const page = await openDemo(context, proxy.url, { worker: workerUrl(quickRetry) });
    await waitConnected(page);
    const before = await diagnostics(page);
    const written = ids(300);
    const writing = writeInBackground(page, written);
    await expect.poll(async () => (await storedTodos(server)).logged, { intervals: [20] }).toBeGreaterThan(10);
    proxy.cutAll();
    await writing;
    await waitSynced(page);

    expect((await diagnostics(page)).connection.reconnects).toBeGreaterThan(before.connection.reconnects);
    const stored = await storedTodos(server);
    expect(stored.logged).toBe(written.length);
    expect(new Set(stored.eventIds).size).toBe(written.length);
    expect(stored.dataIds).toEqual(written);
  } finally {
    await proxy.close();
  }
});

test('a half-open socket is detected by the heartbeat and replaced by a new one', async ({ context, server }) => {
  const proxy = await startTcpProxy(server.port);
  try {
    const knobs = { ...quickRetry, heartbeatInterval: 300, pongTimeout: 300, connectTimeout: 1000 };
    const page = await openDemo(context, proxy.url, { worker: workerUrl(knobs) });
    await waitConnected(page);
    const before = await diagnostics(page);
    await recordStatuses(page);

    // Nothing passes any more, yet both ends keep their TCP connection open: only a missing
    // answer to a ping can tell.
    proxy.blackhole();
    await expect.poll(async () => (await status(page)).connected).toBe(false);
    const errors = await page.evaluate(() => (window.statuses ?? []).map((s) => s.lastError?.code));
    expect(errors).toContain('heartbeat_timeout');

    proxy.restore();
    await waitConnected(page);
    const after = await diagnostics(page);
    expect(after.connection.connectionId).toBeDefined();
    expect(after.connection.connectionId).not.toBe(before.connection.connectionId);
    expect(after.connection.reconnects).toBeGreaterThan(before.connection.reconnects);
    await page.evaluate(() => window.todos.upsert({ id: 'after', title: 'after the outage', done: false }));
    await waitSynced(page);
    expect((await storedTodos(server)).dataIds).toEqual(['after']);
  } finally {
    await proxy.close();
  }
});
