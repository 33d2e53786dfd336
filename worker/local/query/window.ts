/**
 * A live query: every record matching the `where`, kept sorted (a sorted array, found by binary
 * search), and the window `[offset, offset + limit)` over it. Applying a batch of changes costs
 * O(log n) search per change plus O(window) to tell the window's delta; a change past the window's
 * end costs no window work at all.
 */
import type { NormalizedQuery, WindowDelta } from '../../../protocol/query';
import { compileWhere, type Predicate } from './match';
import { rowComparator, termsComparator, type RowComparator } from './order';
import type { QueryRow, WatchStart } from './row';

/** A record written (`row`) or deleted or turned into a tombstone (`row` undefined). */
export interface QueryChange {
  id: string;
  row: QueryRow | undefined;
}

/** Rows kept past offset + limit, so that a few removals do not need a read at once. */
export const WINDOW_MARGIN = 16;

/** How many rows a window of this query keeps loaded: all (no limit), or offset + limit + margin. */
export function loadBound(query: NormalizedQuery, margin = WINDOW_MARGIN): number {
  return query.limit === undefined ? Infinity : query.offset + query.limit + margin;
}

/**
 * A watched window. It keeps the ids of every matching record (the count) but the rows of the
 * first `loadBound` of them only: the loaded set is always an exact prefix of the sorted
 * matches, `truncated` when more may follow its last row. A change sorting past that last row
 * is not loaded; when removals leave fewer than offset + limit loaded, `needsMore` is set and
 * deltas wait until `refill` hands a fresh prefix (read along the index), so a tab never sees
 * a window short of rows that exist.
 */
export class LiveWindow {
  private readonly matches: Predicate;
  private readonly compare: RowComparator;
  /** Which fields decide the order: a change elsewhere cannot move a record. */
  private readonly sortKeyEqual: (a: QueryRow, b: QueryRow) => boolean;
  private readonly bound: number;
  private sorted: QueryRow[] = [];
  private members = new Map<string, QueryRow>();
  private readonly matching = new Set<string>();
  private truncated = false;
  /** The window and count as last reported: the next delta starts from them. */
  private shown: QueryRow[];
  private shownCount: number;

  constructor(
    private readonly query: NormalizedQuery,
    rows: Iterable<QueryRow> | WatchStart,
    margin = WINDOW_MARGIN,
  ) {
    this.matches = compileWhere(query.where);
    this.compare = rowComparator(query.orderBy);
    const bySortFields = termsComparator(query.orderBy.filter((term) => term.field !== 'id'));
    this.sortKeyEqual = (a, b) => bySortFields(a, b) === 0;
    this.bound = loadBound(query, margin);
    if (isStart(rows)) {
      // Already the matches in order: the prefix along the index, the ids of all of them.
      for (const id of rows.matching) this.matching.add(id);
      this.load(rows.prefix, this.matching.size > Math.min(rows.prefix.length, this.bound));
    } else {
      const found: QueryRow[] = [];
      for (const row of rows) {
        if (!this.matches(row.data)) continue;
        this.matching.add(row.id);
        found.push(row);
      }
      found.sort(this.compare);
      this.load(found, found.length > this.bound);
    }
    this.shown = this.current();
    this.shownCount = this.matching.size;
  }

  /** The count as last reported (what every watcher holds). */
  get count(): number {
    return this.shownCount;
  }

  /** How many rows are loaded (at most offset + limit + margin). */
  get loaded(): number {
    return this.sorted.length;
  }

  /** Removals left the loaded set short of the window while more rows exist: `refill` it. */
  get needsMore(): boolean {
    return this.truncated && this.sorted.length < this.query.offset + (this.query.limit ?? 0);
  }

  /** The window as last reported: a watcher joining gets it, then the deltas from it. */
  window(): QueryRow[] {
    return [...this.shown];
  }

