/**
 * Record values as IndexedDB keys. IndexedDB cannot index booleans, null or a missing field, and
 * it orders numbers before strings, as order.ts does, but knows nothing of the rest. So an index
 * does not read `data.<field>`: each live row carries `keys.<field>`, the field's value encoded
 * as a small array whose first element is the type's rank in order.ts:
 *
 *   missing, null → [0]    false → [1, 0]    true → [1, 1]    n → [2, n]    s → [3, s]    other → [4]
 *
 * Arrays compare element by element, so these keys sort exactly as `compareValues` sorts the
 * values, every live record is in every index of its repository, and a tombstone (no `keys`) is
 * in none.
 */
import { fieldOf } from './row';
import { typeRank } from './order';

export type EncodedValue = [number] | [number, number | string];
/** An IndexedDB key as far as the query engine builds them: numbers, strings and arrays of keys. */
export type IndexKey = number | string | IndexKey[];

/** Above every encoded value: a bound that follows all keys starting with a given prefix. */
export const AFTER_ALL: EncodedValue = [5];

export function encodeValue(value: unknown): EncodedValue {
  const rank = typeRank(value);
  if (typeof value === 'boolean') return [rank, value ? 1 : 0];
  if (typeof value === 'number' || typeof value === 'string') return [rank, value];
  return [rank];
}

/** The `keys` a live row of this data carries for these fields. */
export function encodeFields(data: Readonly<Record<string, unknown>>, fields: Iterable<string>): Record<string, EncodedValue> {
  const keys: Record<string, EncodedValue> = {};
  for (const field of fields) keys[field] = encodeValue(fieldOf(data, field));
  return keys;
}

/** IndexedDB's key order (numbers < strings < arrays, arrays element by element), for the kinds
 *  of key built here: planning decides with it whether a range is empty. */
export function compareKeys(a: IndexKey, b: IndexKey): number {
  const rank = keyRank(a) - keyRank(b);
  if (rank !== 0) return rank;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const order = compareKeys(a[i]!, b[i]!);
      if (order !== 0) return order;
    }
    return a.length - b.length;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function keyRank(key: IndexKey): number {
  return typeof key === 'number' ? 0 : typeof key === 'string' ? 1 : 2;
}
