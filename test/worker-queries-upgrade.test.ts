/**
 * Declared query indexes and the database: an index declared later is added by an upgrade that
 * loses no record and then serves; deployments that declare different indexes converge on their
 * union instead of upgrading back and forth; a database without query indexes keeps its version.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { openDB } from 'idb';
import type { IndexDeclarations } from '../worker/local/query/indexes';
import { STEP } from '../worker/storage/idb-versions';
import { dumpDatabase, TestCores, uniqueDatabaseName, waitFor, type TestCore } from './helpers/worker';
import { QueryTab, TaskSchema, type Task } from './helpers/queries';

const NOWHERE = 'ws://127.0.0.1:9/sync';
const cores = new TestCores();
afterEach(() => cores.closeAll());

const open = (databaseName: string, indexes?: IndexDeclarations, more: Parameters<TestCores['open']>[1] = {}): Promise<TestCore> =>
  cores.open(NOWHERE, { databaseName, repositories: { todos: TaskSchema }, ...(indexes && { indexes }), ...more });

async function shape(databaseName: string): Promise<{ version: number; indexes: string[] }> {
  const db = await openDB(databaseName);
  try {
    return { version: db.version, indexes: [...db.transaction('records').store.indexNames].sort() };
  } finally {
    db.close();
  }
}

const task = (i: number): Task => ({ id: `t${String(i).padStart(3, '0')}`, title: `task ${i}`, done: i % 3 === 0, listId: i % 2 ? 'odd' : 'even', n: i });

/** The plan diagnostics show for a watch of this query. */
async function planOf(core: TestCore, query: object): Promise<string | undefined> {
  await core.tab('probe').attach(new QueryTab());
  await core.tab('probe').watchQuery('todos', 1, query);
  const plan = (await core.api.diagnostics()).queries[0]?.plan;
  await core.tab('probe').unwatchQuery(1);
  return plan;
}

test('an index declared later is added by an upgrade: no record lost, and the queries are served from it', async () => {
  const databaseName = uniqueDatabaseName();
  const before = await open(databaseName);
  for (let i = 0; i < 60; i++) await before.api.upsert('todos', task(i));
  await before.api.delete('todos', 't000');
  assert.equal(await planOf(before, { where: { done: true } }), 'scan');
  await before.close();
  assert.deepEqual(await shape(databaseName), { version: 1, indexes: [] }, 'no query index: the version stays as it was');

  const after = await open(databaseName, { todos: ['done', ['listId', 'n']] });
  assert.deepEqual(await shape(databaseName), { version: STEP, indexes: ['query:todos:done', 'query:todos:listId+n'] });
  assert.equal((await after.api.getAll('todos')).length, 59, 'every record kept');
  const rows = (await dumpDatabase(databaseName))['records']!.map((entry) => entry.value as { deleted: boolean; keys?: unknown });
  assert.equal(rows.length, 60, 'the tombstone too');
  assert.ok(rows.every((row) => row.deleted === (row.keys === undefined)), 'every live row carries its keys, a tombstone none');
  assert.equal(await planOf(after, { where: { done: true } }), 'index done');
  assert.equal(await planOf(after, { where: { listId: 'odd' }, orderBy: { n: 'desc' }, limit: 3 }), 'index listId+n');
  const expected = Array.from({ length: 60 }, (_, i) => task(i)).filter((t) => t.listId === 'odd').sort((a, b) => b.n! - a.n!).slice(0, 3);
  assert.deepEqual(await after.api.query('todos', { where: { listId: 'odd' }, orderBy: { n: 'desc' }, limit: 3 }), expected);
  assert.equal(await after.api.count('todos', { where: { done: true } }), 19);
  // Written after the upgrade: in the index at once.
  await after.api.upsert('todos', { ...task(99), done: true });
  assert.equal(await after.api.count('todos', { where: { done: true } }), 20);
});

test('deployments declaring different indexes converge on the union: the first retires once, then neither upgrades', async () => {
  const databaseName = uniqueDatabaseName();
  let retired = 0;
  const first = await open(databaseName, { todos: ['done'] }, { onRetired: () => retired++ });
  await first.api.upsert('todos', task(1));
  let secondRetired = 0;
  const second = await open(databaseName, { todos: ['done', 'title'] }, { onRetired: () => secondRetired++ });
  await waitFor(() => retired === 1, 'the first deployment to retire (its tabs reload)');
  assert.deepEqual(await shape(databaseName), { version: STEP + 1, indexes: ['query:todos:done', 'query:todos:title'] });

  // The first deployment's code again (an old tab that reloaded late): its indexes are there.
  const again = await open(databaseName, { todos: ['done'] });
  assert.equal((await shape(databaseName)).version, STEP + 1, 'no upgrade');
  await again.api.upsert('todos', task(2));
  // Its write keeps the index it does not declare: the second deployment finds it along it.
  assert.deepEqual((await second.api.query('todos', { where: { title: 'task 2' } })).map((t) => t.id), ['t002']);
  assert.equal(await planOf(second, { where: { title: 'task 2' } }), 'index title');
  assert.equal(secondRetired, 0, 'the second deployment still runs');
  assert.equal((await second.api.getAll('todos')).length, 2);
});

test('a newer schemaVersion drops the indexes no longer declared; an older one is refused by an indexed database', async () => {
  const databaseName = uniqueDatabaseName();
  const indexed = await open(databaseName, { todos: ['done', 'title'] });
  await indexed.api.upsert('todos', task(3));
  await indexed.close();
  const next = await open(databaseName, { todos: ['title'] }, { schemaVersion: 2 });
  assert.deepEqual(await shape(databaseName), { version: 2 * STEP, indexes: ['query:todos:title'] });
  assert.equal(await next.api.count('todos', { where: { title: 'task 3' } }), 1);
  await next.close();
  const older = await open(databaseName, undefined, { schemaVersion: 1 });
  assert.equal(older.storageMode(), 'memory', 'a runtime of an older schema never runs on the newer database');
});

test('a bad index declaration fails the start, naming it', async () => {
  const databaseName = uniqueDatabaseName();
  await assert.rejects(open(databaseName, { todos: ['a b'] }), /indexes\.todos: "a b" is not a field name/);
  await assert.rejects(open(databaseName, { notes: ['done'] }), /indexes\.notes: no such repository/);
  await assert.rejects(open(databaseName, { todos: ['done', 'done'] }), /declared twice/);
});