  private current(): QueryRow[] {
    return this.sorted.slice(this.query.offset, this.end());
  }

  /** Applies the changes; returns what changed in the window and the count, or undefined if
   *  nothing did (or the window waits for a refill). */
  apply(changes: readonly QueryChange[]): WindowDelta<QueryRow> | undefined {
    let firstTouched = Infinity;
    for (const change of changes) firstTouched = Math.min(firstTouched, this.applyOne(change));
    if (this.needsMore) return undefined;
    if (firstTouched >= this.end()) {
      if (this.matching.size === this.shownCount) return undefined;
      this.shownCount = this.matching.size;
      return emptyDelta(this.shownCount);
    }
    return this.report();
  }

  /**
   * A fresh prefix of the matches (their first `loadBound`, in order, read after every change
   * applied so far), then the changes that came meanwhile; returns the delta since the last report.
   */
  refill(rows: readonly QueryRow[], since: readonly QueryChange[] = []): WindowDelta<QueryRow> | undefined {
    // A read of `bound` rows may have stopped short of more.
    this.load(rows.filter((row) => this.matches(row.data)), rows.length >= this.bound);
    for (const change of since) this.applyOne(change);
    return this.needsMore ? undefined : this.report();
  }

  private load(sortedRows: readonly QueryRow[], truncated: boolean): void {
    this.truncated = truncated;
    this.sorted = sortedRows.slice(0, this.bound);
    this.members = new Map(this.sorted.map((row) => [row.id, row]));
  }

  private report(): WindowDelta<QueryRow> | undefined {
    const after = this.current();
    const delta = diffWindows(this.shown, after, this.sortKeyEqual);
    delta.count = this.matching.size;
    const same = delta.entered.length + delta.left.length + delta.moved.length + delta.updated.length === 0;
    if (same && delta.count === this.shownCount) return undefined;
    this.shown = after;
    this.shownCount = delta.count;
    return delta;
  }

  private end(): number {
    return this.query.limit === undefined ? Infinity : this.query.offset + this.query.limit;
  }

  /** Updates the loaded set for one change; returns the lowest position it touched (Infinity if none). */
  private applyOne({ id, row }: QueryChange): number {
    let touched = Infinity;
    const old = this.members.get(id);
    if (old) {
      const at = lowerBound(this.sorted, old, this.compare);
      this.sorted.splice(at, 1);
      this.members.delete(id);
      touched = at;
    }
    this.matching.delete(id);
    if (row && row.id === id && this.matches(row.data)) {
      this.matching.add(id);
      if (this.loads(row)) touched = Math.min(touched, this.insert(row));
      else this.truncated = true;
    }
    return touched;
  }

  /** Whether the row belongs to the loaded prefix: all of it does unless it is truncated. */
  private loads(row: QueryRow): boolean {
    if (!this.truncated) return true;
    const last = this.sorted[this.sorted.length - 1];
    return last !== undefined && this.compare(row, last) < 0;
  }

  private insert(row: QueryRow): number {
    const at = lowerBound(this.sorted, row, this.compare);
    this.sorted.splice(at, 0, row);
    this.members.set(row.id, row);
    if (this.sorted.length > this.bound) {
      this.members.delete(this.sorted.pop()!.id);
      this.truncated = true;
    }
    return at;
  }
}

/** The number of matching records only (watchCount): a set of ids, O(1) per change. */
export class LiveCount {
  private readonly matches: Predicate;
  private readonly ids = new Set<string>();

  constructor(query: Pick<NormalizedQuery, 'where'>, rows: Iterable<QueryRow> | WatchStart) {
    this.matches = compileWhere(query.where);
    if (isStart(rows)) for (const id of rows.matching) this.ids.add(id);
    else for (const row of rows) if (this.matches(row.data)) this.ids.add(row.id);
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

const isStart = (rows: Iterable<QueryRow> | WatchStart): rows is WatchStart => 'matching' in rows;

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
