/**
 * A live query: every record matching the `where`, kept sorted (a sorted array, found by binary
 * search), and the window `[offset, offset + limit)` over it. Applying a batch of changes costs
 * O(log n) search per change plus O(window) to tell the window's delta; a change past the window's
 * end costs no window work at all.
 */
import type { NormalizedQuery, WindowDelta } from '../../../protocol/query';
import { compileWhere, type Predicate } from './match';
import { rowComparator, termsComparator, type RowComparator } from './order';
import type { QueryRow } from './row';

/** A record written (`row`) or deleted or turned into a tombstone (`row` undefined). */
export interface QueryChange {
  id: string;
  row: QueryRow | undefined;
}

export class LiveWindow {
  private readonly matches: Predicate;
  private readonly compare: RowComparator;
  /** Which fields decide the order: a change elsewhere cannot move a record. */
  private readonly sortKeyEqual: (a: QueryRow, b: QueryRow) => boolean;
  private readonly sorted: QueryRow[];
  private readonly members = new Map<string, QueryRow>();

  constructor(
    private readonly query: NormalizedQuery,
    rows: Iterable<QueryRow>,
  ) {
    this.matches = compileWhere(query.where);
    this.compare = rowComparator(query.orderBy);
    const bySortFields = termsComparator(query.orderBy.filter((term) => term.field !== 'id'));
    this.sortKeyEqual = (a, b) => bySortFields(a, b) === 0;
    for (const row of rows) if (this.matches(row.data)) this.members.set(row.id, row);
    this.sorted = [...this.members.values()].sort(this.compare);
  }

  get count(): number {
    return this.sorted.length;
  }

  window(): QueryRow[] {
    return this.sorted.slice(this.query.offset, this.end());
  }

  /** Applies the changes; returns what changed in the window and the count, or undefined if nothing did. */
  apply(changes: readonly QueryChange[]): WindowDelta<QueryRow> | undefined {
    const before = this.window();
    const countBefore = this.sorted.length;
    let firstTouched = Infinity;
    for (const change of changes) firstTouched = Math.min(firstTouched, this.applyOne(change));
    if (firstTouched >= this.end()) {
      return this.sorted.length === countBefore ? undefined : emptyDelta(this.sorted.length);
    }
    const delta = diffWindows(before, this.window(), this.sortKeyEqual);
    delta.count = this.sorted.length;
    const same = delta.entered.length + delta.left.length + delta.moved.length + delta.updated.length === 0;
    return same && delta.count === countBefore ? undefined : delta;
  }

  private end(): number {
    return this.query.limit === undefined ? Infinity : this.query.offset + this.query.limit;
  }

  /** Updates the sorted set for one change; returns the lowest position it touched (Infinity if none). */
  private applyOne({ id, row }: QueryChange): number {
    let touched = Infinity;
    const old = this.members.get(id);
    if (old) {
      const at = lowerBound(this.sorted, old, this.compare);
      this.sorted.splice(at, 1);
      this.members.delete(id);
      touched = at;
    }
    if (row && row.id === id && this.matches(row.data)) {
      const at = lowerBound(this.sorted, row, this.compare);
      this.sorted.splice(at, 0, row);
      this.members.set(id, row);
      touched = Math.min(touched, at);
    }
    return touched;
  }
}

/** The number of matching records only (watchCount): a set of ids, O(1) per change. */
export class LiveCount {
  private readonly matches: Predicate;
  private readonly ids = new Set<string>();

  constructor(query: Pick<NormalizedQuery, 'where'>, rows: Iterable<QueryRow>) {
    this.matches = compileWhere(query.where);
    for (const row of rows) if (this.matches(row.data)) this.ids.add(row.id);
  }

  get count(): number {
    return this.ids.size;
  }

  /** Applies the changes; returns the new count, or undefined if it did not change. */
  apply(changes: readonly QueryChange[]): number | undefined {
    const before = this.ids.size;
    for (const { id, row } of changes) {
      if (row && row.id === id && this.matches(row.data)) this.ids.add(id);
      else this.ids.delete(id);
    }
    return this.ids.size === before ? undefined : this.ids.size;
  }
}

/** The first position whose row does not sort before `row`. */
function lowerBound(sorted: readonly QueryRow[], row: QueryRow, compare: RowComparator): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compare(sorted[middle]!, row) < 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

function emptyDelta<R>(count: number): WindowDelta<R> {
  return { entered: [], left: [], moved: [], updated: [], count };
}

/**
 * The delta between two windows of one query. Records in both whose sort fields did not change
 * keep their relative order, so they stay; one whose sort fields changed is `moved` unless it
 * still sits among the staying ones where it sat (then it is only `updated`).
 */
export function diffWindows(before: readonly QueryRow[], after: readonly QueryRow[], sortKeyEqual: (a: QueryRow, b: QueryRow) => boolean): WindowDelta<QueryRow> {
  const delta = emptyDelta<QueryRow>(0);
  const oldIndex = new Map(before.map((row, index) => [row.id, index]));
  const newIds = new Set(after.map((row) => row.id));
  before.forEach((row, index) => {
    if (!newIds.has(row.id)) delta.left.push({ id: row.id, index });
  });
  const staying = new Set<string>();
  const candidates: number[] = [];
  after.forEach((row, index) => {
    const from = oldIndex.get(row.id);
    if (from === undefined) delta.entered.push({ index, record: row });
    else if (sortKeyEqual(before[from]!, row)) staying.add(row.id);
    else candidates.push(index);
  });
  for (const index of candidates) {
    const row = after[index]!;
    const from = oldIndex.get(row.id)!;
    if (stillInPlace(row.id, before, after, staying)) staying.add(row.id);
    else delta.moved.push({ id: row.id, from, to: index, record: row });
  }
  after.forEach((row, index) => {
    const from = oldIndex.get(row.id);
    if (from !== undefined && staying.has(row.id) && before[from]!.version !== row.version) delta.updated.push({ index, record: row });
  });
  return delta;
}

/** Whether as many staying records precede `id` in both windows: then it keeps its place among them. */
function stillInPlace(id: string, before: readonly QueryRow[], after: readonly QueryRow[], staying: ReadonlySet<string>): boolean {
  const precedingStaying = (rows: readonly QueryRow[]) => {
    let count = 0;
    for (const row of rows) {
      if (row.id === id) return count;
      if (staying.has(row.id)) count++;
    }
    return -1;
  };
  return precedingStaying(before) === precedingStaying(after);
}

/** Kept in protocol/ so that the tab applies deltas without worker code. */
export { applyDelta } from '../../../protocol/query';
