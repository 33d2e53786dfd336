/** One-repository batches (upsertMany, deleteMany) and partial updates (patch) in the worker core:
 *  one transaction, one change for watchers, one push frame the real server stores whole;
 *  refused whole before anything is stored. */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import * as v from 'valibot';
import type { StoredRecord } from '../protocol/tab-api';
import type { RecordRow } from '../worker/storage/storage';
import { startTestServer, TestServers } from './helpers/server';
import { dumpDatabase, RecordingTab, settled, TestCores, TodoSchema, waitFor } from './helpers/worker';

// Never started: these cores work offline and open no socket.
const NOWHERE = 'ws://127.0.0.1:9/sync';
const NoteSchema = v.looseObject({ id: v.string() });
const repositories = { todos: TodoSchema, notes: NoteSchema };
const cores = new TestCores();
const servers = new TestServers();

afterEach(async () => {
  await cores.closeAll();
  await servers.stopAll();
});

const todos = (count: number, from = 0): StoredRecord[] =>
  Array.from({ length: count }, (_, i) => ({ id: `r${String(from + i).padStart(4, '0')}`, title: `todo ${from + i}`, done: false }));

/** The lists a watching tab went through after its first one. */
async function watching(core: Awaited<ReturnType<TestCores['open']>>, id = 'watcher'): Promise<RecordingTab> {
  const tab = new RecordingTab();
  await core.tab(id).attach(tab);
  await core.tab(id).watch('todos');
  await waitFor(() => tab.lists.length === 1, 'the first list');
  return tab;
}

test('upsertMany of 100 records is one commit: one change to a watching tab, one push frame, all on the server', async () => {
  const server = await servers.start();
  const core = await cores.open(server.syncUrl, { repositories });
  await core.api.start();
  await settled(core, 'the first catch-up');
  const tab = await watching(core);
  const other = await cores.open(server.syncUrl, { repositories });
  await other.api.start();
  await settled(other, 'the other device to catch up');
  const otherTab = await watching(other);

  await core.api.upsertMany('todos', todos(100));
  assert.equal(tab.lists.length, 2, 'exactly one change once the call resolved');
  assert.deepEqual(tab.lists[1]?.records, todos(100));
  await settled(core, 'the batch to be acknowledged');
  const pushes = core.traffic.sent.filter((m) => m.type === 'push_events_batch' || m.type === 'push_event');
  assert.equal(pushes.length, 1);
  assert.equal(pushes[0]?.type === 'push_events_batch' && pushes[0].events.length, 100);
  const log = await server.store.readLog('default', 0, 1000);
  assert.deepEqual(log.map((e) => e.event.data).sort((a, b) => ((a?.id as string) < (b?.id as string) ? -1 : 1)), todos(100));

  // Another device hears it as one change too.
  await waitFor(() => otherTab.lists.at(-1)?.records.length === 100, 'the other device to get the batch');
  assert.equal(otherTab.lists.length, 2);
});

test('upsertMany resolves once durable: a new core on the same database has every record and outbox entry', async () => {
  const first = await cores.open(NOWHERE, { repositories });
  await first.api.upsertMany('todos', todos(100));
  await first.close();
  const second = await cores.open(NOWHERE, { repositories, databaseName: first.databaseName });
  assert.deepEqual(await second.api.getAll('todos'), todos(100));
  assert.equal((await second.api.status()).pending, 100);
  const outbox = (await dumpDatabase(first.databaseName))['outbox']?.map((e) => e.value as { group?: string }) ?? [];
  assert.equal(new Set(outbox.map((e) => e.group)).size, 1, 'the entries carry one group');
  assert.equal(typeof outbox[0]?.group, 'string');
});

test('an invalid record at index 57 refuses the whole upsertMany, naming it; nothing of it is stored', async () => {
  const core = await cores.open(NOWHERE, { repositories });
  const records = todos(100);
  records[57] = { id: 'r0057', title: 'x'.repeat(501), done: false };
  await assert.rejects(core.api.upsertMany('todos', records), (error: { code: string; message: string }) => {
    assert.equal(error.code, 'invalid_record');
    assert.match(error.message, /records\[57\] \(id "r0057"\)/);
    assert.match(error.message, /title/);
    return true;
  });
  const notes: StoredRecord[] = [{ id: 'n0' }, { id: 'n1' }, { id: 'n2' }, { id: 'n3', at: new Date(0) }];
  await assert.rejects(core.api.upsertMany('notes', notes), { code: 'invalid_record', message: /records\[3\] \(id "n3"\).*field at is a Date/ });
  const dump = await dumpDatabase(core.databaseName);
  assert.deepEqual(dump['records'], []);
  assert.deepEqual(dump['outbox'], []);
  assert.equal((await core.api.status()).pending, 0);
});

