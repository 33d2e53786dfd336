/**
 * Queries through the worker core and its tab sessions: one-shot reads (IndexedDB along an index
 * or a scan, and memory), watches that get their window and then deltas as tabs write and remote
 * events arrive, one evaluation shared by the tabs watching a query, refusals, the end of a tab.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { nanoid } from 'nanoid';
import type { SyncEvent } from '../protocol/messages';
import { applyDelta } from '../protocol/query';
import type { StoredRecord, SyncWorkerApi } from '../protocol/tab-api';
import { authed, type AuthedClient } from './helpers/client';
import { TestServers } from './helpers/server';
import { QueryTab, TaskSchema, type Task } from './helpers/queries';
import { leaderAndFollower, settled, TestCores, waitFor, type TestCore } from './helpers/worker';

const NOWHERE = 'ws://127.0.0.1:9/sync';
const servers = new TestServers();
const cores = new TestCores();
const clients: AuthedClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await cores.closeAll();
  await servers.stopAll();
});

const INDEXES = { todos: ['done', ['listId', 'n'], 'title'] };
const open = (options: Parameters<TestCores['open']>[1] = {}, url = NOWHERE): Promise<TestCore> =>
  cores.open(url, { repositories: { todos: TaskSchema }, indexes: INDEXES, ...options });

/** An IndexedDB whose open() throws: the core keeps its data in memory. */
const throwing = {
  open: () => {
    throw new DOMException('denied', 'SecurityError');
  },
} as unknown as IDBFactory;

const tasks: Task[] = [
  { id: 'a', title: 'milk', done: false, listId: 'home', n: 3 },
  { id: 'b', title: 'bread', done: true, listId: 'home', n: 1 },
  { id: 'c', title: 'apples', done: false, listId: 'work', n: 2 },
  { id: 'd', title: 'tea', done: false, listId: 'home', n: 1 },
  { id: 'e', title: 'eggs', done: false },
  { id: 'f', title: 'cheese', done: true, listId: 'work', n: 5 },
];

async function seed(api: SyncWorkerApi, records: readonly Task[] = tasks): Promise<void> {
  for (const task of records) await api.upsert('todos', task);
}

const ids = (records: readonly StoredRecord[]) => records.map((record) => record.id);

for (const [kind, options] of [['IndexedDB', {}], ['memory', { indexedDB: throwing }]] as const) {
  test(`get and count on ${kind}: where, orderBy, limit and offset`, async () => {
    const core = await open(options);
    assert.equal(core.storageMode(), kind === 'memory' ? 'memory' : 'indexeddb');
    await seed(core.api);
    await core.api.delete('todos', 'd');
    const api = core.api;
    assert.deepEqual(ids(await api.query('todos', { where: { done: false }, orderBy: { title: 'asc' } })), ['c', 'e', 'a']);
    assert.deepEqual(ids(await api.query('todos', { where: { done: false }, orderBy: { title: 'asc' }, limit: 1, offset: 1 })), ['e']);
    assert.deepEqual(ids(await api.query('todos', { where: { listId: 'home' }, orderBy: { n: 'desc' } })), ['a', 'b']);
    assert.deepEqual(ids(await api.query('todos', { where: { n: { gte: 2 } }, orderBy: [{ n: 'asc' }] })), ['c', 'a', 'f']);
    assert.deepEqual(ids(await api.query('todos', { where: { title: { startsWith: 'ch' } } })), ['f']);
    assert.deepEqual(ids(await api.query('todos', { orderBy: { id: 'desc' }, limit: 2 })), ['f', 'e']);
    assert.deepEqual(await api.query('todos', { where: { n: { gt: 5, lt: 3 } } }), []);
    assert.deepEqual((await api.query('todos', { where: { id: 'a' } }))[0], tasks[0]);
    assert.equal(await api.count('todos', { where: { done: false } }), 3);
    assert.equal(await api.count('todos', { where: { done: false }, limit: 1, offset: 2 }), 3, 'a count ignores the window');
    assert.equal(await api.count('todos', {}), 5, 'the tombstone is not counted');
  });
}

