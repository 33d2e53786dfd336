/** When each record id first appeared in a tab's subscription, and who waits for which id. */
export function arrivalLog() {
  const arrivals = new Map<string, number>();
  const waiters = new Map<string, (t: number) => void>();
  return {
    /** Notes `id` as arrived at `t` unless it already was; true when this is its first arrival. */
    note(id: string, t: number): boolean {
      if (arrivals.has(id)) return false;
      arrivals.set(id, t);
      waiters.get(id)?.(t);
      waiters.delete(id);
      return true;
    },
    /** When `id` first arrived, as soon as it has. */
    arrivalOf(id: string): Promise<number> {
      const seen = arrivals.get(id);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.set(id, resolve));
    },
  };
}
