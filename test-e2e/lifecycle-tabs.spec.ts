import { allTodos, status, upsert, waitConnected, waitSynced, watched, watchTodos } from './fixtures';
import { diagnostics, expect, openDemo, storedTodos, test, workerUrl } from './lifecycle';

declare global {
  interface Window {
    transitions?: boolean[];
  }
}

test('a tab that crashed is noticed and its handle and watchers are freed', async ({ context, server }) => {
  const tabs = [await openDemo(context, server.url), await openDemo(context, server.url), await openDemo(context, server.url)];
  const [survivor, , doomed] = tabs;
  if (!survivor || !doomed) throw new Error('three tabs expected');
  await expect.poll(async () => (await diagnostics(survivor)).tabs.length).toBe(3);
  // Every tab watches the demo's queries (its list window and counts), each shared by all three.
  const watchers = async () => (await diagnostics(survivor)).queries.map((query) => query.watchers);
  await expect.poll(async () => (await watchers()).length > 0 && (await watchers()).every((count) => count === 3)).toBe(true);

  // A renderer crash: the tab runs no more code, so it cannot detach; only its lock is released.
  const crashed = new Promise((resolve) => doomed.once('crash', resolve));
  const devtools = await context.newCDPSession(doomed);
  void devtools.send('Page.crash').catch(() => {});
  await crashed;

  await expect.poll(async () => (await diagnostics(survivor)).tabs.length).toBe(2);
  // Its watchers went with it.
  await expect.poll(async () => (await watchers()).every((count) => count === 2)).toBe(true);
  await waitConnected(survivor);
  await upsert(survivor, { id: 'a', title: 'after the crash', done: false });
  await waitSynced(survivor);
});

test.describe('without SharedWorker', () => {
  test.beforeEach(async ({ context }) => {
    await context.addInitScript(() => {
      delete (window as { SharedWorker?: unknown }).SharedWorker;
    });
  });

  test('three tabs make one connection, share writes, and the next tab takes over within a second when the leader closes', async ({ context, server }) => {
    const knobs = { worker: workerUrl({ reconnectDelay: 100, maxReconnectDelay: 500 }) };
    const tabs = [await openDemo(context, server.url, knobs), await openDemo(context, server.url, knobs), await openDemo(context, server.url, knobs)];
    for (const tab of tabs) await waitConnected(tab);
    expect((await server.health()).activeConnections).toBe(1);
    const modes = await Promise.all(tabs.map(async (tab) => (await diagnostics(tab)).worker.mode));
    expect([...modes].sort()).toEqual(['follower', 'follower', 'leader']);
    const leader = tabs[modes.indexOf('leader')]!;
    const followers = tabs.filter((tab) => tab !== leader);
    const [writer, reader] = followers;
    if (!writer || !reader) throw new Error('two followers expected');

    // A follower writes to IndexedDB; the leader sends it, the other tabs' watchers see it.
    for (const tab of [leader, reader]) await watchTodos(tab);
    const first = { id: 'a', title: 'from a follower', done: false };
    await upsert(writer, first);
    for (const tab of [leader, reader]) await expect.poll(() => watched(tab)).toEqual([first]);
    await waitSynced(writer);
    expect((await storedTodos(server)).dataIds).toEqual(['a']);
    // Every tab shows the leader's status.
    const shown = () => Promise.all(tabs.map(async (tab) => {
      const { connected, authenticated, pending, lastSyncAt } = await status(tab);
      return JSON.stringify({ connected, authenticated, pending, lastSyncAt });
    }));
    await expect.poll(async () => new Set(await shown()).size).toBe(1);

    // The leader's tab closes with a write still in the outbox (the server is down).
    for (const tab of followers) {
      await tab.evaluate(() => {
        const transitions: boolean[] = [];
        window.transitions = transitions;
        window.lf.onConnectionChange((connected) => transitions.push(connected));
      });
    }
    await server.stop();
    await expect.poll(async () => (await status(leader)).connected).toBe(false);
    const last = { id: 'b', title: 'written by the leader just before it closed', done: false };
    await upsert(leader, last);
    await leader.close();
    await expect.poll(async () => (await Promise.all(followers.map(diagnostics))).map((d) => d.worker.mode).sort(), { timeout: 1000 })
      .toEqual(['follower', 'leader']);

    await server.restart();
    await waitSynced(reader);
    expect((await storedTodos(server)).dataIds).toEqual(['a', 'b']);
    await expect.poll(() => watched(reader)).toEqual([first, last]);
    expect(await allTodos(writer)).toEqual([first, last]);
    expect((await server.health()).activeConnections).toBe(1);
    // The followers saw the connection drop and come back, once each: not the handover.
    for (const tab of followers) await expect.poll(() => tab.evaluate(() => window.transitions)).toEqual([false, true]);
  });
});
