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

function isSyncErrorShape(value: unknown): value is SyncErrorShape {
  const candidate = value as Partial<SyncErrorShape> | null;
  return typeof candidate === 'object' && candidate?.name === 'SyncError' && typeof candidate.code === 'string';
}

/** Comlink hands over the worker's thrown `SyncErrorShape` as a plain object: make it an `Error` again. */
export function toError(thrown: unknown): Error {
  if (isSyncErrorShape(thrown)) return new SyncError(thrown.code, thrown.message);
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}

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
