/** What the query engine reads of a record: its id, a version that changes with every write, its data. */
export interface QueryRow {
  id: string;
  /** The winning event's id: a new one per write, so a changed version means changed data. */
  version: string;
  data: Readonly<Record<string, unknown>>;
}

/**
 * What a watch starts from: the first matches in the query's order (at least the rows its window
 * keeps loaded, or all of them) and the ids of every match, which keep its count exact.
 */
export interface WatchStart {
  prefix: QueryRow[];
  matching: string[];
}

/** The live record a stored row holds, or undefined for a tombstone. */
export function queryRowOf(row: { id: string; data?: Readonly<Record<string, unknown>> | undefined; deleted: boolean; eventId: string }): QueryRow | undefined {
  return row.deleted || !row.data ? undefined : { id: row.id, version: row.eventId, data: row.data };
}

/** A field of the record: own properties only (`constructor` is not a field of `{}`). */
export function fieldOf(data: Readonly<Record<string, unknown>>, field: string): unknown {
  return Object.hasOwn(data, field) ? data[field] : undefined;
}
