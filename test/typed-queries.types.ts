/**
 * Type tests (compiled by `npm run typecheck`, never run): with typed schemas a query's `where` and
 * `orderBy` name the record's fields only, and its window is of the record type; untyped, any
 * field goes. `useQuery` takes a query object as it takes a repository.
 */
import * as v from 'valibot';
import { connect } from '../src';
import { useQuery } from '../react';

const schemas = { todos: v.object({ id: v.string(), title: v.string(), done: v.boolean() }) };

/** Never called: only compiled. */
export function typedQueries(): void {
  const todos = connect<typeof schemas>({ worker: '/sync-worker.js' }).repository('todos');
  const open = todos.query({ where: { done: false, title: { startsWith: 'a' } }, orderBy: [{ title: 'asc' }, { id: 'desc' }], limit: 5 });
  void open.get().then((records) => records.map((todo) => todo.title.toUpperCase()));
  void open.count().then((count) => count.toFixed());
  open.watch((records) => records.map((todo) => todo.done));
  open.watchCount((count) => count + 1);
  // @ts-expect-error a todo has no `priority`
  todos.query({ where: { priority: 1 } });
  // @ts-expect-error nor can it be ordered by one
  todos.query({ orderBy: { priority: 'asc' } });
  // @ts-expect-error a direction is 'asc' or 'desc'
  todos.query({ orderBy: { title: 'up' } });
  const records: readonly { id: string; title: string; done: boolean }[] | undefined = useQuery(open);
  void records;

  const anything = connect({ worker: '/sync-worker.js' }).repository('notes');
  anything.query({ where: { whatever: 1 }, orderBy: { other: 'desc' } });
}
