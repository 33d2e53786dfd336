/**
 * Whether a record comes back equal through JSON, the form it crosses the wire in (the worker's
 * writes and the server's own, server/server-writes.ts, both check). IndexedDB keeps
 * a Date or a Map as it is, so such a record would look fine here and differ (or be refused) on
 * every other device. One walk over plain objects and arrays, no stringify and parse round trip.
 */

/** The first field that JSON would not bring back equal, and what it is; `undefined` when none.
 *  An object field that is `undefined` is fine: JSON leaves it out, and it reads back absent.
 *  Looks `depth` levels down at most: deeper (or a cycle) is for the caller's depth check. */
export function jsonMismatch(value: unknown, depth: number, path = ''): string | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${field(path)} is ${value}`;
  if (typeof value !== 'object') return `${field(path)} is ${value === undefined ? 'undefined' : `a ${typeof value}`}`;
  if (depth < 0) return undefined;
  if (Array.isArray(value)) return arrayMismatch(value, depth, path);
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return `${field(path)} is ${kind(value)}`;
  for (const [key, item] of Object.entries(value)) {
    const mismatch = item === undefined ? undefined : jsonMismatch(item, depth - 1, path ? `${path}.${key}` : key);
    if (mismatch) return mismatch;
  }
  return undefined;
}

function arrayMismatch(array: readonly unknown[], depth: number, path: string): string | undefined {
  // A hole or an undefined element comes back as null.
  for (let i = 0; i < array.length; i++) {
    const mismatch = jsonMismatch(array[i], depth - 1, `${path}[${i}]`);
    if (mismatch) return mismatch;
  }
  return undefined;
}

const field = (path: string) => (path ? `field ${path}` : 'the record');

/** `a Date`, `a Map`, `an instance of Todo`. */
function kind(value: object): string {
  const name = (value.constructor as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && name && name !== 'Object' ? `a ${name}` : 'an object that is not plain';
}
