import type { RecordsChange, StoredRecord } from '../protocol/tab-api';

const byId = (a: StoredRecord, b: StoredRecord) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** A watched repository's list after a change: a new array sorted by id (the old one is left as
 *  it was, so an app may keep it). Linear in the list: the kept records are one sorted run, which
 *  the engine's merge sort (TimSort) merges with the change's in one pass. */
export function applyChange(list: readonly StoredRecord[], change: RecordsChange): StoredRecord[] {
  if (change.reset) return change.reset;
  const upserts = new Map((change.upserts ?? []).map((r) => [r.id, r]));
  const touched = new Set([...(change.deletes ?? []), ...upserts.keys()]);
  return list.filter((r) => !touched.has(r.id)).concat([...upserts.values()].sort(byId)).sort(byId);
}
