/** Waiting on a manual clock: time moves by `step` between looks, the sockets and IndexedDB run for real. */
import type { ManualClock } from './manual-clock';

/** Advances `clock` by `step` until `check` returns a value other than undefined/false; gives up
 *  after `steps` steps (a count of clock steps, not a real-time deadline). */
export async function advanceUntil<T>(clock: ManualClock, check: () => T | undefined | false | Promise<T | undefined | false>, what: string, step = 10, steps = 1000): Promise<T> {
  for (let taken = 0; taken <= steps; taken++) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    await clock.advance(step);
  }
  throw new Error(`${what} did not happen within ${steps} steps of ${step} ms`);
}
