/**
 * A query watched in one tab follows what another tab writes: the worker evaluates it and sends
 * the watching tab its window, then only deltas, which the facade applies.
 */
import { expect, openApp, test, upsert, watched, type Todo } from './fixtures';
import { diagnostics, openDemo, workerUrl } from './lifecycle';

const todo = (id: string, title = `Task ${id}`, done = false): Todo => ({ id, title, done });

test('a tab watching query({ where, orderBy, limit }) sees its window follow another tab writes', async ({ context, server }) => {
  const [watcher, writer] = [await openApp(context, server), await openApp(context, server)];
  await watcher.evaluate(() => {
    window.todos.query({ where: { done: false }, orderBy: { title: 'asc' }, limit: 5 }).watch((records) => {
      window.watched = records;
    });
  });
  await expect.poll(() => watched(watcher)).toEqual([]);
  const ids = async () => (await watched(watcher))?.map((record) => record.id);

  for (const id of ['f', 'b', 'd', 'a', 'e', 'c', 'g']) await upsert(writer, todo(id));
  await expect.poll(ids).toEqual(['a', 'b', 'c', 'd', 'e']);
  await upsert(writer, todo('b', 'Task b', true));
  await expect.poll(ids).toEqual(['a', 'c', 'd', 'e', 'f']);
  await writer.evaluate(() => window.todos.delete('a'));
  await expect.poll(ids).toEqual(['c', 'd', 'e', 'f', 'g']);
  await upsert(writer, todo('g', 'Task 0'));
  await expect.poll(ids).toEqual(['g', 'c', 'd', 'e', 'f']);
  await upsert(writer, todo('e', 'Task e, renamed'));
  await expect.poll(async () => (await watched(watcher))?.[3]).toEqual(todo('e', 'Task e, renamed'));

  // One-shot reads agree with the window, and the worker says what it keeps live.
  expect(await writer.evaluate(() => window.todos.query({ where: { done: false }, orderBy: { title: 'asc' }, limit: 5 }).get())).toEqual(await watched(watcher));
  expect(await writer.evaluate(() => window.todos.query({ where: { done: false } }).count())).toBe(5);
  // The demo page watches queries of its own (its list and counts, ordered by id): this test's
  // query is the one ordered by title.
  const { queries } = await writer.evaluate(() => window.lf.diagnostics());
  const ours = queries.filter((query) => query.query.includes('title'));
  expect(ours.map(({ kind, watchers, count, plan }) => ({ kind, watchers, count, plan }))).toEqual([{ kind: 'window', watchers: 1, count: 5, plan: 'index done, sorted in memory' }]);
  await expect(writer.evaluate(() => window.todos.query({ limit: -1 }).get())).rejects.toThrow(/invalid_query|limit must not be negative/);
});

test("in the browser's IndexedDB, an index declared by a new deployment is added with no record lost, and serves", async ({ context, server }) => {
  const before = await openApp(context, server);
  const titles = ['milk', 'bread', 'apples', 'tea', 'eggs', 'cheese'];
  for (const [i, title] of titles.entries()) await upsert(before, todo(`t${i}`, title, i % 2 === 1));
  const indexed = await openDemo(context, server.url, { worker: workerUrl({ indexes: JSON.stringify({ todos: [['done', 'title']] }) }) });
  expect(await indexed.evaluate(() => window.todos.getAll())).toHaveLength(6);
  const open = () => indexed.evaluate(() => window.todos.query({ where: { done: false }, orderBy: { title: 'desc' }, limit: 2 }).get());
  expect((await open()).map((record) => record.title)).toEqual(['milk', 'eggs']);
  await indexed.evaluate(() => {
    window.todos.query({ where: { done: false }, orderBy: { title: 'desc' }, limit: 2 }).watch((records) => {
      window.watched = records;
    });
  });
  await expect.poll(async () => (await watched(indexed))?.map((record) => record.title)).toEqual(['milk', 'eggs']);
  const { queries } = await diagnostics(indexed);
  expect(queries.filter((query) => query.query.includes('title')).map((query) => query.plan)).toEqual(['index done+title']);
  await upsert(indexed, todo('t9', 'oranges'));
  await expect.poll(async () => (await watched(indexed))?.map((record) => record.title)).toEqual(['oranges', 'milk']);
});
