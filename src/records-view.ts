import type { RecordsChange, StoredRecord } from '../protocol/tab-api';

const byId = (a: StoredRecord, b: StoredRecord) => (a.id < b.id ? -1 : +(a.id > b.id));

/** A watched repository's list after a change: a new array sorted by id (the old one is left as
 *  it was, so an app may keep it). Near-linear in the list: the kept records are one sorted run,
 *  which the engine's merge sort (TimSort) finds and merges with the few records of the change.
 *  A change names each record once (the worker sends the last row per record of a batch). */
export function applyChange(list: readonly StoredRecord[], change: RecordsChange): StoredRecord[] {
  if (change.reset) return change.reset;
  const upserts = change.upserts ?? [];
  const touched = new Set(change.deletes);
  for (const record of upserts) touched.add(record.id);
  return list.filter((record) => !touched.has(record.id)).concat(upserts).sort(byId);
}
