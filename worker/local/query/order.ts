/**
 * The one order of query results, across types, so that any two records compare:
 *
 *   missing = null  <  false < true  <  numbers (by value)  <  strings (by UTF-16 code units)  <  anything else
 *
 * "Anything else" (objects, arrays) compare equal to each other. Strings compare as `<` does, by
 * code units, which is also how IndexedDB compares them; keys.ts encodes every value into an
 * IndexedDB key that sorts the same way, so an index answers in this order too.
 */
import type { OrderTerm } from '../../../protocol/query';
import { fieldOf, type QueryRow } from './row';

/** The rank of a value's type in the order above. */
export function typeRank(value: unknown): number {
  if (value === undefined || value === null) return 0;
  switch (typeof value) {
    case 'boolean':
      return 1;
    case 'number':
      return 2;
    case 'string':
      return 3;
    default:
      return 4;
  }
}

/** Negative, zero or positive as `a` sorts before, with or after `b`. */
export function compareValues(a: unknown, b: unknown): number {
  const rank = typeRank(a) - typeRank(b);
  if (rank !== 0) return rank;
  if (typeof a === 'boolean' || typeof a === 'number' || typeof a === 'string') {
    // Same type (same rank); -0 and 0 are equal here as in IndexedDB.
    return a < (b as typeof a) ? -1 : a > (b as typeof a) ? 1 : 0;
  }
  return 0;
}

export type RowComparator = (a: QueryRow, b: QueryRow) => number;

/** A total order over rows from a normalized orderBy: it ends with `id`, else `id` ascending is appended. */
export function rowComparator(orderBy: readonly OrderTerm[]): RowComparator {
  const total = orderBy.some((term) => term.field === 'id') ? orderBy : [...orderBy, { field: 'id', direction: 'asc' as const }];
  return termsComparator(total);
}

/** The order of these terms alone: 0 for rows that agree on all of them. */
export function termsComparator(terms: readonly OrderTerm[]): RowComparator {
  const signed = terms.map(({ field, direction }) => ({ field, sign: direction === 'asc' ? 1 : -1 }));
  return (a, b) => {
    for (const { field, sign } of signed) {
      const order = field === 'id' ? compareValues(a.id, b.id) : compareValues(fieldOf(a.data, field), fieldOf(b.data, field));
      if (order !== 0) return order * sign;
    }
    return 0;
  };
}
