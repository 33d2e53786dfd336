/**
 * The part of node:assert/strict the storage contract uses (equal, deepEqual, ok, rejects), with
 * its strict semantics, for a page: esbuild.mjs maps `node:assert/strict` here for this bundle.
 */
export class AssertionError extends Error {
  override name = 'AssertionError';
}

const show = (value: unknown): string => {
  if (value instanceof Set) return `Set(${show([...value])})`;
  if (value instanceof Map) return `Map(${show([...value])})`;
  try {
    return JSON.stringify(value, (_key, inner: unknown) => (inner === undefined ? '<undefined>' : inner)) ?? String(value);
  } catch {
    return String(value);
  }
};

function fail(message: string | undefined, fallback: string): never {
  throw new AssertionError(message ? `${message} (${fallback})` : fallback);
}

/** Strict deep equality as node:assert/strict's deepEqual: same prototypes, own enumerable keys,
 *  Object.is for primitives; Sets and Maps by content. */
function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Set && b instanceof Set) {
    if (a.size !== b.size) return false;
    const rest = [...b];
    return [...a].every((item) => {
      const index = rest.findIndex((other) => same(item, other));
      return index >= 0 && rest.splice(index, 1).length === 1;
    });
  }
  if (a instanceof Map && b instanceof Map) {
    return a.size === b.size && [...a].every(([key, value]) => b.has(key) && same(value, b.get(key)));
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) => Object.prototype.hasOwnProperty.call(b, key) && same((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

const assert = {
  equal(actual: unknown, expected: unknown, message?: string): void {
    if (!Object.is(actual, expected)) fail(message, `expected ${show(expected)}, got ${show(actual)}`);
  },
  deepEqual(actual: unknown, expected: unknown, message?: string): void {
    if (!same(actual, expected)) fail(message, `expected deep-equal ${show(expected)}, got ${show(actual)}`);
  },
  ok(value: unknown, message?: string): void {
    if (!value) fail(message, `expected a truthy value, got ${show(value)}`);
  },
  async rejects(promise: Promise<unknown>, message?: string): Promise<void> {
    try {
      await promise;
    } catch {
      return;
    }
    fail(message, 'expected the promise to reject, it resolved');
  },
};

export default assert;
