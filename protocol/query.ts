/**
 * A query as a tab sends it to the worker (`repository.query({ where, orderBy, limit, offset })`):
 * plain data, bounded, validated on arrival, then normalized into one canonical form. Equal
 * queries normalize to the same form and so to the same `queryKey`: tabs watching them share one
 * evaluation. docs/queries.md describes the language.
 */
import * as v from 'valibot';
import { describeIssues } from './messages';

/** What a tab gets back for a query the worker cannot run (the lead adds it to TabErrorCode). */
export const INVALID_QUERY = 'invalid_query';
export type InvalidQueryCode = typeof INVALID_QUERY;

export const QUERY_LIMITS = {
  /** Fields named in `where`, and in `orderBy`. */
  maxFields: 16,
  maxInValues: 256,
  maxStringLength: 1024,
  /** The largest window a tab may ask for. */
  maxLimit: 10_000,
  maxOffset: 1_000_000,
} as const;

/** A field is a top-level property of the record, named like a JavaScript identifier: it is also
 *  an IndexedDB key path segment. The three names JavaScript reserves are refused. */
export const FIELD_NAME = /^(?!(?:__proto__|constructor|prototype)$)[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export type QueryScalar = string | number | boolean | null;
export type QueryBound = string | number;

/** One field's condition, beside a bare scalar (equality). */
export interface QueryOperators {
  eq?: QueryScalar | undefined;
  in?: QueryScalar[] | undefined;
  startsWith?: string | undefined;
  gt?: QueryBound | undefined;
  gte?: QueryBound | undefined;
  lt?: QueryBound | undefined;
  lte?: QueryBound | undefined;
}

export type OrderDirection = 'asc' | 'desc';
/** One field per object: `{ title: 'asc' }`. */
export type OrderByInput = Record<string, OrderDirection> | Record<string, OrderDirection>[];

export interface QueryInput {
  where?: Record<string, QueryScalar | QueryOperators>;
  orderBy?: OrderByInput;
  limit?: number;
  offset?: number;
}

/** A bound of a range: ranges compare within one type (numbers with numbers, strings with strings). */
export interface RangeBound {
  value: QueryBound;
  inclusive: boolean;
}

export type Condition =
  | { field: string; kind: 'eq'; value: QueryScalar }
  | { field: string; kind: 'in'; values: QueryScalar[] }
  | { field: string; kind: 'range'; lower?: RangeBound; upper?: RangeBound }
  | { field: string; kind: 'prefix'; prefix: string };

export interface OrderTerm {
  field: string;
  direction: OrderDirection;
}

/**
 * The canonical query. `where`: one condition per field, sorted by field. `orderBy`: never empty,
 * it ends with `id`, which makes the order total (appended, in the direction of the last term,
 * unless the query names `id` itself; terms after `id` are dropped, they could never decide).
 * `offset` is 0 when absent, `limit` undefined for "everything from offset".
 */
export interface NormalizedQuery {
  where: Condition[];
  orderBy: OrderTerm[];
  offset: number;
  limit?: number;
}

export type QueryError = { code: InvalidQueryCode; message: string };
export type Normalized = { ok: true; query: NormalizedQuery } | { ok: false; error: QueryError };

const Text = v.pipe(v.string('must be a string'), v.maxLength(QUERY_LIMITS.maxStringLength, `strings are at most ${QUERY_LIMITS.maxStringLength} characters`));
const FiniteNumber = v.pipe(v.number('must be a number'), v.finite('numbers must be finite'));
const Scalar = v.union([Text, FiniteNumber, v.boolean(), v.null()], 'a value is a string, a finite number, a boolean or null');
const Bound = v.union([Text, FiniteNumber], 'range bounds must be strings or finite numbers');

const Operators = v.strictObject(
  {
    eq: v.optional(Scalar),
    in: v.optional(v.pipe(v.array(Scalar, 'in must be an array'), v.maxLength(QUERY_LIMITS.maxInValues, `in holds at most ${QUERY_LIMITS.maxInValues} values`))),
    startsWith: v.optional(Text),
    gt: v.optional(Bound),
    gte: v.optional(Bound),
    lt: v.optional(Bound),
    lte: v.optional(Bound),
  },
  'only eq, in, startsWith, gt, gte, lt and lte are operators',
);

const count = (max: number, what: string) =>
  v.optional(v.pipe(v.number(`${what} must be a number`), v.integer(`${what} must be an integer`), v.minValue(0, `${what} must not be negative`), v.maxValue(max, `${what} is at most ${max}`)));

const QueryShape = v.strictObject(
  {
    where: v.optional(v.unknown()),
    orderBy: v.optional(v.unknown()),
    limit: count(QUERY_LIMITS.maxLimit, 'limit'),
    offset: count(QUERY_LIMITS.maxOffset, 'offset'),
  },
  'a query has only where, orderBy, limit and offset',
);

/** Thrown inside normalization only; normalizeQuery turns it into a result. */
class Invalid extends Error {}

/** Validates `input` (from a tab: anything) and returns its canonical form, or why it is refused. */
export function normalizeQuery(input: unknown): Normalized {
  try {
    if (!isPlainObject(input)) throw new Invalid('a query must be an object');
    const shape = v.safeParse(QueryShape, input);
    if (!shape.success) throw new Invalid(describeIssues(shape.issues));
    const { where, orderBy, limit, offset } = shape.output;
    const query: NormalizedQuery = { where: normalizeWhere(where), orderBy: normalizeOrderBy(orderBy), offset: offset ?? 0 };
    if (limit !== undefined) query.limit = limit;
    return { ok: true, query };
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    return { ok: false, error: { code: INVALID_QUERY, message: `invalid query: ${error.message}` } };
  }
}

/** One string per distinct query: equal normalized queries give equal keys. */
export function queryKey(query: NormalizedQuery): string {
  // JSON of the canonical form: its arrays are sorted and its objects built in one key order.
  return JSON.stringify([query.where, query.orderBy, query.offset, query.limit ?? null]);
}

function normalizeWhere(where: unknown): Condition[] {
  if (where === undefined) return [];
  if (!isPlainObject(where)) throw new Invalid('where must be an object of field conditions');
  const fields = Object.keys(where);
  if (fields.length > QUERY_LIMITS.maxFields) throw new Invalid(`where names at most ${QUERY_LIMITS.maxFields} fields`);
  return fields.sort().map((field) => {
    checkField(field, 'where');
    // An object is read as operators, anything else as a scalar: each names its own fault.
    const value = where[field];
    const parsed = isPlainObject(value) ? v.safeParse(Operators, value) : v.safeParse(Scalar, value);
    if (!parsed.success) throw new Invalid(`where.${field}: ${describeIssues(parsed.issues)}`);
    return condition(field, parsed.output);
  });
}

function condition(field: string, value: QueryScalar | QueryOperators): Condition {
  if (value === null || typeof value !== 'object') return { field, kind: 'eq', value };
  const named = (Object.keys(value) as (keyof QueryOperators)[]).filter((key) => value[key] !== undefined);
  const fail = (message: string): never => {
    throw new Invalid(`where.${field}: ${message}`);
  };
  if (named.length === 0) fail('names no operator');
  const single = named.find((key) => key === 'eq' || key === 'in' || key === 'startsWith');
  if (single && named.length > 1) fail(`${single} cannot be combined with other operators`);
  if (value.eq !== undefined) return { field, kind: 'eq', value: value.eq };
  if (value.startsWith !== undefined) return { field, kind: 'prefix', prefix: value.startsWith };
  if (value.in !== undefined) return inCondition(field, value.in);
  if (value.gt !== undefined && value.gte !== undefined) fail('gt and gte cannot be combined');
  if (value.lt !== undefined && value.lte !== undefined) fail('lt and lte cannot be combined');
  const lower = bound(value.gt, value.gte);
  const upper = bound(value.lt, value.lte);
  if (lower && upper && typeof lower.value !== typeof upper.value) fail('both bounds of a range must be numbers, or both strings');
  return { field, kind: 'range', ...(lower && { lower }), ...(upper && { upper }) };
}

function bound(exclusive: QueryBound | undefined, inclusive: QueryBound | undefined): RangeBound | undefined {
  if (exclusive !== undefined) return { value: exclusive, inclusive: false };
  if (inclusive !== undefined) return { value: inclusive, inclusive: true };
  return undefined;
}

function inCondition(field: string, values: QueryScalar[]): Condition {
  if (values.length === 0) throw new Invalid(`where.${field}: in needs at least one value`);
  // Sorted and without repeats, so that the same set always reads the same.
  const distinct = [...new Map(values.map((value) => [JSON.stringify(value), value])).entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, value]) => value);
  return distinct.length === 1 ? { field, kind: 'eq', value: distinct[0]! } : { field, kind: 'in', values: distinct };
}