test('upsertMany refuses repeated ids, non-arrays and more than one push frame holds, up front', async () => {
  const core = await cores.open(NOWHERE, { repositories });
  const repeated = [...todos(3), { id: 'r0001', title: 'again', done: true }];
  await assert.rejects(core.api.upsertMany('todos', repeated), { code: 'invalid_record', message: /\[1\] and \[3\] are both record "r0001"/ });
  await assert.rejects(core.api.upsertMany('todos', { id: 'a' } as unknown as StoredRecord[]), { code: 'invalid_record' });
  await assert.rejects(core.api.upsertMany('todos', todos(501)), { code: 'too_large', message: /at most 500/ });
  // Each fits in a frame alone, the three together do not: the server would have to take them in two.
  const large = [0, 1, 2].map((i) => ({ id: `big${i}`, body: 'x'.repeat(400_000) }));
  await assert.rejects(core.api.upsertMany('notes', large), { code: 'too_large', message: /one push frame/ });
  await assert.rejects(core.api.upsertMany('nope', todos(1)), { code: 'unknown_repository' });
  await core.api.upsertMany('todos', []);
  assert.deepEqual((await dumpDatabase(core.databaseName))['records'], []);
  await core.api.upsertMany('todos', todos(500));
  assert.equal((await core.api.getAll('todos')).length, 500);
});

test('a retried upsertMany whose events are in the outbox is not applied again', async () => {
  const core = await cores.open(NOWHERE, { repositories });
  await core.api.upsertMany('todos', todos(10), 'call-1');
  await core.api.upsertMany('todos', todos(10), 'call-1', true);
  assert.equal((await core.api.status()).pending, 10);
  const ids = (await dumpDatabase(core.databaseName))['outbox']?.map((e) => (e.value as { event: { eventId: string } }).event.eventId);
  assert.deepEqual(ids, Array.from({ length: 10 }, (_, i) => `call-1-${i}`));
  await assert.rejects(core.api.upsertMany('todos', todos(1), 'x'.repeat(61)), { code: 'invalid_record', message: /eventId/ });
});

test('deleteMany deletes every id in one change, and the server ends with them deleted', async () => {
  const server = await servers.start();
  const core = await cores.open(server.syncUrl, { repositories });
  await core.api.start();
  await core.api.upsertMany('todos', todos(20));
  const tab = await watching(core);
  const gone = todos(15).map((todo) => todo.id);
  await core.api.deleteMany('todos', gone);
  assert.equal(tab.lists.length, 2);
  assert.deepEqual(tab.lists[1]?.records, todos(5, 15));
  await settled(core, 'the deletes to be acknowledged');
  const fresh = await cores.open(server.syncUrl, { repositories });
  await fresh.api.start();
  await settled(fresh, 'a new device to catch up');
  assert.deepEqual(await fresh.api.getAll('todos'), todos(5, 15));
  await assert.rejects(core.api.deleteMany('todos', ['a', '']), { code: 'invalid_record', message: /ids\[1\]/ });
  await assert.rejects(core.api.deleteMany('todos', ['a', 'a']), { code: 'invalid_record' });
});

test('patch merges into the current record and validates the result', async () => {
  const core = await cores.open(NOWHERE, { repositories });
  await core.api.upsert('todos', { id: 'a', title: 'milk', done: false });
  await core.api.patch('todos', 'a', { done: true });
  assert.deepEqual(await core.api.get('todos', 'a'), { id: 'a', title: 'milk', done: true });
  const rows = (await dumpDatabase(core.databaseName))['outbox']?.map((e) => (e.value as { event: { operation: number; data: unknown } }).event);
  assert.deepEqual(rows?.at(-1)?.data, { id: 'a', title: 'milk', done: true });
  assert.equal(rows?.at(-1)?.operation, 1);

  // The merged record is what is validated: a patch that makes it invalid is refused, nothing changes.
  await assert.rejects(core.api.patch('todos', 'a', { title: 'x'.repeat(501) }), { code: 'invalid_record', message: /title/ });
  await assert.rejects(core.api.patch('todos', 'a', { done: 'yes' }), { code: 'invalid_record' });
  await assert.rejects(core.api.patch('todos', 'a', { done: undefined }), { code: 'invalid_record', message: /done is undefined/ });
  await assert.rejects(core.api.patch('todos', 'a', { id: 'b' }), { code: 'invalid_record', message: /id/ });
  await assert.rejects(core.api.patch('todos', 'a', [] as unknown as Record<string, unknown>), { code: 'invalid_record' });
  assert.deepEqual(await core.api.get('todos', 'a'), { id: 'a', title: 'milk', done: true });
  assert.equal((await core.api.status()).pending, 2);
});

