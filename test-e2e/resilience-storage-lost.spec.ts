/**
 * Storage taken away while the worker runs: the origin's IndexedDB cleared through the DevTools
 * protocol, as when the user clears site data or the browser evicts it. The worker opens a fresh
 * database, re-syncs every repository from the start and says so; writes go on, nothing twice.
 */
import { allTodos, connectAndWatch, expect, openApp, status, test, upsert, waitSynced, watched, watchTodos, type Todo } from './fixtures';
import { holdCatchUpAfterFirstPage } from './catch-up-hold';
import { diagnostics, openDemo, pushFromAnotherDevice, serverJson, storedTodos, workerUrl } from './lifecycle';

const RECORDS = 30;

test('a cleared IndexedDB is re-synced from the server; a new write reaches the other profile, nothing twice', async ({ browser, server }) => {
  const [profileA, profileB] = [await browser.newContext(), await browser.newContext()];
  try {
    const reader = await openApp(profileA, server);
    const writer = await openApp(profileB, server);
    await connectAndWatch(reader, writer);
    const records: Todo[] = Array.from({ length: RECORDS }, (_, i) => ({ id: `r${String(i).padStart(2, '0')}`, title: `record ${i}`, done: i % 3 === 0 }));
    await writer.evaluate(async (todos) => {
      for (const todo of todos) await window.todos.upsert(todo);
    }, records);
    await waitSynced(writer);
    await expect.poll(() => watched(reader)).toEqual(records);
    await expect.poll(async () => (await diagnostics(reader)).repositories['todos']?.records).toBe(RECORDS);
    expect((await diagnostics(reader)).storage.losses).toBe(0);

    // The page's own DevTools session reaches the storage of its profile only.
    const devtools = await profileA.newCDPSession(reader);
    await devtools.send('Storage.clearDataForOrigin', { origin: server.url, storageTypes: 'indexeddb' });

    await expect.poll(async () => (await diagnostics(reader)).storage.losses).toBe(1);
    expect((await status(reader)).lastError?.code).toBe('storage_lost');
    const [todosOnServer] = (await serverJson<{ name: string; maxSequence: number }[]>(server, '/api/repositories')).filter((r) => r.name === 'todos');
    // Re-synced from cursor 0 into a fresh IndexedDB database (not memory): every record, up to
    // the server's last sequence.
    await expect.poll(async () => {
      const { repositories, storage } = await diagnostics(reader);
      return { ...repositories['todos'], mode: storage.mode, lastSyncAt: undefined };
    }).toEqual({ records: RECORDS, cursor: todosOnServer?.maxSequence, mode: 'indexeddb', lastSyncAt: undefined });
    await expect.poll(() => watched(reader)).toEqual(records);
    expect(await allTodos(reader)).toEqual(records);
    await reader.locator('#diagnostics summary').click();
    await expect(reader.locator('[data-field="storage.losses"]')).toHaveText('1 time');

    const after: Todo = { id: 'z-after', title: 'written after the clear', done: false };
    await upsert(reader, after);
    await waitSynced(reader);
    await expect.poll(async () => (await watched(writer))?.length).toBe(RECORDS + 1);
    const seen = (await watched(writer))?.map((todo) => todo.id) ?? [];
    expect(new Set(seen).size).toBe(seen.length);
    expect(await watched(writer)).toEqual([...records, after]);
    // The other profile's storage was never touched, and the re-sync pushed nothing again.
    expect((await diagnostics(writer)).storage.losses).toBe(0);
    expect((await storedTodos(server)).logged).toBe(RECORDS + 1);
  } finally {
    await profileA.close();
    await profileB.close();
  }
});

