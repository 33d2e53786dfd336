/**
 * The facade's upserts and deletes of one task go to the worker as one `writes` call
 * (src/queued-writes.ts), against the real worker core over a MessageChannel: each still
 * resolves after its own commit, a refused one fails alone, and they apply in call order.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { expose, type Endpoint } from 'comlink';
import type { QueuedWrite, SyncWorkerApi } from '../protocol/tab-api';
import { connect, type SyncClient } from '../src';
import { deferredApi } from '../worker/entry/deferred-api';
import { TestCores, waitFor, type TestCore } from './helpers/worker';

type Todo = { id: string; title: string; done: boolean };

const cores = new TestCores();
const clients: SyncClient[] = [];
const ports: MessagePort[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const port of ports.splice(0)) port.close();
  await cores.closeAll();
});

/** A tab on `core` whose worker records the `writes` calls it answers (the writes of each);
 *  `older`: a worker of a runtime from before `writes`, which has no such call. */
function tabRecordingWrites(core: Promise<TestCore>, older = false): { client: SyncClient; calls: (readonly QueuedWrite[])[] } {
  const calls: (readonly QueuedWrite[])[] = [];
  const recording = (api: SyncWorkerApi): SyncWorkerApi => {
    const { writes: _writes, ...before } = api;
    if (older) return before as SyncWorkerApi;
    return {
      ...api,
      writes: (writes, retried) => {
        calls.push(writes);
        return api.writes(writes, retried);
      },
    };
  };
  const worker = () => {
    const { port1, port2 } = new MessageChannel();
    ports.push(port1, port2);
    expose(deferredApi(core.then((opened) => ({ ...opened, openSession: () => recording(opened.openSession()) }))), port1 as unknown as Endpoint);
    return port2;
  };
  const client = connect({ worker, autoStart: false });
  clients.push(client);
  return { client, calls };
}

describe('upserts and deletes of one task, in one message', () => {
  it('go to the worker as one call; each resolves after its commit, and a refused one fails alone', async () => {
    const { client, calls } = tabRecordingWrites(cores.open('ws://127.0.0.1:9/sync'));
    const todos = client.repository<Todo>('todos');
    const lists: Todo[][] = [];
    todos.watch((records) => lists.push([...records]));
    await waitFor(() => lists.length === 1, 'the first list');

    const outcomes = await Promise.allSettled([
      todos.upsert({ id: 'a', title: 'first', done: false }),
      todos.upsert({ id: 'b', title: 42 } as unknown as Todo),
      todos.upsert({ id: 'c', title: 'third', done: true }),
      todos.delete('not-there'),
    ]);
    assert.deepEqual(outcomes.map((outcome) => outcome.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    assert.equal((outcomes[1] as PromiseRejectedResult).reason.code, 'invalid_record');
    assert.equal((outcomes[1] as PromiseRejectedResult).reason.name, 'SyncError');
    assert.deepEqual(calls.map((writes) => writes.length), [4], 'the four writes in one message');
    // Resolved means committed: the worker reads them back, and so did this tab's watcher.
    assert.deepEqual(await todos.getAll(), [{ id: 'a', title: 'first', done: false }, { id: 'c', title: 'third', done: true }]);
    assert.deepEqual(lists.at(-1), [{ id: 'a', title: 'first', done: false }, { id: 'c', title: 'third', done: true }]);
    assert.equal((await client.diagnostics()).outbox.pending, 3, 'the refused write queued nothing');
  });

  it('apply in the order they were made, and writes of a later task go in a message of their own', async () => {
    const { client, calls } = tabRecordingWrites(cores.open('ws://127.0.0.1:9/sync'));
    const todos = client.repository<Todo>('todos');
    const first = [todos.upsert({ id: 'a', title: 'then deleted', done: false }), todos.delete('a'), todos.upsert({ id: 'b', title: 'old', done: false }), todos.upsert({ id: 'b', title: 'new', done: true })];
    await Promise.all(first);
    await todos.upsert({ id: 'c', title: 'later', done: false });
    assert.deepEqual(calls.map((writes) => writes.map(([name, , target]) => (name === 'delete' ? `-${target}` : `${target.id}`))), [['a', '-a', 'b', 'b'], ['c']]);
    assert.deepEqual(await todos.getAll(), [{ id: 'b', title: 'new', done: true }, { id: 'c', title: 'later', done: false }]);
  });

  it('the worker refuses a malformed queued write alone, and a call that is not an array whole', async () => {
    const core = await cores.open('ws://127.0.0.1:9/sync');
    const outcomes = await core.api.writes([['upsert', 'todos', { id: 'ok', title: 'fine', done: false }, 'e-1'], ['patch', 'todos', 'ok', 'e-2'] as unknown as QueuedWrite, ['delete', 'nowhere', 'x', 'e-3']]);
    assert.equal(outcomes[0], null);
    assert.deepEqual([outcomes[1], outcomes[2]].map((outcome) => (outcome as { code?: string } | null)?.code), ['invalid_record', 'unknown_repository']);
    await assert.rejects(core.api.writes('nope' as unknown as QueuedWrite[]), { code: 'invalid_record' });
    assert.deepEqual(await core.api.getAll('todos'), [{ id: 'ok', title: 'fine', done: false }]);
  });

  it('go one call each to an older worker that has no writes call (same worker URL, an old tab still open)', async () => {
    const { client } = tabRecordingWrites(cores.open('ws://127.0.0.1:9/sync'), true);
    const todos = client.repository<Todo>('todos');
    const outcomes = await Promise.allSettled([
      todos.upsert({ id: 'a', title: 'first', done: false }),
      todos.upsert({ id: 'b', title: 42 } as unknown as Todo),
      todos.delete('a'),
      todos.upsert({ id: 'c', title: 'third', done: true }),
    ]);
    assert.deepEqual(outcomes.map((outcome) => outcome.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    assert.equal((outcomes[1] as PromiseRejectedResult).reason.code, 'invalid_record');
    await todos.upsert({ id: 'd', title: 'a later task', done: false });
    assert.deepEqual(await todos.getAll(), [{ id: 'c', title: 'third', done: true }, { id: 'd', title: 'a later task', done: false }]);
  });
});
