/** Seeded randomness for the query tests: a failure names its seed, and the seed replays it. */

/** mulberry32: a small, fast generator of floats in [0, 1). */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

/** A field value as records hold them: often small and colliding, so ties and ranges bite. */
export function randomValue(random: () => number): unknown {
  const kind = random();
  if (kind < 0.08) return undefined;
  if (kind < 0.14) return null;
  if (kind < 0.26) return random() < 0.5;
  if (kind < 0.6) return Math.floor(random() * 7) - 2 + (random() < 0.2 ? 0.5 : 0);
  if (kind < 0.95) return pick(random, ['', 'a', 'ab', 'abc', 'b', 'B', 'ba', 'z', '\uffff', 'é']);
  return random() < 0.5 ? { nested: 1 } : [1, 2];
}
