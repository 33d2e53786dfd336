/** Local writes in the worker core: durable before they resolve, validated, grouped, watched. */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import * as v from 'valibot';
import { MAX_DATA_DEPTH } from '../protocol/limits';
import type { SyncEvent } from '../protocol/messages';
import type { StoredRecord } from '../protocol/tab-api';
import type { RecordRow } from '../worker/storage/storage';
import { dumpDatabase, openTestCore, RecordingTab, type TestCore, TestCores, TodoSchema, waitFor } from './helpers/worker';

// Never started: these cores work offline and open no socket.
const NOWHERE = 'ws://127.0.0.1:9/sync';
const cores = new TestCores();
const open = (options: Parameters<typeof openTestCore>[1] = {}): Promise<TestCore> => cores.open(NOWHERE, options);

afterEach(() => cores.closeAll());

test('a write resolves only once its record and outbox entry are committed', async () => {
  const core = await open();
  await core.api.upsert('todos', { id: 'a', title: 'milk', done: false });
  // A second connection sees the commit as soon as the call resolved.
  const dump = await dumpDatabase(core.databaseName);
  const [record] = dump['records'] ?? [];
  assert.deepEqual(record?.key, ['todos', 'a']);
  const row = record?.value as RecordRow;
  assert.deepEqual(row.data, { id: 'a', title: 'milk', done: false });
  assert.equal(row.deleted, false);
  const entries = dump['outbox']?.map((e) => e.value as { repository: string; event: SyncEvent }) ?? [];
  assert.equal(entries.length, 1);
  assert.equal(entries[0]?.repository, 'todos');
  assert.deepEqual(entries[0]?.event, { eventId: row.eventId, dataId: 'a', operation: 0, createdAt: row.createdAt, data: row.data });
  assert.equal((await core.api.status()).pending, 1);
});

test('updates and deletes are events that never go back in time; a delete keeps a tombstone', async () => {
  const core = await open();
  await core.api.upsert('todos', { id: 'a', title: 'one', done: false });
  await core.api.upsert('todos', { id: 'a', title: 'two', done: true });
  await core.api.delete('todos', 'a');
  assert.equal(await core.api.get('todos', 'a'), undefined);
  assert.deepEqual(await core.api.getAll('todos'), []);

  const dump = await dumpDatabase(core.databaseName);
  const events = dump['outbox']?.map((e) => (e.value as { event: { operation: number; createdAt: string; data?: unknown } }).event) ?? [];
  assert.deepEqual(events.map((e) => e.operation), [0, 1, 2]);
  assert.equal(events[2]?.data, undefined);
  for (let i = 1; i < events.length; i++) assert.ok(events[i]!.createdAt > events[i - 1]!.createdAt, 'each event is newer than the one it replaces');
  const tombstone = dump['records']?.[0]?.value as { deleted: boolean; data?: unknown; createdAt: string };
  assert.equal(tombstone.deleted, true);
  assert.equal(tombstone.data, undefined);
  assert.equal(tombstone.createdAt, events[2]?.createdAt);
});

test('invalid records and unknown repositories are refused and stored nowhere', async () => {
  const core = await open();
  await assert.rejects(core.api.upsert('todos', { id: 'a', title: 'x'.repeat(501), done: false }), {
    name: 'SyncError',
    code: 'invalid_record',
  });
  await assert.rejects(core.api.upsert('todos', { id: 'a', title: 'ok' } as unknown as StoredRecord), { code: 'invalid_record' });
  await assert.rejects(core.api.upsert('todos', { id: '', title: 'ok', done: false }), { code: 'invalid_record' });
  await assert.rejects(core.api.upsert('notes', { id: 'a', title: 'ok', done: false }), { name: 'SyncError', code: 'unknown_repository' });
  await assert.rejects(core.api.delete('notes', 'a'), { code: 'unknown_repository' });
  await assert.rejects(core.api.getAll('__proto__'), { code: 'unknown_repository' });

  const dump = await dumpDatabase(core.databaseName);
  assert.deepEqual(dump['records'], []);
  assert.deepEqual(dump['outbox'], []);
  assert.equal((await core.api.status()).pending, 0);
});

test('records the server would refuse (too large, too deep, lone surrogates, U+0000) are refused before they are stored', async () => {
  const core = await open({ repositories: { notes: v.looseObject({ id: v.string() }) } });
  let deep: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < MAX_DATA_DEPTH; i++) deep = { deep };
  const refused = [
    { id: 'big', body: 'x'.repeat(1024 * 1024) },
    { id: 'deep', deep },
    { id: 'surrogate', body: 'broken \ud800 text' },
    { id: 'surrogate-key', ['\udfff']: 'x' },
    { id: 'nul', body: 'a\u0000b' },
  ];
  for (const record of refused) {
    await assert.rejects(core.api.upsert('notes', record), { code: 'invalid_record' }, record.id);
  }
  await core.api.upsert('notes', { id: 'emoji', body: 'paired 😀 surrogates are fine' });
  assert.equal((await dumpDatabase(core.databaseName))['outbox']?.length, 1);
});

