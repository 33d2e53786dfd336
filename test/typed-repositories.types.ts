/**
 * Type tests (compiled by `npm run typecheck`, never run): `connect<typeof schemas>` gives each
 * repository the record type its valibot schema infers, `connect<{ todos: Todo }>` the record
 * type named, and a name neither knows does not compile; the untyped client takes any name.
 */
import * as v from 'valibot';
import { connect, type Repository } from '../src';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const same = <A, B>(equal: Equal<A, B>) => equal;

const schemas = {
  notes: v.object({ id: v.string(), text: v.string(), pinned: v.optional(v.boolean()) }),
  tags: v.object({ id: v.string(), label: v.pipe(v.string(), v.maxLength(20)) }),
};
interface Todo {
  id: string;
  title: string;
  done: boolean;
}

/** Never called: only compiled. */
export function typedRepositories(): void {
  const bySchema = connect<typeof schemas>({ worker: '/sync-worker.js' });
  same<Repository<{ id: string; text: string; pinned?: boolean | undefined }>, ReturnType<typeof bySchema.repository<'notes'>>>(true);
  same<Repository<{ id: string; label: string }>, ReturnType<typeof bySchema.repository<'tags'>>>(true);
  void bySchema.repository('notes').upsert({ id: 'a', text: 'typed by its schema' });
  // @ts-expect-error a note's text is a string
  void bySchema.repository('notes').upsert({ id: 'a', text: 1 });
  // @ts-expect-error no schema is named `typo`
  bySchema.repository('typo');

  const byRecord = connect<{ todos: Todo }>({ worker: '/sync-worker.js' });
  same<Repository<Todo>, ReturnType<typeof byRecord.repository<'todos'>>>(true);
  // @ts-expect-error no record type is named `typo`
  byRecord.repository('typo');
  // Batches take the record type; a patch takes some of its fields, never its id.
  void byRecord.repository('todos').upsertMany([{ id: 'a', title: 'one', done: false }]);
  // @ts-expect-error a todo has a title
  void byRecord.repository('todos').upsertMany([{ id: 'a', done: false }]);
  void byRecord.repository('todos').deleteMany(['a', 'b']);
  void byRecord.repository('todos').patch('a', { done: true });
  // @ts-expect-error done is a boolean
  void byRecord.repository('todos').patch('a', { done: 'yes' });
  // @ts-expect-error a patch cannot change the id
  void byRecord.repository('todos').patch('a', { id: 'b' });

  const untyped = connect({ worker: '/sync-worker.js' });
  same<Repository<Todo>, ReturnType<typeof untyped.repository<Todo>>>(true);
  void untyped.repository('anything').upsert({ id: 'a', whatever: 1 });
}
