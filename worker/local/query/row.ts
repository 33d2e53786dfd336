/** What the query engine reads of a record: its id, a version that changes with every write, its data. */
export interface QueryRow {
  id: string;
  /** The winning event's id: a new one per write, so a changed version means changed data. */
  version: string;
  data: Readonly<Record<string, unknown>>;
}

/** The live record a stored row holds, or undefined for a tombstone. */
export function queryRowOf(row: { id: string; data?: Readonly<Record<string, unknown>> | undefined; deleted: boolean; eventId: string }): QueryRow | undefined {
  return row.deleted || !row.data ? undefined : { id: row.id, version: row.eventId, data: row.data };
}

/** A field of the record: own properties only (`constructor` is not a field of `{}`). */
export function fieldOf(data: Readonly<Record<string, unknown>>, field: string): unknown {
  return Object.hasOwn(data, field) ? data[field] : undefined;
}
