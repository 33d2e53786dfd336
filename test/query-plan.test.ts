/** Index planning: which declared index serves a query's where and orderBy, over which key range. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeQuery, type QueryInput } from '../protocol/query';
import { indexedFields, indexSpecs, withIndexKeys } from '../worker/local/query/indexes';
import { planQuery, successor, type QueryPlan } from '../worker/local/query/plan';

const specs = indexSpecs({ todos: ['done', ['listId', 'createdAt'], ['priority'], ['title']], notes: ['text'] });

function plan(input: QueryInput): QueryPlan {
  const result = normalizeQuery(input);
  if (!result.ok) throw new Error(result.error.message);
  return planQuery('todos', specs, result.query);
}

function indexPlan(input: QueryInput): Extract<QueryPlan, { kind: 'index' }> {
  const found = plan(input);
  assert.equal(found.kind, 'index', `${JSON.stringify(input)} → ${found.description}`);
  return found as Extract<QueryPlan, { kind: 'index' }>;
}

test('indexSpecs: one IndexedDB index per declaration, led by the repository, on the encoded keys', () => {
  assert.deepEqual(specs.slice(0, 2), [
    { repository: 'todos', fields: ['done'], name: 'query:todos:done', keyPath: ['repository', 'keys.done'] },
    { repository: 'todos', fields: ['listId', 'createdAt'], name: 'query:todos:listId+createdAt', keyPath: ['repository', 'keys.listId', 'keys.createdAt'] },
  ]);
  assert.deepEqual(indexedFields(specs, 'todos'), ['createdAt', 'done', 'listId', 'priority', 'title']);
  assert.deepEqual(indexedFields(specs, 'other'), []);
});

test('indexSpecs refuses bad declarations with a clear error', () => {
  assert.throws(() => indexSpecs({ todos: ['done', 'done'] }), /indexes\.todos: done is declared twice/);
  assert.throws(() => indexSpecs({ todos: [[]] }), /an index has 1 to 8 fields/);
  assert.throws(() => indexSpecs({ todos: ['a.b'] }), /"a.b" is not a field name/);
  assert.throws(() => indexSpecs({ todos: [['a', 'a']] }), /names a field twice/);
  assert.throws(() => indexSpecs({ 'to dos': ['a'] }), /not a repository name/);
  assert.throws(() => indexSpecs({ todos: 'done' as never }), /must be an array/);
  assert.throws(() => indexSpecs({ notes: ['text'] }, ['todos']), /indexes\.notes: no such repository/);
});

test('rows carry the encoded keys of their repository\'s fields; tombstones carry none', () => {
  const live = withIndexKeys({ id: 'a', deleted: false, data: { id: 'a', done: false, title: 'x' } }, ['done', 'listId']);
  assert.deepEqual(live.keys, { done: [1, 0], listId: [0] });
  const tombstone = withIndexKeys({ id: 'a', deleted: true, keys: { done: [1, 0] } }, ['done']);
  assert.equal('keys' in tombstone, false);
});

test('equality on a boolean is served by its index (booleans are encoded, not left out)', () => {
  const found = indexPlan({ where: { done: false } });
  assert.equal(found.index, 'query:todos:done');
  assert.deepEqual(found.range, { lower: ['todos', [1, 0]], lowerOpen: false, upper: ['todos', [1, 0], [5]], upperOpen: false });
  assert.equal(found.description, 'index done');
});

test('an equality prefix then a range on the next field, in the order of the index', () => {
  const found = indexPlan({ where: { listId: 'L1', createdAt: { gte: '2024', lt: '2025' } }, orderBy: { createdAt: 'desc' }, limit: 20 });
  assert.equal(found.index, 'query:todos:listId+createdAt');
  assert.deepEqual(found.range, { lower: ['todos', [3, 'L1'], [3, '2024']], lowerOpen: false, upper: ['todos', [3, 'L1'], [3, '2025']], upperOpen: true });
  assert.equal(found.direction, 'prev');
  assert.equal(found.ordered, true);
  assert.equal(found.description, 'index listId+createdAt');
});

test('range bounds: exclusive lower and inclusive upper pass every key holding the value', () => {
  assert.deepEqual(indexPlan({ where: { priority: { gt: 2, lte: 5 } } }).range, { lower: ['todos', [2, 2], [5]], lowerOpen: false, upper: ['todos', [2, 5], [5]], upperOpen: false });
  assert.deepEqual(indexPlan({ where: { priority: { gte: 2 } } }).range, { lower: ['todos', [2, 2]], lowerOpen: false, upper: ['todos', [3]], upperOpen: true }, 'numbers only');
  assert.deepEqual(indexPlan({ where: { title: { lt: 'm' } } }).range, { lower: ['todos', [3]], lowerOpen: false, upper: ['todos', [3, 'm']], upperOpen: true }, 'strings only');
  assert.deepEqual(indexPlan({ where: { title: { startsWith: 'ab' } } }).range, { lower: ['todos', [3, 'ab']], lowerOpen: false, upper: ['todos', [3, 'ac']], upperOpen: true });
  assert.equal(indexPlan({ where: { priority: { gt: 5, lt: 3 } } }).empty, true);
  assert.equal(indexPlan({ where: { priority: { gt: 3, lt: 3 } } }).empty, true);
  assert.equal(indexPlan({ where: { priority: { gte: 3, lte: 3 } } }).empty, false);
});

test('an index serves the orderBy alone, in either direction, when its fields then id are the terms', () => {
  const ascending = indexPlan({ orderBy: { title: 'asc' }, limit: 10 });
  assert.deepEqual([ascending.index, ascending.direction, ascending.ordered, ascending.narrowed], ['query:todos:title', 'next', true, 0]);
  assert.deepEqual(ascending.range, { lower: ['todos'], lowerOpen: false, upper: ['todos', [5]], upperOpen: false });
  assert.equal(indexPlan({ orderBy: { priority: 'desc' } }).direction, 'prev');
  const withFixed = indexPlan({ where: { listId: 'L1' }, orderBy: [{ listId: 'desc' }, { createdAt: 'asc' }] });
  assert.deepEqual([withFixed.index, withFixed.ordered, withFixed.direction], ['query:todos:listId+createdAt', true, 'next'], 'a field fixed by equality does not order');
});

test('an index that serves the where but not the order sorts in memory', () => {
  const found = indexPlan({ where: { listId: 'L1' }, orderBy: { title: 'asc' } });
  assert.equal(found.index, 'query:todos:listId+createdAt');
  assert.equal(found.ordered, false);
  assert.equal(found.description, 'index listId+createdAt, sorted in memory');
  assert.equal(indexPlan({ where: { listId: 'L1' }, orderBy: [{ createdAt: 'asc' }, { id: 'desc' }] }).ordered, false, 'mixed directions cannot be read in one');
});

test('serving where and order beats serving the where alone; a narrower range beats a wider one', () => {
  const byPriority = indexSpecs({ todos: [['priority'], ['done', 'priority'], ['done']] });
  const result = normalizeQuery({ where: { done: true, priority: { gt: 1 } }, orderBy: { priority: 'asc' } });
  if (!result.ok) throw new Error(result.error.message);
  assert.equal(planQuery('todos', byPriority, result.query).description, 'index done+priority');
  const narrower = normalizeQuery({ where: { done: true, priority: { gt: 1 } }, orderBy: { title: 'asc' } });
  if (!narrower.ok) throw new Error(narrower.error.message);
  assert.equal(planQuery('todos', byPriority, narrower.query).description, 'index done+priority, sorted in memory');
});

test('scans: no index for the fields, an in, a range past a gap, another repository\'s index', () => {
  assert.deepEqual(plan({ where: { tag: 'x' } }), { kind: 'scan', description: 'scan' });
  assert.equal(plan({ where: { priority: { in: [1, 2] } } }).kind, 'scan');
  assert.equal(plan({ where: { createdAt: { gt: '2024' } } }).kind, 'scan', 'createdAt is second in its index');
  assert.equal(plan({ where: { text: 'x' } }).kind, 'scan');
  assert.equal(plan({}).kind, 'scan', 'id order alone: no index reads in it');
});

test('successor: the least string above every string with the prefix', () => {
  assert.equal(successor('ab'), 'ac');
  assert.equal(successor('a\uffff'), 'b');
  assert.equal(successor('\uffff\uffff'), undefined);
  assert.equal(successor(''), undefined);
  for (const s of ['ab', 'abz', 'ab\uffff\uffff']) assert.ok(s < successor('ab')!, s);
  assert.ok(!('ac' < successor('ab')!));
});
