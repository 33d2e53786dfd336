import type { SyncErrorShape, TabErrorCode } from '../protocol/tab-api';

/** A failure reported by the sync runtime. `code` says what went wrong in a form code can branch on. */
export class SyncError extends Error {
  override readonly name = 'SyncError';

  constructor(
    readonly code: TabErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Comlink hands over the worker's thrown `SyncErrorShape` as a plain object: make it an `Error` again. */
export function toError(thrown: unknown): Error {
  const shape = thrown as SyncErrorShape | null;
  if (thrown instanceof Error) return thrown;
  return shape?.name === 'SyncError' ? new SyncError(shape.code, shape.message) : new Error(String(thrown));
}

/** For a promise whose failure is already handled elsewhere. */
export const ignore = (): void => {};

/** Surfaces a failure nobody awaits (a background call) without breaking the caller. */
export function report(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

/** Calls an app callback; its exception is reported, never thrown back to the worker (which
 *  would take this tab for dead) nor into the other callbacks. */
export function notify<T>(callback: (value: T) => void, value: T): void {
  try {
    callback(value);
  } catch (error) {
    report(error);
  }
}

/** Calls each callback (a copy of the set: one may unsubscribe another) with `value`. */
export function emit<T>(callbacks: Set<(value: T) => void>, value: T): void {
  for (const callback of [...callbacks]) notify(callback, value);
}
