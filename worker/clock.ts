/**
 * Time, injected: every part that reads the time or sets a timer takes a `Clock`, so that Node
 * tests drive backoff, heartbeats, timeouts and coalescing with a manual clock instead of sleeping.
 * The runtime uses `systemClock`.
 */
declare const timerBrand: unique symbol;
/** A timer's handle; only the clock that made it can clear it. */
export type Timer = { readonly [timerBrand]: true };

export interface Clock {
  /** Milliseconds since the epoch, as `Date.now()`. */
  now(): number;
  setTimeout(run: () => void, ms: number): Timer;
  setInterval(run: () => void, ms: number): Timer;
  /** Clears a timeout or an interval; `undefined` and cleared timers are ignored. */
  clear(timer: Timer | undefined): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms) as unknown as Timer,
  setInterval: (run, ms) => setInterval(run, ms) as unknown as Timer,
  clear: (timer) => {
    // clearTimeout and clearInterval share one pool of ids in browsers and in Node.
    if (timer !== undefined) clearTimeout(timer as unknown as ReturnType<typeof setTimeout>);
  },
};
