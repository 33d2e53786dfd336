/**
 * A batch another device committed across repositories (`push_batch`) reaches this worker as ONE
 * `events_batch` frame, which it asked for in its `auth`, and is applied as one change: both
 * repositories' records and cursors, through the real server.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { nanoid } from 'nanoid';
import * as v from 'valibot';
import { EVENTS_BATCH_FEATURE, type SyncEvent } from '../protocol/messages';
import { authed, type AuthedClient } from './helpers/client';
import { TestServers } from './helpers/server';
import { dumpDatabase, RecordingTab, settled, TestCores, TodoSchema, waitFor } from './helpers/worker';

const servers = new TestServers();
const cores = new TestCores();
const clients: AuthedClient[] = [];
const NoteSchema = v.object({ id: v.string(), text: v.string() });

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await cores.closeAll();
  await servers.stopAll();
});

function insert(id: string, data: Record<string, unknown>): SyncEvent {
  return { eventId: nanoid(), dataId: id, operation: 0, createdAt: new Date().toISOString(), data: { id, ...data } };
}

test('a batch over two repositories arrives as one events_batch frame and lands in both, cursors included', async () => {
  const s = await servers.start();
  const c = await cores.open(s.syncUrl, { repositories: { todos: TodoSchema, notes: NoteSchema } });
  const tab = new RecordingTab();
  await c.tab('tab').attach(tab);
  await c.tab('tab').watch('todos');
  await c.tab('tab').watch('notes');
  await c.api.start();
  await settled(c);
  assert.deepEqual(c.traffic.sentOf('auth').at(-1)?.features, [EVENTS_BATCH_FEATURE], 'the worker asks for batches as one frame');

  const other = await authed(s.syncUrl);
  clients.push(other);
  const todos = [insert('t1', { title: 'one', done: false }), insert('t2', { title: 'two', done: true })];
  const notes = [insert('n1', { text: 'with the todos' })];
  other.send({ type: 'push_batch', repositories: [{ repository: 'todos', events: todos }, { repository: 'notes', events: notes }] });
  await other.next('ack');

  const seen = (repository: string, count: number) => tab.lists.some((list) => list.repository === repository && list.records.length === count);
  await waitFor(() => seen('todos', 2) && seen('notes', 1), 'both repositories of the batch');
  const batches = c.traffic.receivedOf('events_batch');
  assert.equal(batches.length, 1, 'one frame for the batch');
  assert.deepEqual(batches[0]?.repositories.map((part) => part.repository), ['todos', 'notes']);
  const liveEvents = c.traffic.receivedOf('events').flatMap((frame) => frame.events.map((event) => event.eventId));
  assert.equal(liveEvents.filter((id) => [...todos, ...notes].some((event) => event.eventId === id)).length, 0, 'not also as events frames');
  assert.deepEqual((await c.api.get('notes', 'n1'))?.['text'], 'with the todos');
  // A fresh namespace: the batch holds sequences 1–3, the todos part first. Each cursor stands at
  // its repository's last event, as after a live `events` frame.
  assert.equal(await s.store.maxSequence('default'), 3);
  const cursors = (await dumpDatabase(c.databaseName))['cursors'] as { key: string; value: number }[];
  assert.deepEqual(cursors.sort((a, b) => a.key.localeCompare(b.key)), [{ key: 'notes', value: 3 }, { key: 'todos', value: 2 }]);
});
