/**
 * How far the paced fan-out stretches its interval under load. Each frame costs a socket write
 * whatever it holds (about 10 µs of CPU on loopback, mostly the kernel's, for 1 KB as for 20 KB),
 * so when the event loop is busy most of the time, sending a namespace's commits together less
 * often frees the loop for what waits on it (reading pushes, committing them, acking them) at the
 * price of later deliveries; when the loop has room again, the interval comes back.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** How often the event loop's utilization is read and the stretch decided. */
export const PACE_SAMPLE_MS = 500;
/** Busier than this over a sample: the interval doubles (up to MAX_STRETCH). */
const BUSY = 0.75;
/** Less busy than this: it halves (down to 1, the unstretched interval). */
const RELAXED = 0.5;
/** At most this many times the unstretched interval (with 1,000 subscribers: 50 ms → 200 ms). */
export const MAX_STRETCH = 4;

export class FanoutPace {
  private factor = 1;

  /** `utilization`: the share of the last sample's time the event loop was busy (0–1). */
  constructor(private readonly utilization: () => number) {}

  /** What the paced interval is multiplied by now: 1, 2 or 4. */
  get stretch(): number {
    return this.factor;
  }

  /** Reads the utilization of the sample that just ended and moves the stretch one step. */
  sample(): void {
    const busy = this.utilization();
    if (busy > BUSY) this.factor = Math.min(MAX_STRETCH, this.factor * 2);
    else if (busy < RELAXED) this.factor = Math.max(1, this.factor / 2);
  }
}

/** A pace that samples this process's event loop every PACE_SAMPLE_MS until `stop`. */
export function eventLoopPace(): { pace: FanoutPace; stop(): void } {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  const pace = new FanoutPace(() => {
    const now = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(now, last);
    last = now;
    return utilization;
  });
  const timer = setInterval(() => pace.sample(), PACE_SAMPLE_MS);
  // A pace is no reason to stay alive.
  timer.unref();
  return { pace, stop: () => clearInterval(timer) };
}
