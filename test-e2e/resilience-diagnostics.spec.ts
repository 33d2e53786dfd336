/**
 * `diagnostics()` gives every tab the same picture of the one worker, and persistent storage is
 * asked for once per worker, by one tab (only a window may call `navigator.storage.persist()`).
 */
import { readFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { expect, test, upsert, waitConnected, waitSynced } from './fixtures';
import { diagnostics, openDemo, pushFromAnotherDevice, serverJson, workerUrl } from './lifecycle';

declare global {
  interface Window {
    /** Calls of `navigator.storage.persist()` in this tab, counted by an init script. */
    persistCalls?: number;
  }
}

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
const knobs = { worker: workerUrl({ reconnectDelay: 100, maxReconnectDelay: 500 }) };

/** The parts of the picture that do not move by themselves between two calls. */
async function stablePicture(page: Page) {
  const { worker, connection, outbox, storage, repositories, tabs } = await diagnostics(page);
  return {
    worker,
    connection,
    pending: outbox.pending,
    waiting: outbox.oldestAgeMs !== null,
    storage: { mode: storage.mode, persisted: storage.persisted, losses: storage.losses },
    repositories,
    tabs: tabs.map((tab) => tab.id).sort(),
  };
}

test('persistent storage is asked for exactly once for two tabs; diagnostics report the answer and the usage', async ({ context, server }) => {
  await context.addInitScript(() => {
    window.persistCalls = 0;
    const persist = StorageManager.prototype.persist;
    StorageManager.prototype.persist = function (this: StorageManager) {
      window.persistCalls = (window.persistCalls ?? 0) + 1;
      return persist.call(this);
    };
  });
  const first = await openDemo(context, server.url);
  const calls = (tabs: Page[]) => Promise.all(tabs.map((tab) => tab.evaluate(() => window.persistCalls ?? 0))).then((counts) => counts.reduce((a, b) => a + b, 0));
  await expect.poll(() => calls([first])).toBe(1);

  const second = await openDemo(context, server.url);
  await expect.poll(async () => (await diagnostics(second)).tabs.length).toBe(2);
  await waitConnected(second);
  expect(await calls([first, second])).toBe(1);

  for (const tab of [first, second]) {
    const { storage } = await diagnostics(tab);
    expect(typeof storage.persisted).toBe('boolean');
    expect(storage.persisted).toBe(await tab.evaluate(() => navigator.storage.persisted()));
    expect(storage.mode).toBe('indexeddb');
    expect(typeof storage.usageBytes).toBe('number');
    expect(typeof storage.quotaBytes).toBe('number');
    expect(storage.quotaBytes).toBeGreaterThan(0);
  }
});

test('two tabs see the same diagnostics: one worker, the outbox waiting while offline, each repository after sync', async ({ context, server }) => {
  test.setTimeout(90_000);
  const [first, second] = [await openDemo(context, server.url, knobs), await openDemo(context, server.url, knobs)];
  await waitConnected(first);
  // Records from another device: the cursor follows the server's sequence (a tab's own writes
  // are acknowledged, not sent back, so they move it only at the next catch-up).
  await pushFromAnotherDevice(server, 'todos', [0, 1, 2].map((i) => ({ id: `d${i}`, title: `synced ${i}`, done: false })));
  await expect.poll(async () => (await diagnostics(first)).repositories['todos']?.records).toBe(3);

  const picture = await diagnostics(first);
  expect(picture.worker).toMatchObject({ mode: 'shared', version });
  expect(Date.parse(picture.worker.startedAt)).not.toBeNaN();
  expect(picture.connection.state).toBe('connected');
  expect(picture.outbox).toEqual({ pending: 0, oldestAgeMs: null, setAside: [] });
  const [onServer] = (await serverJson<{ name: string; maxSequence: number }[]>(server, '/api/repositories')).filter((r) => r.name === 'todos');
  expect(picture.repositories['todos']).toMatchObject({ records: 3, cursor: onServer?.maxSequence });
  expect(Date.parse(picture.repositories['todos']?.lastSyncAt ?? '')).not.toBeNaN();
  // The demo watches queries (its window and counts), not whole repositories: both tabs share each.
  expect(picture.tabs.map((tab) => tab.watching)).toEqual([[], []]);
  expect(picture.queries.length).toBeGreaterThan(0);
  expect(picture.queries.map((query) => query.watchers)).toEqual(picture.queries.map(() => 2));
  expect(await stablePicture(second)).toEqual(await stablePicture(first));

  // Offline with a write waiting: both tabs see it pending, and its age grows.
  await server.stop();
  await expect.poll(async () => (await diagnostics(first)).connection.state).not.toBe('connected');
  await upsert(second, { id: 'offline', title: 'waits for the server', done: false });
  for (const tab of [first, second]) {
    await expect.poll(async () => {
      const { outbox } = await diagnostics(tab);
      return outbox.pending === 1 && outbox.oldestAgeMs !== null && outbox.oldestAgeMs > 0;
    }).toBe(true);
  }
  expect((await diagnostics(second)).worker.id).toBe(picture.worker.id);
  // The live count is refreshed lazily after a change (worker/runtime/live-counts.ts): wait for it.
  await expect.poll(async () => (await diagnostics(first)).repositories['todos']?.records).toBe(4);

  await server.restart();
  await waitSynced(first);
  await expect.poll(async () => (await diagnostics(second)).outbox).toEqual({ pending: 0, oldestAgeMs: null, setAside: [] });
  expect((await diagnostics(first)).connection.reconnects).toBeGreaterThanOrEqual(1);
});
