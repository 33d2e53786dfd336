/**
 * Reconnect delays: doubling from `base` per failed attempt up to `cap`, with "equal jitter"
 * (half fixed, half random) so that many browsers dropped at once do not return at once.
 */
export function reconnectDelay(attempt: number, base: number, cap: number, random: () => number): number {
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + random() * (ceiling / 2);
}
