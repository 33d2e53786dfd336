/** Queries are plain data from a tab: each bad one is refused with invalid_query and a message naming what is wrong. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { INVALID_QUERY, normalizeQuery, queryKey, type NormalizedQuery } from '../protocol/query';

function refused(input: unknown): string {
  const result = normalizeQuery(input);
  assert.equal(result.ok, false, `expected ${JSON.stringify(input)} to be refused`);
  if (result.ok) throw new Error('unreachable');
  assert.equal(result.error.code, INVALID_QUERY);
  return result.error.message;
}

function normalized(input: unknown): NormalizedQuery {
  const result = normalizeQuery(input);
  if (!result.ok) assert.fail(`expected ${JSON.stringify(input)} to pass: ${result.error.message}`);
  return result.query;
}

test('each bad query gets a message naming its fault', () => {
  const cases: [unknown, RegExp][] = [
    [null, /a query must be an object/],
    [[], /a query must be an object/],
    ['todos', /a query must be an object/],
    [{ filter: {} }, /only where, orderBy, limit and offset/],
    [{ where: [] }, /where must be an object/],
    [{ where: { 'a.b': 1 } }, /"a.b" is not a field name/],
    [{ where: { __proto__x: 1, constructor: 1 } }, /"constructor" is not a field name/],
    [{ where: { done: undefined } }, /where\.done: a value is a string, a finite number, a boolean or null/],
    [{ where: { tags: ['a'] } }, /where\.tags: a value is/],
    [{ where: { n: Number.NaN } }, /where\.n: a value is/],
    [{ where: { n: { between: [1, 2] } } }, /where\.n: .*only eq, in, startsWith, gt, gte, lt and lte/],
    [{ where: { n: {} } }, /where\.n: names no operator/],
    [{ where: { n: { eq: 1, gt: 0 } } }, /where\.n: eq cannot be combined/],
    [{ where: { n: { gt: 1, gte: 2 } } }, /where\.n: gt and gte cannot be combined/],
    [{ where: { n: { lt: 1, lte: 2 } } }, /where\.n: lt and lte cannot be combined/],
    [{ where: { n: { gt: 1, lt: 'z' } } }, /both bounds of a range must be numbers, or both strings/],
    [{ where: { n: { gt: true } } }, /where\.n: gt: range bounds must be strings or finite numbers/],
    [{ where: { n: { in: [] } } }, /in needs at least one value/],
    [{ where: { n: { in: 'abc' } } }, /where\.n: in: in must be an array/],
    [{ where: { n: { in: Array.from({ length: 257 }, (_, i) => i) } } }, /in holds at most 256 values/],
    [{ where: { s: { startsWith: 3 } } }, /where\.s: startsWith: /],
    [{ where: { s: 'x'.repeat(1025) } }, /where\.s: .*at most 1024 characters/],
    [{ where: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`f${i}`, i])) }, /where names at most 16 fields/],
    [{ orderBy: 'title' }, /orderBy is \{ field: 'asc' \| 'desc' \}/],
    [{ orderBy: { title: 'asc', done: 'desc' } }, /one field per object/],
    [{ orderBy: [{ title: 'up' }] }, /orderBy\.title must be 'asc' or 'desc'/],
    [{ orderBy: [{ title: 'asc' }, { title: 'desc' }] }, /orderBy names title twice/],
    [{ orderBy: { '1st': 'asc' } }, /orderBy: "1st" is not a field name/],
    [{ limit: -1 }, /limit must not be negative/],
    [{ limit: 1.5 }, /limit must be an integer/],
    [{ limit: 10_001 }, /limit is at most 10000/],
    [{ limit: '10' }, /limit must be a number/],
    [{ offset: 1_000_001 }, /offset is at most 1000000/],
  ];
  for (const [input, message] of cases) assert.match(refused(input), message, JSON.stringify(input));
});

test('a message starts with "invalid query" and never echoes an unbounded field name', () => {
  const message = refused({ where: { ['x'.repeat(10_000)]: 1 } });
  assert.match(message, /^invalid query: /);
  assert.ok(message.length < 300, message);
});

test('where normalizes into one condition per field, sorted by field', () => {
  const query = normalized({ where: { priority: { gte: 2, lt: 5 }, done: false, title: { startsWith: 'a' }, tag: { in: ['b', 'a', 'b'] }, note: null } });
  assert.deepEqual(query.where, [
    { field: 'done', kind: 'eq', value: false },
    { field: 'note', kind: 'eq', value: null },
    { field: 'priority', kind: 'range', lower: { value: 2, inclusive: true }, upper: { value: 5, inclusive: false } },
    { field: 'tag', kind: 'in', values: ['a', 'b'] },
    { field: 'title', kind: 'prefix', prefix: 'a' },
  ]);
  assert.deepEqual(normalized({ where: { n: { in: [3, 3] } } }).where, [{ field: 'n', kind: 'eq', value: 3 }], 'an in of one value is an equality');
  assert.deepEqual(normalized({ where: { n: { eq: 3 } } }).where, normalized({ where: { n: 3 } }).where);
});

test('orderBy in either form ends with id, in the direction of its last term', () => {
  assert.deepEqual(normalized({}).orderBy, [{ field: 'id', direction: 'asc' }]);
  assert.deepEqual(normalized({ orderBy: { title: 'asc' } }).orderBy, [{ field: 'title', direction: 'asc' }, { field: 'id', direction: 'asc' }]);
  assert.deepEqual(normalized({ orderBy: [{ done: 'asc' }, { createdAt: 'desc' }] }).orderBy, [
    { field: 'done', direction: 'asc' },
    { field: 'createdAt', direction: 'desc' },
    { field: 'id', direction: 'desc' },
  ]);
  assert.deepEqual(normalized({ orderBy: [{ id: 'desc' }, { title: 'asc' }] }).orderBy, [{ field: 'id', direction: 'desc' }], 'terms after id never decide');
});

test('limit and offset: offset defaults to 0, no limit means everything from the offset', () => {
  assert.deepEqual(normalized({ limit: 20, offset: 40 }), { where: [], orderBy: [{ field: 'id', direction: 'asc' }], offset: 40, limit: 20 });
  assert.equal(normalized({}).limit, undefined);
  assert.equal(normalized({}).offset, 0);
});

test('equal queries share a key; different ones do not', () => {
  const a = normalized({ where: { done: false, priority: { lt: 5, gte: 2 } }, orderBy: { title: 'asc' }, limit: 10 });
  const b = normalized({ limit: 10, orderBy: [{ title: 'asc' }], where: { priority: { gte: 2, lt: 5 }, done: { eq: false } } });
  assert.equal(queryKey(a), queryKey(b));
  const others = [
    { where: { done: true, priority: { gte: 2, lt: 5 } }, orderBy: { title: 'asc' }, limit: 10 },
    { where: { done: false, priority: { gt: 2, lt: 5 } }, orderBy: { title: 'asc' }, limit: 10 },
    { where: { done: false, priority: { gte: 2, lt: 5 } }, orderBy: { title: 'desc' }, limit: 10 },
    { where: { done: false, priority: { gte: 2, lt: 5 } }, orderBy: { title: 'asc' }, limit: 10, offset: 1 },
    { where: { done: false, priority: { gte: 2, lt: 5 } }, orderBy: { title: 'asc' } },
    { where: { done: 'false', priority: { gte: 2, lt: 5 } }, orderBy: { title: 'asc' }, limit: 10 },
  ];
  for (const other of others) assert.notEqual(queryKey(normalized(other)), queryKey(a), JSON.stringify(other));
});
