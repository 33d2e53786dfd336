/**
 * A set of listeners called in turn, each guarded: one that throws (or, being async, rejects)
 * is logged and neither stops the others nor reaches whoever emitted, so that a commit, already
 * durable, is never reported as failed because someone listening to it failed.
 */
import type { Logger } from '../log';

export class Listeners<T> {
  private readonly listeners = new Set<(value: T) => unknown>();

  constructor(
    private readonly log: Logger,
    /** Names the listeners in the log line: `onAppended listener failed`. */
    private readonly what: string,
  ) {}

  /** Returns the unsubscribe function. */
  add(listener: (value: T) => unknown): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  get size(): number {
    return this.listeners.size;
  }

  emit(value: T, fields: Record<string, unknown> = {}): void {
    for (const listener of this.listeners) {
      try {
        const result = listener(value);
        if (isThenable(result)) result.then(undefined, (error: unknown) => this.failed(error, fields));
      } catch (error) {
        this.failed(error, fields);
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }

  private failed(error: unknown, fields: Record<string, unknown>): void {
    this.log.error(`${this.what} listener failed`, { ...fields, error });
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
