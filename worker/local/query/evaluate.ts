/**
 * A normalized query run once: against rows in memory, or against the IndexedDB `records` store
 * along a plan. Both answer the same window: the matching records in the query's order, from
 * `offset`, at most `limit` of them.
 */
import type { NormalizedQuery } from '../../../protocol/query';
import { compileWhere } from './match';
import { rowComparator } from './order';
import type { QueryPlan } from './plan';
import { queryRowOf, type QueryRow, type WatchStart } from './row';

export function evaluateRows(query: NormalizedQuery, rows: Iterable<QueryRow>): QueryRow[] {
  const matches = compileWhere(query.where);
  const found: QueryRow[] = [];
  for (const row of rows) if (matches(row.data)) found.push(row);
  return windowOf(query, found.sort(rowComparator(query.orderBy)));
}

/** How many records match the `where` (limit and offset aside). */
export function countRows(query: NormalizedQuery, rows: Iterable<QueryRow>): number {
  const matches = compileWhere(query.where);
  let count = 0;
  for (const row of rows) if (matches(row.data)) count++;
  return count;
}

/** The same query without its window: what a live window loads (every matching record). */
export function unwindowed(query: NormalizedQuery): NormalizedQuery {
  return { where: query.where, orderBy: query.orderBy, offset: 0 };
}

export function windowOf<T>(query: NormalizedQuery, sorted: readonly T[]): T[] {
  return sorted.slice(query.offset, query.limit === undefined ? undefined : query.offset + query.limit);
}

/** A stored row as the records store holds it (idb-store.ts), tombstones included. */
interface StoredRow {
  repository: string;
  id: string;
  data?: Record<string, unknown>;
  deleted: boolean;
  eventId: string;
}

/**
 * The window from IndexedDB. `store` is the `records` store of a live transaction. An index plan
 * reads its key range only, checking the rest of the `where` on each row; when the index reads in
 * the query's order it stops once offset + limit rows matched, otherwise what it read is sorted.
 */
/** How many stored rows an evaluation read: what a window's refill costs (tests count it). */
export interface ReadCounter {
  rows: number;
}

export async function evaluateIndexedDb(store: IDBObjectStore, repository: string, query: NormalizedQuery, plan: QueryPlan, read: ReadCounter = { rows: 0 }): Promise<QueryRow[]> {
  if (plan.kind === 'scan') {
    const stored = await request<StoredRow[]>(store.getAll(IDBKeyRange.bound([repository], [repository, []])));
    read.rows += stored.length;
    return evaluateRows(query, live(stored));
  }
  if (plan.empty) return [];
  const { lower, upper, lowerOpen, upperOpen } = plan.range;
  const cursor = store.index(plan.index).openCursor(IDBKeyRange.bound(lower, upper, lowerOpen, upperOpen), plan.direction);
  const matches = compileWhere(query.where);
  const enough = plan.ordered && query.limit !== undefined ? query.offset + query.limit : Infinity;
  const found: QueryRow[] = [];
  await readCursor(cursor, (value) => {
    read.rows++;
    const row = queryRowOf(value as StoredRow);
    if (row && matches(row.data)) found.push(row);
    return found.length < enough;
  });
  return plan.ordered ? windowOf(query, found) : evaluateRows(query, found);
}

/**
 * How many records match the `where`. Where the plan's key range expresses all of it, the index
 * counts its range (tombstones carry no keys, so they are in no index); otherwise the rows are read.
 */
export async function countIndexedDb(store: IDBObjectStore, repository: string, query: NormalizedQuery, plan: QueryPlan, read: ReadCounter = { rows: 0 }): Promise<number> {
  if (plan.kind === 'index' && plan.empty) return 0;
  const whole = wholeRange(plan, query);
  if (whole) return request<number>(store.index(whole.index).count(whole.range));
  return (await evaluateIndexedDb(store, repository, unwindowed(query), plan, read)).length;
}

/**
 * What a watch of the query starts from, keeping `bound` rows loaded. Where the plan's key range
 * expresses the whole `where` and reads in the query's order (or no rows are wanted, for a
 * count), that is `bound` rows along the index and the range's primary keys, read without their
 * values: O(window) rows however many match. Otherwise every match is read, as a plain query.
 */
export async function watchStartIndexedDb(store: IDBObjectStore, repository: string, query: NormalizedQuery, plan: QueryPlan, bound: number, read: ReadCounter = { rows: 0 }): Promise<WatchStart> {
  const whole = plan.kind === 'index' && (plan.ordered || bound === 0) ? wholeRange(plan, query) : undefined;
  if (!whole || !Number.isFinite(bound)) {
    const prefix = await evaluateIndexedDb(store, repository, unwindowed(query), plan, read);
    return { prefix, matching: prefix.map((row) => row.id) };
  }
  const keys = request<IDBValidKey[]>(store.index(whole.index).getAllKeys(whole.range));
  const prefix = bound === 0 ? [] : await evaluateIndexedDb(store, repository, { ...query, offset: 0, limit: bound }, plan, read);
  // The records store's keys are [repository, id].
  return { prefix, matching: (await keys).map((key) => String((key as [string, string])[1])) };
}

/** The index and key range of a plan whose range expresses the whole `where` (and holds keys). */
function wholeRange(plan: QueryPlan, query: NormalizedQuery): { index: string; range: IDBKeyRange } | undefined {
  if (plan.kind !== 'index' || plan.empty || plan.narrowed !== query.where.length) return undefined;
  const { lower, upper, lowerOpen, upperOpen } = plan.range;
  return { index: plan.index, range: IDBKeyRange.bound(lower, upper, lowerOpen, upperOpen) };
}

function* live(rows: readonly StoredRow[]): Iterable<QueryRow> {
  for (const stored of rows) {
    const row = queryRowOf(stored);
    if (row) yield row;
  }
}

function request<T>(req: IDBRequest): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result as T);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

/** Walks a cursor until it ends or `visit` returns false. */
function readCursor(req: IDBRequest<IDBCursorWithValue | null>, visit: (value: unknown) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    req.onerror = () => reject(req.error ?? new Error('IndexedDB cursor failed'));
    req.onsuccess = () => {
      const cursor = req.result;
      if (!cursor) return resolve();
      if (visit(cursor.value)) cursor.continue();
      else resolve();
    };
  });
}
