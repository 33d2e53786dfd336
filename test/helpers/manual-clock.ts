/**
 * A Clock that moves only when the test says so: `advance(ms)` fires every timer due within the
 * step in time order, letting the promises each one starts settle before the next fires.
 */
import type { Clock, Timer } from '../../worker/clock';

interface Scheduled {
  id: number;
  at: number;
  every: number | undefined;
  run: () => void;
}

export class ManualClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, Scheduled>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(run: () => void, ms: number): Timer {
    return this.schedule(run, ms, undefined);
  }

  setInterval(run: () => void, ms: number): Timer {
    return this.schedule(run, ms, Math.max(1, ms));
  }

  clear(timer: Timer | undefined): void {
    if (timer !== undefined) this.timers.delete(timer as unknown as number);
  }

  /** How many timers are waiting (cleared ones excluded). */
  get pending(): number {
    return this.timers.size;
  }

  /** When the next timer fires, or undefined when none waits. */
  nextAt(): number | undefined {
    let next: number | undefined;
    for (const timer of this.timers.values()) if (next === undefined || timer.at < next) next = timer.at;
    return next;
  }

  /** Moves time forward by `ms`, firing what falls due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const until = this.current + ms;
    for (let due = this.firstDue(until); due; due = this.firstDue(until)) {
      this.current = Math.max(this.current, due.at);
      if (due.every === undefined) this.timers.delete(due.id);
      else due.at += due.every;
      due.run();
      await settle();
    }
    this.current = until;
    await settle();
  }

  /** Advances to the next timer and fires it (and any due at the same instant). */
  async runNext(): Promise<void> {
    const at = this.nextAt();
    if (at !== undefined) await this.advance(at - this.current);
  }

  private schedule(run: () => void, ms: number, every: number | undefined): Timer {
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.current + Math.max(0, ms), every, run });
    return id as unknown as Timer;
  }

  private firstDue(until: number): Scheduled | undefined {
    let first: Scheduled | undefined;
    for (const timer of this.timers.values()) {
      if (timer.at <= until && (!first || timer.at < first.at || (timer.at === first.at && timer.id < first.id))) first = timer;
    }
    return first;
  }
}

/** Lets queued promise reactions (and those they queue) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise<void>((resolve) => setImmediate(resolve));
}