test('a watch gets its window, then deltas as another tab writes; two tabs share one evaluation', async () => {
  const core = await open();
  await seed(core.api);
  const [one, two] = [new QueryTab(), new QueryTab()];
  await core.tab('one').attach(one);
  await core.tab('two').attach(two);
  const query = { where: { done: false }, orderBy: { title: 'asc' }, limit: 2 } as const;
  await core.tab('one').watchQuery('todos', 1, query);
  assert.deepEqual(one.ids(1), ['c', 'e'], 'the window arrives before the watch resolves');
  assert.equal(one.counts.get(1), 4);
  // The same query written otherwise: one evaluation for both tabs.
  await core.tab('two').watchQuery('todos', 7, { orderBy: [{ title: 'asc' }], where: { done: { eq: false } }, limit: 2 });
  await core.tab('two').watchQuery('todos', 8, { where: { done: false } }, 'count');
  const { queries } = await core.api.diagnostics();
  assert.deepEqual(
    queries.map(({ kind, watchers, count, plan }) => ({ kind, watchers, count, plan })),
    [
      { kind: 'window', watchers: 2, count: 4, plan: 'index done, sorted in memory' },
      // Loaded in id order, which the index on done gives as it is.
      { kind: 'count', watchers: 1, count: 4, plan: 'index done' },
    ],
  );

  await core.tab('two').upsert('todos', { id: 'g', title: 'aardvark', done: false });
  assert.deepEqual(one.ids(1), ['g', 'c']);
  assert.deepEqual(two.ids(7), ['g', 'c']);
  assert.equal(two.counts.get(8), 5);
  await core.tab('two').upsert('todos', { id: 'c', title: 'apples', done: true });
  assert.deepEqual(one.ids(1), ['g', 'e']);
  assert.equal(one.counts.get(1), 4);
  await core.tab('one').upsert('todos', { id: 'g', title: 'zucchini', done: false });
  assert.deepEqual(one.ids(1), ['e', 'a'], 'a record moving past the end leaves the window');
  await core.tab('two').upsert('todos', { id: 'f', title: 'figs', done: true });
  const before = one.updates.get(1)!.length;
  await core.api.upsert('todos', { id: 'a', title: 'milk', done: false, listId: 'home', n: 9 });
  assert.equal(one.updates.get(1)!.length, before + 1);
  assert.deepEqual(one.windows.get(1)?.[1], { id: 'a', title: 'milk', done: false, listId: 'home', n: 9 }, 'an update in place');
  assert.deepEqual(one.updates.get(1)![0], { window: [tasks[2], tasks[4]], count: 4 });
  assert.ok(one.updates.get(1)!.slice(1).every((update) => 'delta' in update), 'then only deltas');
  // Every delta applied gives what a fresh read gives.
  assert.deepEqual(one.windows.get(1), await core.api.query('todos', query));
});

test('a watch follows remote events as they are applied', async () => {
  const s = await servers.start();
  const core = await open({}, s.syncUrl);
  await core.api.start();
  await settled(core);
  const tab = new QueryTab();
  await core.tab('t').attach(tab);
  await core.tab('t').watchQuery('todos', 1, { where: { listId: 'home' }, orderBy: { n: 'asc' } });
  assert.deepEqual(tab.ids(1), []);
  const other = await authed(s.syncUrl);
  clients.push(other);
  const event = (task: Task): SyncEvent => ({ eventId: nanoid(), dataId: task.id, operation: 0, createdAt: new Date().toISOString(), data: task });
  other.send({ type: 'push_events_batch', repository: 'todos', events: tasks.map(event) });
  await other.next('ack');
  await waitFor(() => tab.ids(1)?.join() === 'b,d,a', 'the remote records to enter the window');
  other.send({ type: 'push_event', repository: 'todos', event: { eventId: nanoid(), dataId: 'd', operation: 2, createdAt: new Date().toISOString() } });
  await waitFor(() => tab.ids(1)?.join() === 'b,a', 'the remote delete to leave it');
  assert.equal(tab.counts.get(1), 2);
  const [live] = (await core.api.diagnostics()).queries;
  assert.equal(live?.plan, 'index listId+n');
});

test('a query the worker cannot run is refused with invalid_query, and the worker goes on', async () => {
  const core = await open();
  await core.tab('t').attach(new QueryTab());
  const bad: unknown[] = [null, 'x', { where: { done: { gt: 1, gte: 2 } } }, { orderBy: { title: 'up' } }, { limit: -1 }, { select: ['x'] }, { where: { __proto__x: 1, 'a b': 1 } }];
  for (const query of bad) {
    await assert.rejects(core.api.query('todos', query as never), { code: 'invalid_query' }, JSON.stringify(query));
    await assert.rejects(core.api.count('todos', query as never), { code: 'invalid_query' });
    await assert.rejects(core.tab('t').watchQuery('todos', 1, query as never), { code: 'invalid_query' });
  }
  await assert.rejects(core.tab('t').watchQuery('todos', 1, {}, 'list' as never), { code: 'invalid_query' });
  await assert.rejects(core.tab('t').watchQuery('todos', 1.5, {}), { code: 'invalid_query' });
  await assert.rejects(core.api.query('nope', {}), { code: 'unknown_repository' });
  assert.deepEqual((await core.api.diagnostics()).queries, []);
  await core.api.upsert('todos', tasks[0]!);
  assert.deepEqual(await core.api.query('todos', {}), [tasks[0]]);
});

