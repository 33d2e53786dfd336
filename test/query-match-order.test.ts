/** where as a predicate, the order across types, and the IndexedDB keys that sort the same way. */
import 'fake-indexeddb/auto';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeQuery, type QueryInput } from '../protocol/query';
import { compileWhere } from '../worker/local/query/match';
import { compareValues, rowComparator } from '../worker/local/query/order';
import { compareKeys, encodeValue } from '../worker/local/query/keys';
import { randomValue, seeded } from './query-random';

function where(input: QueryInput['where']) {
  const result = normalizeQuery({ where: input });
  if (!result.ok) throw new Error(result.error.message);
  return compileWhere(result.query.where);
}

test('equality: same type and value; null matches null and a missing field', () => {
  assert.equal(where({ done: false })({ done: false }), true);
  assert.equal(where({ done: false })({ done: 0 }), false, 'no coercion');
  assert.equal(where({ done: false })({}), false);
  assert.equal(where({ n: 1 })({ n: '1' }), false);
  assert.equal(where({ n: 0 })({ n: -0 }), true);
  assert.equal(where({ note: null })({ note: null }), true);
  assert.equal(where({ note: null })({}), true);
  assert.equal(where({ note: null })({ note: '' }), false);
  assert.equal(where({ constructor_: 'x' })({}), false);
  assert.equal(where({ toString: 'x' })({}), false, 'inherited properties are not fields');
});

test('ranges compare within the bound\'s type; a missing field never matches one', () => {
  const between = where({ priority: { gte: 2, lt: 5 } });
  assert.deepEqual([1, 2, 4.9, 5, '3', null, undefined].map((priority) => between(priority === undefined ? {} : { priority })), [false, true, true, false, false, false, false]);
  const after = where({ title: { gt: 'b' } });
  assert.deepEqual(['a', 'b', 'ba', 'c', 3, true].map((title) => after({ title })), [false, false, true, true, false, false]);
  assert.equal(where({ n: { lte: 3 } })({ n: 3 }), true);
  assert.equal(where({ n: { gt: 5, lt: 3 } })({ n: 4 }), false, 'an empty range matches nothing');
});

test('in, startsWith, and several fields combined with AND', () => {
  const tagged = where({ tag: { in: ['a', 1, null] } });
  assert.deepEqual([{ tag: 'a' }, { tag: 1 }, {}, { tag: 'b' }, { tag: '1' }].map(tagged), [true, true, true, false, false]);
  const prefixed = where({ title: { startsWith: 'ab' } });
  assert.deepEqual(['ab', 'abc', 'a', 'xab', 12].map((title) => prefixed({ title })), [true, true, false, false, false]);
  const both = where({ done: false, priority: { gt: 1 } });
  assert.deepEqual([{ done: false, priority: 2 }, { done: true, priority: 2 }, { done: false, priority: 1 }].map(both), [true, false, false]);
});

test('the order across types: missing = null < false < true < numbers < strings < anything else', () => {
  const ascending = [undefined, null, false, true, -5, 0, 2.5, '', 'A', 'a', 'ab', { x: 1 }];
  for (let i = 0; i < ascending.length; i++) {
    for (let j = 0; j < ascending.length; j++) {
      const expected = Math.sign(i - j);
      const actual = Math.sign(compareValues(ascending[i], ascending[j]));
      const tie = (i <= 1 && j <= 1) || (i === ascending.length - 1 && j === ascending.length - 1);
      assert.equal(actual, tie ? 0 : expected, `${String(ascending[i])} vs ${String(ascending[j])}`);
    }
  }
  assert.equal(compareValues([1], { a: 1 }), 0, 'objects and arrays are equal to each other');
});

test('rows are totally ordered: id breaks every tie, in the direction of the last term', () => {
  const result = normalizeQuery({ orderBy: [{ done: 'asc' }, { priority: 'desc' }] });
  if (!result.ok) throw new Error(result.error.message);
  const compare = rowComparator(result.query.orderBy);
  const row = (id: string, data: Record<string, unknown>) => ({ id, version: '1', data: { id, ...data } });
  const rows = [row('b', { done: false, priority: 1 }), row('a', { done: false, priority: 1 }), row('c', { done: true, priority: 9 }), row('d', { done: false, priority: 3 }), row('e', {})];
  assert.deepEqual(rows.sort(compare).map((r) => r.id), ['e', 'd', 'b', 'a', 'c']);
});

test('the order is a total order on random values (antisymmetric, transitive), seed 7', () => {
  const random = seeded(7);
  const values = Array.from({ length: 60 }, () => randomValue(random));
  for (const a of values) {
    for (const b of values) {
      assert.equal(Math.sign(compareValues(a, b)), -Math.sign(compareValues(b, a)) || 0, `seed 7: ${JSON.stringify([a, b])}`);
      for (const c of values) {
        if (compareValues(a, b) <= 0 && compareValues(b, c) <= 0) assert.ok(compareValues(a, c) <= 0, `seed 7: ${JSON.stringify([a, b, c])}`);
      }
    }
  }
});

test('encoded keys sort as the values do, by our compareKeys and by IndexedDB itself, seed 11', () => {
  const random = seeded(11);
  const values: unknown[] = [undefined, null, false, true, 0, -1, 1e300, '', '\uffff', { a: 1 }, [1]];
  for (let i = 0; i < 200; i++) values.push(randomValue(random));
  for (const a of values) {
    for (const b of values) {
      const expected = Math.sign(compareValues(a, b));
      const message = `seed 11: ${JSON.stringify([a ?? 'missing', b ?? 'missing'])}`;
      assert.equal(Math.sign(compareKeys(encodeValue(a), encodeValue(b))), expected, message);
      assert.equal(indexedDB.cmp(encodeValue(a), encodeValue(b)), expected, message);
    }
  }
});
