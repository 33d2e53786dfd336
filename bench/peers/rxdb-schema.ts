/**
 * The RxDB peer's one collection schema, shared by its Node replication server and its bench page:
 * the same records as the product's `todos` (id, title, done).
 */
import type { RxJsonSchema } from 'rxdb';

export type Todo = { id: string; title: string; done: boolean };

export const todoSchema: RxJsonSchema<Todo> = {
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: {
    id: { type: 'string', maxLength: 64 },
    title: { type: 'string' },
    done: { type: 'boolean' },
  },
  required: ['id', 'title', 'done'],
};

/** One server collection per namespace of the product's bench (its auth tokens `live`,
 *  `seed10k`, `seed100k`): a client's collection must carry the server collection's name. */
export const RXDB_COLLECTIONS = ['live', 'seed10k', 'seed100k'] as const;
export type RxdbCollectionName = (typeof RXDB_COLLECTIONS)[number];