test('a tab that unwatches, detaches or is gone stops its watches; the evaluation goes with the last one', async () => {
  const core = await open();
  await seed(core.api);
  const [one, two] = [new QueryTab(), new QueryTab()];
  await core.tab('one').attach(one);
  await core.tab('two').attach(two);
  await core.tab('one').watchQuery('todos', 1, { where: { done: true } });
  await core.tab('two').watchQuery('todos', 1, { where: { done: true } });
  await core.tab('two').watchQuery('todos', 2, { where: { done: false } });
  const watchers = async () => (await core.api.diagnostics()).queries.map((query) => query.watchers);
  assert.deepEqual(await watchers(), [2, 1]);
  await core.tab('two').unwatchQuery(2);
  assert.deepEqual(await watchers(), [2]);
  await core.tab('two').detach();
  assert.deepEqual(await watchers(), [1]);
  const heard = two.updates.get(1)!.length;
  await core.api.upsert('todos', { id: 'x', title: 'x', done: true });
  assert.equal(two.updates.get(1)!.length, heard, 'a detached tab hears nothing');
  assert.deepEqual(one.ids(1), ['b', 'f', 'x']);
  // A tab whose port is gone (its listener throws) is dropped with its watches.
  one.query = () => {
    throw new Error('port closed');
  };
  await core.api.upsert('todos', { id: 'y', title: 'y', done: true });
  await waitFor(async () => (await watchers()).length === 0, 'the gone tab to be dropped');
  assert.deepEqual((await core.api.diagnostics()).tabs, []);
});

test('clearing the data sends every watch its window again', async () => {
  const core = await open();
  await seed(core.api);
  const tab = new QueryTab();
  await core.tab('t').attach(tab);
  await core.tab('t').watchQuery('todos', 3, { where: { done: false } });
  await core.tab('t').watchQuery('todos', 4, {}, 'count');
  assert.equal(tab.ids(3)?.length, 4);
  await core.api.clearLocalData();
  await waitFor(() => tab.ids(3)?.length === 0 && tab.counts.get(4) === 0, 'the watches to start over');
  await core.api.upsert('todos', tasks[0]!);
  assert.deepEqual(tab.ids(3), ['a']);
  assert.equal(tab.counts.get(4), 1);
});

test('without SharedWorker, a watch in one runtime follows the other runtime writes on the database', async () => {
  const { leader, follower } = await leaderAndFollower(cores, NOWHERE);
  const tab = new QueryTab();
  await follower.tab('f').attach(tab);
  await follower.tab('f').watchQuery('todos', 1, { where: { done: false }, orderBy: { title: 'asc' } });
  await leader.api.upsert('todos', { id: 'a', title: 'from the leader', done: false });
  await waitFor(() => tab.ids(1)?.join() === 'a', "the leader's write to reach the follower's watch");
  await follower.api.upsert('todos', { id: 'b', title: 'a follower write', done: false });
  assert.deepEqual(tab.ids(1), ['b', 'a']);
});

test('a window drained by deletes reads the rows after it from the index, and its tab sees no short window', async () => {
  const core = await open();
  const many = Array.from({ length: 60 }, (_, i): Task => ({ id: `t${String(i).padStart(2, '0')}`, title: `task ${i}`, done: false, listId: 'home', n: i }));
  await core.api.upsertMany('todos', many);
  const tab = new QueryTab();
  await core.tab('t').attach(tab);
  await core.tab('t').watchQuery('todos', 1, { where: { listId: 'home' }, orderBy: { n: 'asc' }, offset: 1, limit: 3 });
  assert.deepEqual(tab.ids(1), ['t01', 't02', 't03']);
  // More than the margin the window keeps loaded, one commit at a time and then together.
  for (const task of many.slice(0, 10)) await core.tab('t').delete('todos', task.id);
  await core.api.deleteMany('todos', many.slice(10, 30).map((task) => task.id));
  await waitFor(() => tab.counts.get(1) === 30, 'the deletes to reach the tab');
  await waitFor(() => tab.ids(1)?.join() === 't31,t32,t33', 'the window after the refill');
  let shown: StoredRecord[] = [];
  for (const update of tab.updates.get(1) ?? []) {
    shown = 'window' in update ? update.window : 'delta' in update ? applyDelta(shown, update.delta) : shown;
    assert.equal(shown.length, 3, 'every window the tab held was full');
  }
  await core.tab('t').upsert('todos', { ...many[0]!, n: 100 });
  await waitFor(() => tab.counts.get(1) === 31, 'a record past the loaded rows: the count only');
  assert.deepEqual(tab.ids(1), ['t31', 't32', 't33']);
});