test('a write still waiting for the server when IndexedDB is cleared is re-queued and reaches the other profile, once', async ({ browser, server }) => {
  test.setTimeout(90_000);
  const knobs = { worker: workerUrl({ reconnectDelay: 100, maxReconnectDelay: 500 }) };
  const [profileA, profileB] = [await browser.newContext(), await browser.newContext()];
  try {
    const writer = await openDemo(profileA, server.url, knobs);
    const reader = await openDemo(profileB, server.url, knobs);
    await connectAndWatch(writer, reader);
    const synced: Todo = { id: 'a', title: 'synced before', done: false };
    await upsert(writer, synced);
    await waitSynced(writer);

    await server.stop();
    await expect.poll(async () => (await status(writer)).connected).toBe(false);
    const waiting: Todo = { id: 'b', title: 'waiting when the storage went', done: true };
    await upsert(writer, waiting);
    expect((await diagnostics(writer)).outbox.pending).toBe(1);

    await (await profileA.newCDPSession(writer)).send('Storage.clearDataForOrigin', { origin: server.url, storageTypes: 'indexeddb' });
    await expect.poll(async () => (await diagnostics(writer)).storage.losses).toBe(1);
    // Re-queued in the fresh database, not dropped.
    await expect.poll(async () => (await diagnostics(writer)).outbox.pending).toBe(1);

    await server.restart();
    await waitSynced(writer);
    await expect.poll(() => watched(reader)).toEqual([synced, waiting]);
    await expect.poll(() => watched(writer)).toEqual([synced, waiting]);
    const stored = await storedTodos(server);
    expect(stored.logged).toBe(2);
    expect(stored.dataIds).toEqual(['a', 'b']);
  } finally {
    await profileA.close();
    await profileB.close();
  }
});

test('a catch-up cut short by the clear starts over in the fresh database and ends with every record, up to the last sequence', async ({ browser, server }) => {
  test.setTimeout(120_000);
  const SEEDED = 12_000;
  for (let start = 0; start < SEEDED; start += 500) {
    const batch = Array.from({ length: 500 }, (_, i) => ({ id: `s${String(start + i).padStart(5, '0')}`, title: `seeded ${start + i}`, done: false }));
    await pushFromAnotherDevice(server, 'todos', batch);
  }
  // The relay lets the first page of the catch-up through and holds the rest: the clear comes
  // while it is in progress, whatever the speed of the machine.
  const hold = await holdCatchUpAfterFirstPage(`ws://127.0.0.1:${server.port}/sync`);
  const fresh = await browser.newContext();
  try {
    const page = await openDemo(fresh, server.url, { worker: workerUrl({ ws: hold.url }) });
    await watchTodos(page);
    // Mid-catch-up: some pages stored, far from all of them.
    await expect.poll(async () => {
      const { syncing, progress } = await status(page);
      return syncing === true && (progress?.received ?? 0) > 0;
    }).toBe(true);
    await expect.poll(() => hold.held()).toBeGreaterThan(0);
    const before = await status(page);
    await (await fresh.newCDPSession(page)).send('Storage.clearDataForOrigin', { origin: server.url, storageTypes: 'indexeddb' });
    expect(before.progress?.received ?? 0, 'the clear came during the catch-up').toBeLessThan(SEEDED);
    await expect.poll(async () => (await diagnostics(page)).storage.losses).toBe(1);
    hold.release();
    const [todosOnServer] = (await serverJson<{ name: string; maxSequence: number }[]>(server, '/api/repositories')).filter((r) => r.name === 'todos');
    await expect.poll(async () => {
      const { repositories, storage } = await diagnostics(page);
      return { records: repositories['todos']?.records, cursor: repositories['todos']?.cursor, mode: storage.mode };
    }, { timeout: 60_000 }).toEqual({ records: SEEDED, cursor: todosOnServer?.maxSequence, mode: 'indexeddb' });
    const ids = (await watched(page))?.map((todo) => todo.id) ?? [];
    expect(ids.length).toBe(SEEDED);
    expect(new Set(ids).size).toBe(SEEDED);
    expect((await allTodos(page)).length).toBe(SEEDED);
  } finally {
    await fresh.close();
    await hold.close();
  }
});
