/** What a watching tab receives for a query window, and how it applies it (docs/queries.md).
 *  No imports: the tab's facade bundles this file. */

/**
 * What a watching tab receives after a change, to turn its window into the new one. Positions:
 * `left[].index` and `moved[].from` are in the old window; `entered[].index`, `moved[].to` and
 * `updated[].index` in the new one. Applied in this order it is exact: drop `left` and `moved`,
 * insert `entered` and `moved` by ascending new position, then replace `updated`. `count` is the
 * number of records matching the `where` (limit and offset aside).
 */
export interface WindowDelta<R> {
  entered: { index: number; record: R }[];
  left: { id: string; index: number }[];
  moved: { id: string; from: number; to: number; record: R }[];
  updated: { index: number; record: R }[];
  count: number;
}

/**
 * A window and a delta → the next window, as a tab applies it (see WindowDelta). Throws when the
 * delta does not fit the window (a missed delta): the tab should then ask for the window again.
 */
export function applyDelta<R extends { id: string }>(window: readonly R[], delta: WindowDelta<R>): R[] {
  const fail = (why: string): never => {
    throw new Error(`the delta ${why}`);
  };
  const removed = new Set([...delta.left, ...delta.moved].map((entry) => entry.id));
  const next = window.filter((record) => !removed.has(record.id));
  if (next.length !== window.length - removed.size) fail('removes records the window does not hold');
  const inserts = [...delta.entered, ...delta.moved.map(({ to, record }) => ({ index: to, record }))].sort((a, b) => a.index - b.index);
  for (const { index, record } of inserts) {
    if (index > next.length) fail(`inserts at ${index}, past the window's end`);
    next.splice(index, 0, record);
  }
  for (const { index, record } of delta.updated) {
    if (next[index]?.id !== record.id) fail(`updates ${record.id} at ${index}, which holds another record`);
    next[index] = record;
  }
  return next;
}
