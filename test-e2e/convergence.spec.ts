import { allTodos, expect, openApp, test, upsert, waitConnected, waitSynced, type Todo } from './fixtures';

test('concurrent edits of one record in two browsers converge to the same record everywhere', async ({ context, browser, server }) => {
  const other = await browser.newContext();
  try {
    const left = await openApp(context, server);
    const leftSecondTab = await openApp(context, server);
    const right = await openApp(other, server);
    await waitConnected(left);
    await waitConnected(right);
    const ids = ['a', 'b', 'c', 'd'];
    for (const id of ids) await upsert(left, { id, title: `todo ${id}`, done: false });
    await expect.poll(async () => (await allTodos(right)).length).toBe(ids.length);

    // Both browsers go offline and edit the same records without seeing each other's edits,
    // interleaved so that each side writes some records first and some last.
    await left.evaluate(() => window.lf.stop());
    await right.evaluate(() => window.lf.stop());
    for (const [index, id] of ids.entries()) {
      const [first, second] = index % 2 === 0 ? [left, right] : [right, left];
      await upsert(first, { id, title: `${id} edited first`, done: true });
      await upsert(second, { id, title: `${id} edited second`, done: false });
    }
    await left.evaluate(() => window.lf.start());
    await right.evaluate(() => window.lf.start());
    await waitSynced(left);
    await waitSynced(right);

    const settled = async (): Promise<Todo[][]> => [await allTodos(left), await allTodos(leftSecondTab), await allTodos(right)];
    await expect.poll(async () => {
      const [a, b, c] = await settled();
      return JSON.stringify(a) === JSON.stringify(b) && JSON.stringify(b) === JSON.stringify(c);
    }).toBe(true);
    const [converged] = await settled();
    expect(converged).toEqual(await server.records('todos'));
    // Every record ended as one of the two edits, never a mix of both.
    for (const todo of converged ?? []) {
      expect([{ id: todo.id, title: `${todo.id} edited first`, done: true }, { id: todo.id, title: `${todo.id} edited second`, done: false }]).toContainEqual(todo);
    }
  } finally {
    await other.close();
  }
});
