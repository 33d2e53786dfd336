import { allTodos, expect, openApp, test, upsert, waitConnected, waitSynced, watched, watchTodos } from './fixtures';

test('every tab of a browser shares one WebSocket', async ({ context, browser, server }) => {
  const tabs = [await openApp(context, server), await openApp(context, server), await openApp(context, server)];
  for (const tab of tabs) await waitConnected(tab);
  expect((await server.health()).activeConnections).toBe(1);

  // A second browser (context) is a second profile: it gets its own connection.
  const other = await browser.newContext();
  try {
    await waitConnected(await openApp(other, server));
    expect((await server.health()).activeConnections).toBe(2);
  } finally {
    await other.close();
  }
});

test('a write in one tab reaches the other tabs and another browser', async ({ context, browser, server }) => {
  const other = await browser.newContext();
  try {
    const [writer, second, third] = [await openApp(context, server), await openApp(context, server), await openApp(context, server)];
    const remote = await openApp(other, server);
    const readers = [second, third, remote];
    for (const reader of readers) await watchTodos(reader);
    await waitConnected(remote);

    const todo = { id: 'milk', title: 'Buy milk', done: false };
    await upsert(writer, todo);
    for (const reader of readers) await expect.poll(() => watched(reader)).toEqual([todo]);

    const renamed = { ...todo, title: 'Buy oat milk' };
    await upsert(writer, renamed);
    for (const reader of readers) await expect.poll(() => watched(reader)).toEqual([renamed]);
    await waitSynced(writer);
    expect(await server.records('todos')).toEqual([renamed]);
  } finally {
    await other.close();
  }
});

test('a delete reaches every tab, every browser and the server', async ({ context, browser, server }) => {
  const other = await browser.newContext();
  try {
    const [first, second] = [await openApp(context, server), await openApp(context, server)];
    const remote = await openApp(other, server);
    const keep = { id: 'keep', title: 'Keep me', done: false };
    const drop = { id: 'drop', title: 'Delete me', done: true };
    await upsert(first, keep);
    await upsert(first, drop);
    await expect.poll(() => allTodos(remote)).toEqual([drop, keep]);

    for (const page of [first, second]) await watchTodos(page);
    await remote.evaluate(() => window.todos.delete('drop'));

    for (const page of [first, second]) await expect.poll(() => watched(page)).toEqual([keep]);
    expect(await first.evaluate(() => window.todos.get('drop'))).toBeUndefined();
    await waitSynced(remote);
    expect(await server.records('todos')).toEqual([keep]);
  } finally {
    await other.close();
  }
});
