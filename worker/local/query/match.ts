/**
 * `where` compiled into a predicate over a record's data. Conditions combine with AND.
 * - equality: same type and value; `null` matches null and a missing field alike;
 * - ranges compare within the bound's type: `{ gte: 2 }` matches numbers only, `{ gte: 'b' }`
 *   strings only; a missing field never matches a range;
 * - `in`: equality to any of the values; `startsWith`: strings only.
 */
import type { Condition, QueryScalar, RangeBound } from '../../../protocol/query';
import { fieldOf } from './row';

export type Predicate = (data: Readonly<Record<string, unknown>>) => boolean;

export function compileWhere(where: readonly Condition[]): Predicate {
  const tests = where.map((condition) => {
    const test = conditionTest(condition);
    return (data: Readonly<Record<string, unknown>>) => test(fieldOf(data, condition.field));
  });
  return (data) => tests.every((test) => test(data));
}

export function conditionTest(condition: Condition): (value: unknown) => boolean {
  switch (condition.kind) {
    case 'eq':
      return (value) => equals(value, condition.value);
    case 'in': {
      const { values } = condition;
      return (value) => values.some((candidate) => equals(value, candidate));
    }
    case 'prefix': {
      const { prefix } = condition;
      return (value) => typeof value === 'string' && value.startsWith(prefix);
    }
    case 'range':
      return rangeTest(condition.lower, condition.upper);
  }
}

function equals(value: unknown, expected: QueryScalar): boolean {
  if (expected === null) return value === null || value === undefined;
  return value === expected;
}

function rangeTest(lower: RangeBound | undefined, upper: RangeBound | undefined): (value: unknown) => boolean {
  const type = typeof (lower ?? upper)?.value;
  return (value) => {
    if (typeof value !== type) return false;
    const v = value as number | string;
    if (lower && (lower.inclusive ? v < lower.value : v <= lower.value)) return false;
    if (upper && (upper.inclusive ? v > upper.value : v >= upper.value)) return false;
    return true;
  };
}