test('parallel writes are committed together and watchers get one list per commit', async () => {
  const core = await open();
  const tab = new RecordingTab();
  await core.tab('tab-1').attach(tab);
  await core.tab('tab-1').watch('todos');
  assert.deepEqual(tab.lists.map((list) => [list.repository, list.records]), [['todos', []]]);

  const ids = Array.from({ length: 2000 }, (_, i) => `todo-${String(i).padStart(4, '0')}`);
  await Promise.all(ids.map((id) => core.api.upsert('todos', { id, title: id, done: false })));
  // A commit fans its change out before its writes resolve: every list of these writes came.
  assert.equal(tab.lists.length, 2, 'one list for the whole group commit, not one per write');
  assert.deepEqual(tab.lists[1]?.records.map((r) => r.id), ids, 'sorted by id');
  assert.equal((await core.api.status()).pending, 2000);
  assert.equal((await dumpDatabase(core.databaseName))['outbox']?.length, 2000);
});

test('a watcher sees live records only, and unwatch and detach stop the lists', async () => {
  const core = await open();
  await core.api.upsert('todos', { id: 'b', title: 'b', done: false });
  await core.api.upsert('todos', { id: 'a', title: 'a', done: true });
  await core.api.delete('todos', 'b');
  const tab = new RecordingTab();
  const other = new RecordingTab();
  await core.tab('tab-1').attach(tab);
  await core.tab('tab-2').attach(other);
  const witness = new RecordingTab();
  await core.tab('witness').attach(witness);
  await core.tab('tab-1').watch('todos');
  await core.tab('tab-2').watch('todos');
  await core.tab('witness').watch('todos');
  assert.deepEqual(tab.lists, [{ repository: 'todos', records: [{ id: 'a', title: 'a', done: true }] }]);

  await core.tab('tab-1').unwatch('todos');
  await core.tab('tab-2').detach();
  await core.api.upsert('todos', { id: 'c', title: 'c', done: false });
  // The change reached the tab still watching: it went to every tab it was going to.
  await waitFor(() => witness.lists.at(-1)?.records.some((r) => r.id === 'c'), 'the change at the watching tab');
  assert.equal(tab.lists.length, 1);
  assert.equal(other.lists.length, 1);
  await assert.rejects(core.tab('tab-2').watch('todos'), { code: 'closed' });
});

test('a tab whose listener throws is dropped and the others still get their lists', async () => {
  const core = await open();
  const healthy = new RecordingTab();
  const broken = new RecordingTab();
  let brokenCalls = 0;
  broken.records = () => {
    brokenCalls++;
    throw new Error('port closed');
  };
  await core.tab('healthy').attach(healthy);
  await core.tab('broken').attach(broken);
  await core.tab('healthy').watch('todos');
  await core.tab('broken').watch('todos');
  await core.api.upsert('todos', { id: 'a', title: 'a', done: false });
  await waitFor(() => healthy.lists.length === 2, 'the healthy tab list');
  await core.api.upsert('todos', { id: 'b', title: 'b', done: false });
  await waitFor(() => healthy.lists.length === 3, 'the next list');
  assert.equal(brokenCalls, 1, 'the broken tab was dropped after its first failure');
});

test('a failed commit rejects every write of its group and stores none', async () => {
  // A value IndexedDB cannot clone (a Proxy, plain to JSON) makes the transaction fail; the valid write sharing it fails too.
  const core = await open({ repositories: { todos: TodoSchema, loose: v.looseObject({ id: v.string() }) } });
  const results = await Promise.allSettled([
    core.api.upsert('todos', { id: 'fine', title: 'fine', done: false }),
    core.api.upsert('loose', { id: 'bad', handler: new Proxy({}, {}) }),
  ]);
  for (const result of results) {
    assert.equal(result.status, 'rejected');
    assert.deepEqual(result.status === 'rejected' && { name: result.reason.name, code: result.reason.code }, { name: 'SyncError', code: 'storage_failed' });
  }
  const dump = await dumpDatabase(core.databaseName);
  assert.deepEqual(dump['records'], []);
  assert.deepEqual(dump['outbox'], []);
  // The queue keeps working after a failure.
  await core.api.upsert('todos', { id: 'next', title: 'next', done: false });
  assert.deepEqual(await core.api.get('todos', 'next'), { id: 'next', title: 'next', done: false });
});

test('a closed core refuses calls', async () => {
  const core = await open();
  await core.close();
  await assert.rejects(core.api.upsert('todos', { id: 'a', title: 'a', done: false }), { code: 'closed' });
});