test('patch of a missing or deleted record is not_found, and takes no other write of its commit down', async () => {
  const core = await cores.open(NOWHERE, { repositories });
  await assert.rejects(core.api.patch('todos', 'never', { done: true }), { code: 'not_found', message: /never/ });
  await core.api.upsert('todos', { id: 'a', title: 'milk', done: false });
  await core.api.delete('todos', 'a');
  await assert.rejects(core.api.patch('todos', 'a', { done: true }), { code: 'not_found' });
  // Written in the same task, both share one commit: the refused patch leaves the upsert stored.
  const [patched, upserted] = await Promise.allSettled([core.api.patch('todos', 'b', { done: true }), core.api.upsert('todos', { id: 'c', title: 'tea', done: false })]);
  assert.equal(patched.status, 'rejected');
  assert.equal(upserted.status, 'fulfilled');
  assert.deepEqual(await core.api.getAll('todos'), [{ id: 'c', title: 'tea', done: false }]);
  const tombstone = (await dumpDatabase(core.databaseName))['records']?.find((r) => (r.value as RecordRow).id === 'a')?.value as RecordRow;
  assert.equal(tombstone.deleted, true);
});

test('a patch in the same commit as an upsert of its record merges into that upsert', async () => {
  const core = await cores.open(NOWHERE, { repositories });
  await Promise.all([core.api.upsert('todos', { id: 'a', title: 'milk', done: false }), core.api.patch('todos', 'a', { done: true })]);
  assert.deepEqual(await core.api.get('todos', 'a'), { id: 'a', title: 'milk', done: true });
});

/** The sizes of the push frames a core sent. */
const frameSizes = (core: Awaited<ReturnType<TestCores['open']>>): number[] =>
  core.traffic.sent.flatMap((m) => (m.type === 'push_events_batch' ? [m.events.length] : m.type === 'push_event' ? [1] : []));

/** Writes `singles` single upserts and then a batch of 100 offline, connects, and returns the
 *  push frames' sizes and how many records the server stored. */
async function drainedOnline(singles: number): Promise<{ frames: number[]; stored: number }> {
  const server = await servers.start();
  const core = await cores.open(server.syncUrl, { repositories });
  await Promise.all(todos(singles).map((todo) => core.api.upsert('todos', todo)));
  await core.api.upsertMany('todos', todos(100, singles));
  await core.api.start();
  await settled(core, 'the outbox to drain');
  const log = await server.store.readLog('default', 0, 2000);
  return { frames: frameSizes(core), stored: new Set(log.map((e) => e.event.dataId)).size };
}

test('a many-write never straddles two push frames: the writes before it fill a frame of their own', async () => {
  // 450 single writes, then a batch of 100 that would fill the first frame up to 500.
  assert.deepEqual(await drainedOnline(450), { frames: [450, 100], stored: 550 });
});

test('a read of the outbox that ends inside a many-write leaves all of it to the next frame', async () => {
  // Two frames' worth are read at once (1000 entries): the read ends 50 entries into the batch.
  assert.deepEqual(await drainedOnline(950), { frames: [500, 450, 100], stored: 1050 });
});

test('a many-write the server refuses is stored none of: the worker sets all of it aside, later writes go', async () => {
  // The server's schema refuses what the worker's takes: a title saying so.
  const title = v.pipe(v.string(), v.check((text) => text !== 'refused by the server'));
  const server = await startTestServer({}, { hooks: { schemas: { todos: v.object({ id: v.string(), title, done: v.boolean() }) } } });
  try {
    const core = await cores.open(server.syncUrl, { repositories });
    await core.api.start();
    await settled(core, 'the first catch-up');
    const records = todos(100);
    records[57] = { ...records[57]!, title: 'refused by the server' };
    await core.api.upsertMany('todos', records);
    await waitFor(async () => (await core.api.status()).pending === 0, 'the refusal');
    assert.deepEqual(await server.store.readLog('default', 0, 1000), []);
    const { setAside } = (await core.api.diagnostics()).outbox;
    assert.ok(setAside.length > 0 && setAside.every((write) => write.code === 'invalid_record'));
    await core.api.upsert('todos', { id: 'after', title: 'fine', done: false });
    await settled(core, 'the next write to be acknowledged');
    assert.deepEqual((await server.store.readLog('default', 0, 1000)).map((e) => e.event.dataId), ['after']);
  } finally {
    await cores.closeAll();
    await server.stop();
  }
});
