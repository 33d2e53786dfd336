/** Polling with a deadline, for tests that have no event to wait for. */

/** Polls until `check` returns a value other than undefined/false. */
export async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Lets every promise reaction already queued (and those they queue) run: a turn of the event
 *  loop, not a wait for time. */
export function reactionsRun(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
