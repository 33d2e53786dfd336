/** A record JSON would not bring back equal is refused at once, named by its field, and stored nowhere. */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import * as v from 'valibot';
import { TestServers } from './helpers/server';
import { dumpDatabase, settled, TestCores } from './helpers/worker';

const servers = new TestServers();
const cores = new TestCores();
afterEach(async () => {
  await cores.closeAll();
  await servers.stopAll();
});

const repositories = {
  // What an app writes when it reaches for v.date(): it type-checks and works locally.
  events: v.object({ id: v.string(), title: v.string(), at: v.date() }),
  notes: v.looseObject({ id: v.string() }),
};

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

const refused: [what: string, record: Record<string, unknown>, message: RegExp][] = [
  ['a Map', { id: 'map', tags: new Map([['a', 1]]) }, /field tags is a Map/],
  ['a Set', { id: 'set', meta: { seen: new Set(['a']) } }, /field meta\.seen is a Set/],
  ['undefined in an array', { id: 'hole', list: [1, undefined, 3] }, /field list\[1\] is undefined/],
  ['NaN', { id: 'nan', score: Number.NaN }, /field score is NaN/],
  ['Infinity', { id: 'inf', rows: [{ size: Number.POSITIVE_INFINITY }] }, /field rows\[0\]\.size is Infinity/],
  ['a BigInt', { id: 'big', count: 10n }, /field count is a bigint/],
  ['a class instance', { id: 'point', at: new Point(1, 2) }, /field at is a Point/],
];

test('a v.date() field is refused with invalid_record naming it; nothing is stored locally, queued or sent', async () => {
  const s = await servers.start();
  const c = await cores.open(s.syncUrl, { repositories });
  await c.api.start();
  await settled(c);
  await assert.rejects(c.api.upsert('events', { id: 'e1', title: 'launch', at: new Date() }), (error: { code: string; message: string }) => {
    assert.equal(error.code, 'invalid_record');
    assert.match(error.message, /events record e1 cannot be synced: field at is a Date/);
    return true;
  });
  await c.api.upsert('notes', { id: 'plain', text: 'fine', optional: undefined, nested: { list: [1, 'two', null, [false]] } });
  await settled(c);
  assert.deepEqual((await s.store.readLog('default', 0, 10)).map((e) => e.event.dataId), ['plain']);
  assert.deepEqual(await c.api.getAll('events'), []);
  const dump = JSON.stringify(await dumpDatabase(c.databaseName));
  assert.ok(dump.includes('"plain"'), 'the dump holds the accepted record');
  assert.ok(!dump.includes('launch'), 'the refused record is nowhere in IndexedDB, records or outbox');
});

test('Map, Set, undefined in arrays, NaN, Infinity, BigInt and class instances are refused, each named by its path', async () => {
  const s = await servers.start();
  const c = await cores.open(s.syncUrl, { repositories });
  for (const [what, record, message] of refused) {
    await assert.rejects(c.api.upsert('notes', record as { id: string }), (error: { code: string; message: string }) => {
      assert.equal(error.code, 'invalid_record', what);
      assert.match(error.message, message, what);
      return true;
    });
  }
  assert.deepEqual(await c.api.getAll('notes'), []);
  assert.equal((await c.api.status()).pending, 0);
});
