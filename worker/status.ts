/** The runtime's SyncStatus: one object, changed in place, published to tabs once per burst. */
import type { SyncStatus } from '../protocol/tab-api';

export class StatusStore {
  private current: SyncStatus = {
    started: false,
    connected: false,
    authenticated: false,
    unauthorized: false,
    pending: 0,
    syncing: false,
  };
  private publishTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly publish: (status: SyncStatus) => void) {}

  /** A copy without keys set to undefined. */
  get(): SyncStatus {
    const copy = { ...this.current };
    if (copy.progress) copy.progress = { ...copy.progress };
    if (copy.lastError) copy.lastError = { ...copy.lastError };
    for (const key of Object.keys(copy) as (keyof SyncStatus)[]) if (copy[key] === undefined) delete copy[key];
    return copy;
  }

  update(patch: Partial<SyncStatus>): void {
    const changed = (Object.keys(patch) as (keyof SyncStatus)[]).some((key) => patch[key] !== this.current[key]);
    if (!changed) return;
    this.current = { ...this.current, ...patch };
    // Changes of one task (connected, authenticated, syncing…) reach tabs as one status.
    this.publishTimer ??= setTimeout(() => {
      this.publishTimer = undefined;
      this.publish(this.get());
    }, 0);
  }

  error(code: string, message: string): void {
    this.update({ lastError: { code, message, at: new Date().toISOString() } });
  }

  /** Stops publishing (the runtime is closing). */
  close(): void {
    clearTimeout(this.publishTimer);
    this.publishTimer = undefined;
  }
}
