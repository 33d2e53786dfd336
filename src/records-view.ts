import type { RecordsChange, StoredRecord } from '../protocol/tab-api';

const byId = (a: StoredRecord, b: StoredRecord) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** A watched repository's list after a change: a new array sorted by id (the old one is left as
 *  it was, so an app may keep it). Linear in the list, plus sorting the change itself. */
export function applyChange(list: readonly StoredRecord[], change: RecordsChange): StoredRecord[] {
  if (change.reset) return change.reset;
  const upserts = new Map((change.upserts ?? []).map((r) => [r.id, r]));
  const touched = new Set([...(change.deletes ?? []), ...upserts.keys()]);
  const kept = list.filter((r) => !touched.has(r.id));
  const added = [...upserts.values()].sort(byId);
  const merged: StoredRecord[] = [];
  let i = 0, j = 0;
  while (i < kept.length && j < added.length) merged.push(byId(kept[i]!, added[j]!) < 0 ? kept[i++]! : added[j++]!);
  return merged.concat(kept.slice(i), added.slice(j));
}
