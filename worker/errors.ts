/** Errors that cross to tabs: plain `SyncErrorShape` objects, which comlink carries intact. */
import type { SyncErrorShape, TabErrorCode } from '../protocol/tab-api';

export function syncError(code: TabErrorCode, message: string): SyncErrorShape {
  return { name: 'SyncError', code, message };
}

export function isSyncError(value: unknown): value is SyncErrorShape {
  return typeof value === 'object' && value !== null && (value as { name?: unknown }).name === 'SyncError';
}

/** An IndexedDB failure as tabs see it: a full disk is worth telling apart. */
export function storageFailure(error: unknown): SyncErrorShape {
  if (isSyncError(error)) return error;
  const name = error instanceof Error || error instanceof DOMException ? error.name : '';
  const message = describe(error);
  return name === 'QuotaExceededError'
    ? syncError('quota_exceeded', `storage is full: ${message}`)
    : syncError('storage_failed', `storage failed: ${message}`);
}

export function describe(error: unknown): string {
  if (isSyncError(error)) return error.message;
  if (error instanceof Error || error instanceof DOMException) return error.message || error.name;
  return String(error);
}
