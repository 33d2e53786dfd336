/** `lf.batch` in the worker core: writes over several repositories commit in one transaction,
 *  go out as one `push_batch` that the real server stores whole, and reach another device as one
 *  `events_batch`; refused whole, naming the write, before anything is stored. */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import * as v from 'valibot';
import { TestServers } from './helpers/server';
import { RecordingTab, settled, TestCores, TodoSchema, waitFor, type TestCore } from './helpers/worker';

const NOWHERE = 'ws://127.0.0.1:9/sync';
const NoteSchema = v.object({ id: v.string(), text: v.string() });
const repositories = { todos: TodoSchema, notes: NoteSchema };
const cores = new TestCores();
const servers = new TestServers();

afterEach(async () => {
  await cores.closeAll();
  await servers.stopAll();
});

async function watchingBoth(core: TestCore): Promise<RecordingTab> {
  const tab = new RecordingTab();
  await core.tab('watcher').attach(tab);
  await core.tab('watcher').watch('todos');
  await core.tab('watcher').watch('notes');
  await waitFor(() => tab.lists.length === 2, 'the first lists');
  return tab;
}

const latest = (tab: RecordingTab, repository: string) => [...tab.lists].reverse().find((list) => list.repository === repository)?.records;

test('a batch over two repositories is one commit, one push_batch the server stores whole, and one events_batch elsewhere', async () => {
  const server = await servers.start();
  const core = await cores.open(server.syncUrl, { repositories });
  const other = await cores.open(server.syncUrl, { repositories });
  for (const c of [core, other]) {
    await c.api.start();
    await settled(c, 'the first catch-up');
  }
  const tab = await watchingBoth(core);
  const otherTab = await watchingBoth(other);

  await core.api.batch([
    { repository: 'todos', upsert: { id: 't1', title: 'plan', done: false } },
    { repository: 'notes', upsert: { id: 'n1', text: 'for the plan' } },
    { repository: 'todos', upsert: { id: 't2', title: 'do', done: false } },
  ]);
  assert.deepEqual(latest(tab, 'todos')?.map((r) => r.id), ['t1', 't2'], 'watchers have it once the call resolved');
  assert.deepEqual(latest(tab, 'notes')?.map((r) => r.id), ['n1']);
  await settled(core, 'the batch to be acknowledged');
  const frames = core.traffic.sent.filter((m) => m.type.startsWith('push'));
  assert.equal(frames.length, 1, 'one frame');
  assert.deepEqual(
    frames[0]?.type === 'push_batch' && frames[0].repositories.map((part) => [part.repository, part.events.map((e) => e.dataId)]),
    [['todos', ['t1', 't2']], ['notes', ['n1']]],
  );
  const log = await server.store.readLog('default', 0, 100);
  assert.deepEqual(log.map((e) => e.event.dataId).sort(), ['n1', 't1', 't2']);

  await waitFor(() => latest(otherTab, 'todos')?.length === 2 && latest(otherTab, 'notes')?.length === 1, 'the other device');
  assert.equal(other.traffic.receivedOf('events_batch').length, 1, 'the other device got it as one frame');
});

test('a batch is refused whole before anything is stored: a bad record, a record twice, an unknown repository', async () => {
  const core = await cores.open(NOWHERE, { repositories });
  const refusals: [string, unknown, string, RegExp][] = [
    ['a bad note', [{ repository: 'todos', upsert: { id: 't1', title: 'ok', done: false } }, { repository: 'notes', upsert: { id: 'n1', text: 7 } }], 'invalid_record', /writes\[1\] refused, and with it the whole batch/],
    ['twice', [{ repository: 'todos', delete: 't1' }, { repository: 'todos', upsert: { id: 't1', title: 'x', done: false } }], 'invalid_record', /\[0\] and \[1\] are both record/],
    ['unknown', [{ repository: 'todos', delete: 't1' }, { repository: 'nope', delete: 'x' }], 'unknown_repository', /writes\[1\]/],
    ['both', [{ repository: 'todos', delete: 't1', upsert: { id: 't1', title: 'x', done: false } }], 'invalid_record', /either upsert or delete/],
    ['not an array', { repository: 'todos' }, 'invalid_record', /array of writes/],
    ['too many', Array.from({ length: 501 }, (_, i) => ({ repository: 'todos', delete: `t${i}` })), 'too_large', /at most 500/],
  ];
  for (const [what, writes, code, message] of refusals) {
    await assert.rejects(core.api.batch(writes as never), (error: { code?: string; message?: string }) => {
      assert.equal(error.code, code, what);
      assert.match(error.message ?? '', message, what);
      return true;
    });
  }
  assert.equal(await core.api.get('todos', 't1'), undefined, 'nothing was stored');
  assert.deepEqual(await core.api.getAll('notes'), []);
  assert.equal((await core.api.status()).pending, 0, 'nothing was queued');
});

test('a batch among single writes goes in its own frame, the writes around it in theirs', async () => {
  const server = await servers.start();
  const core = await cores.open(server.syncUrl, { repositories });
  await Promise.all([
    core.api.upsert('todos', { id: 'before', title: 'b', done: false }),
    core.api.batch([{ repository: 'notes', upsert: { id: 'n', text: 'x' } }, { repository: 'todos', upsert: { id: 't', title: 't', done: true } }]),
    core.api.upsert('todos', { id: 'after', title: 'a', done: false }),
  ]);
  await core.api.start();
  await settled(core, 'everything acknowledged');
  const frames = core.traffic.sent.filter((m) => m.type.startsWith('push')).map((m) => m.type);
  assert.deepEqual(frames, ['push_event', 'push_batch', 'push_event']);
  assert.equal((await server.store.readLog('default', 0, 100)).length, 4);
});