function normalizeOrderBy(orderBy: unknown): OrderTerm[] {
  const items = orderBy === undefined ? [] : Array.isArray(orderBy) ? orderBy : [orderBy];
  if (items.length > QUERY_LIMITS.maxFields) throw new Invalid(`orderBy names at most ${QUERY_LIMITS.maxFields} fields`);
  const terms: OrderTerm[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const keys = isPlainObject(item) ? Object.keys(item) : [];
    if (keys.length !== 1) throw new Invalid("orderBy is { field: 'asc' | 'desc' } or an array of them, one field per object");
    const field = keys[0]!;
    checkField(field, 'orderBy');
    const direction = (item as Record<string, unknown>)[field];
    if (direction !== 'asc' && direction !== 'desc') throw new Invalid(`orderBy.${field} must be 'asc' or 'desc'`);
    if (seen.has(field)) throw new Invalid(`orderBy names ${field} twice`);
    seen.add(field);
    terms.push({ field, direction });
    if (field === 'id') return terms;
  }
  terms.push({ field: 'id', direction: terms.at(-1)?.direction ?? 'asc' });
  return terms;
}

function checkField(field: string, where: string): void {
  if (!FIELD_NAME.test(field)) {
    throw new Invalid(`${where}: ${JSON.stringify(field.slice(0, 80))} is not a field name (a letter or _, then letters, digits or _, at most 64)`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

// The delta and how a tab applies it live apart, so that the facade imports them without valibot.
export { applyDelta, type WindowDelta } from './window-delta';
