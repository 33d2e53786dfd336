/**
 * The tab's side of queries (src/query.ts) against a real worker core's tab session: the window
 * kept by applying deltas, equal watches of a tab sharing one worker watch (a joining callback gets
 * the last window at once, the same array), a delta that does not fit asking for the window again.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type { SyncWorkerApi } from '../protocol/tab-api';
import { createQuery, createQueryWatches } from '../src/query';
import type { WorkerCall } from '../src/calls';
import { QueryTab, TaskSchema, type Task } from './helpers/queries';
import { TestCores, waitFor } from './helpers/worker';

const cores = new TestCores();
afterEach(() => cores.closeAll());

async function facade() {
  const core = await cores.open('ws://127.0.0.1:9/sync', { repositories: { todos: TaskSchema } });
  const session = core.tab('t');
  const call: WorkerCall = (method) => method(session as never);
  const watches = createQueryWatches(call);
  const listener = Object.assign(new QueryTab(), { query: (id: number, update: Parameters<QueryTab['query']>[1]) => watches.deliver(id, update) });
  await session.attach(listener);
  const liveQueries = async () => (await core.api.diagnostics()).queries;
  return { core, session: session as SyncWorkerApi, watches, call, liveQueries };
}

test('a watched query keeps its window from the deltas; equal watches of a tab share one worker watch', async () => {
  const { core, watches, call, liveQueries } = await facade();
  await core.api.upsert('todos', { id: 'a', title: 'milk', done: false });
  await core.api.upsert('todos', { id: 'b', title: 'bread', done: false });
  const options = { where: { done: false }, orderBy: { title: 'asc' } } as const;
  const first: (readonly Task[])[] = [];
  const offFirst = createQuery<Task>('todos', options, call, watches).watch((records) => first.push(records));
  await waitFor(() => first.length === 1, 'the window');
  assert.deepEqual(first[0]?.map((t) => t.id), ['b', 'a']);

  const second: (readonly Task[])[] = [];
  const offSecond = createQuery<Task>('todos', { ...options }, call, watches).watch((records) => second.push(records));
  assert.equal(second[0], first[0], 'a joining callback gets the last window at once, the same array');
  assert.deepEqual((await liveQueries()).map((q) => q.watchers), [1], 'one worker watch for the tab');

  await core.api.upsert('todos', { id: 'c', title: 'apples', done: false });
  await waitFor(() => first.length === 2 && second.length === 2, 'the delta');
  assert.deepEqual(first[1]?.map((t) => t.id), ['c', 'b', 'a']);
  assert.equal(first[1], second[1]);
  assert.equal(first[1]?.[1], first[0]?.[0], 'a record the change did not touch stays the same object');

  // A delta that does not fit: the tab asks for the window again.
  watches.deliver(1, { delta: { entered: [], left: [{ id: 'nope', index: 0 }], moved: [], updated: [], count: 0 } });
  await waitFor(() => first.length === 3, 'the window again');
  assert.deepEqual(first[2]?.map((t) => t.id), ['c', 'b', 'a']);

  offFirst();
  assert.equal((await liveQueries()).length, 1);
  offSecond();
  await waitFor(async () => (await liveQueries()).length === 0, 'the worker watch to stop with the last callback');
});

test('get, count and watchCount of a query object', async () => {
  const { core, watches, call } = await facade();
  const query = createQuery<Task>('todos', { where: { done: true }, orderBy: { title: 'desc' }, limit: 1 }, call, watches);
  const counts: number[] = [];
  query.watchCount((count) => counts.push(count));
  await waitFor(() => counts.length === 1, 'the count');
  await core.api.upsert('todos', { id: 'a', title: 'milk', done: true });
  await core.api.upsert('todos', { id: 'b', title: 'tea', done: true });
  await waitFor(() => counts.join() === '0,1,2', 'the counts');
  assert.deepEqual(await query.get(), [{ id: 'b', title: 'tea', done: true }]);
  assert.equal(await query.count(), 2);
  await assert.rejects(createQuery<Task>('todos', { limit: 1e9 }, call, watches).get(), { code: 'invalid_query' });
});
