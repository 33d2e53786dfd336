/**
 * Which declared index answers a query, and over which key range. An index on [f1, …, fk] serves
 * the `where` through its longest prefix of equality conditions, then at most one range (or
 * `startsWith`) on the next field; it serves the `orderBy` when, leaving out the fields fixed by
 * equality, the rest of its fields and then id are the orderBy's terms, all in one direction.
 * Ranges are bounds on the encoded keys of keys.ts. Whatever part of `where` the range does not
 * express is checked on each row read; a query no index serves is a scan.
 */
import type { Condition, NormalizedQuery, RangeBound } from '../../../protocol/query';
import type { IndexSpec } from './indexes';
import { AFTER_ALL, compareKeys, encodeValue, type IndexKey } from './keys';

export interface KeyRangeSpec {
  lower: IndexKey[];
  lowerOpen: boolean;
  upper: IndexKey[];
  upperOpen: boolean;
}

export type QueryPlan =
  | { kind: 'scan'; description: 'scan' }
  | {
      kind: 'index';
      /** The IndexedDB index name. */
      index: string;
      fields: string[];
      range: KeyRangeSpec;
      /** The range holds no key (`{ gt: 5, lt: 3 }`): nothing to read. */
      empty: boolean;
      direction: 'next' | 'prev';
      /** Rows come in the query's order: reading may stop at offset + limit. */
      ordered: boolean;
      /** How many leading index fields the range narrows (equalities, then one range). */
      narrowed: number;
      description: string;
    };

const SCAN: QueryPlan = { kind: 'scan', description: 'scan' };

/** The best of the repository's indexes for the query, or a scan. */
export function planQuery(repository: string, specs: readonly IndexSpec[], query: NormalizedQuery): QueryPlan {
  let best: QueryPlan = SCAN;
  for (const spec of specs) {
    if (spec.repository !== repository) continue;
    const candidate = planIndex(spec, query);
    if (candidate && (best.kind === 'scan' || score(candidate) > score(best))) best = candidate;
  }
  return best;
}

/** Serving both beats serving only the where, which beats serving only the order; then the
 *  narrower range wins, and on a tie the first declared. */
function score(plan: Extract<QueryPlan, { kind: 'index' }>): number {
  const both = plan.narrowed > 0 && plan.ordered ? 1 : 0;
  return both * 1000 + plan.narrowed * 10 + (plan.ordered ? 1 : 0);
}

function planIndex(spec: IndexSpec, query: NormalizedQuery): Extract<QueryPlan, { kind: 'index' }> | undefined {
  const conditions = new Map(query.where.map((condition) => [condition.field, condition]));
  const prefix: IndexKey[] = [spec.repository];
  let equalities = 0;
  for (const field of spec.fields) {
    const condition = conditions.get(field);
    if (condition?.kind !== 'eq') break;
    prefix.push(encodeValue(condition.value));
    equalities++;
  }
  const next = spec.fields[equalities];
  const bounded = next === undefined ? undefined : conditions.get(next);
  const ranged = bounded?.kind === 'range' || bounded?.kind === 'prefix' ? bounded : undefined;
  const narrowed = equalities + (ranged ? 1 : 0);
  const order = orderServed(spec, query, equalities);
  if (narrowed === 0 && !order) return undefined;
  const range = ranged ? boundedRange(prefix, ranged) : { lower: prefix, lowerOpen: false, upper: [...prefix, AFTER_ALL], upperOpen: false };
  const name = spec.fields.join('+');
  return {
    kind: 'index',
    index: spec.name,
    fields: spec.fields,
    range,
    empty: isEmpty(range),
    direction: order ?? 'next',
    ordered: order !== undefined,
    narrowed,
    description: order ? `index ${name}` : `index ${name}, sorted in memory`,
  };
}

/** The cursor direction that reads the index in the query's order, or undefined if none does. */
function orderServed(spec: IndexSpec, query: NormalizedQuery, equalities: number): 'next' | 'prev' | undefined {
  const fixed = new Set(query.where.filter((condition) => condition.kind === 'eq').map((condition) => condition.field));
  const indexOrder = [...spec.fields.slice(equalities), 'id'].filter((field) => !fixed.has(field));
  const queryOrder = query.orderBy.filter((term) => !fixed.has(term.field));
  if (queryOrder.length !== indexOrder.length || queryOrder.length === 0) return undefined;
  const direction = queryOrder[0]!.direction;
  const same = queryOrder.every((term, i) => term.field === indexOrder[i] && term.direction === direction);
  return same ? (direction === 'asc' ? 'next' : 'prev') : undefined;
}

/** Keys past an equality prefix whose next value lies in the range (or starts with the prefix). */
function boundedRange(prefix: IndexKey[], condition: Extract<Condition, { kind: 'range' | 'prefix' }>): KeyRangeSpec {
  if (condition.kind === 'prefix') {
    const after = successor(condition.prefix);
    return {
      lower: [...prefix, [3, condition.prefix]],
      lowerOpen: false,
      upper: after === undefined ? [...prefix, [4]] : [...prefix, [3, after]],
      upperOpen: true,
    };
  }
  const tag = typeof (condition.lower ?? condition.upper)!.value === 'number' ? 2 : 3;
  const at = (bound: RangeBound): IndexKey[] => [...prefix, [tag, bound.value]];
  const { lower, upper } = condition;
  return {
    // Below a value: the prefix ending in it; past every key holding it: that, then AFTER_ALL.
    lower: lower ? (lower.inclusive ? at(lower) : [...at(lower), AFTER_ALL]) : [...prefix, [tag]],
    lowerOpen: false,
    upper: upper ? (upper.inclusive ? [...at(upper), AFTER_ALL] : at(upper)) : [...prefix, [tag + 1]],
    upperOpen: !upper?.inclusive,
  };
}

/** The least string above every string that starts with `prefix`, or undefined if there is none. */
export function successor(prefix: string): string | undefined {
  let end = prefix.length;
  while (end > 0 && prefix.charCodeAt(end - 1) === 0xffff) end--;
  if (end === 0) return undefined;
  return prefix.slice(0, end - 1) + String.fromCharCode(prefix.charCodeAt(end - 1) + 1);
}

function isEmpty(range: KeyRangeSpec): boolean {
  const order = compareKeys(range.lower, range.upper);
  return order > 0 || (order === 0 && (range.lowerOpen || range.upperOpen));
}
