/** The runtime's SyncStatus: one object, changed in place, published to tabs once per burst. */
import type { SyncErrorCode, SyncStatus } from '../../protocol/tab-api';
import { systemClock, type Clock, type Timer } from '../clock';

/** Counters that change with every write (the outbox size, how long it has stalled) reach tabs
 *  at most once per this interval (the first at once, the last at the end of a burst) instead of
 *  once per write, since each status wakes every tab. Any other change, catch-up progress
 *  included (once per page of hundreds of events), publishes at once, carrying them along. */
const QUIET_KEYS: ReadonlySet<keyof SyncStatus> = new Set(['pending', 'stalledForMs']);
const QUIET_DELAY_MS = 50;

/** A change to the status: a key given as `undefined` is cleared. */
export type StatusPatch = { [K in keyof SyncStatus]?: SyncStatus[K] | undefined };

export class StatusStore {
  private current: SyncStatus = {
    started: false,
    connected: false,
    authenticated: false,
    unauthorized: false,
    pending: 0,
    syncing: false,
    storage: 'indexeddb',
  };
  private publishTimer: Timer | undefined;
  private publishDelay = 0;
  private lastPublishedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly publish: (status: SyncStatus) => void,
    /** The coalescing timer's clock; `systemClock` by default. */
    private readonly clock: Clock = systemClock,
  ) {}

  /** A copy without keys set to undefined. */
  get(): SyncStatus {
    const copy = { ...this.current };
    if (copy.progress) copy.progress = { ...copy.progress };
    if (copy.lastError) copy.lastError = { ...copy.lastError };
    for (const key of Object.keys(copy) as (keyof SyncStatus)[]) if (copy[key] === undefined) delete copy[key];
    return copy;
  }

  update(patch: StatusPatch): void {
    const changed = (Object.keys(patch) as (keyof SyncStatus)[]).filter((key) => patch[key] !== this.current[key]);
    if (changed.length === 0) return;
    this.current = patched(this.current, patch);
    // Changes of one task (connected, authenticated, syncing…) reach tabs as one status.
    const urgent = changed.some((key) => !QUIET_KEYS.has(key));
    if (this.publishTimer !== undefined && (this.publishDelay === 0 || !urgent)) return;
    this.clock.clear(this.publishTimer);
    this.schedule(urgent ? 0 : Math.max(0, this.lastPublishedAt + QUIET_DELAY_MS - this.clock.now()));
  }

  private schedule(delay: number): void {
    this.publishDelay = delay;
    this.publishTimer = this.clock.setTimeout(() => {
      this.publishTimer = undefined;
      this.lastPublishedAt = this.clock.now();
      this.publish(this.get());
    }, delay);
  }

  error(code: SyncErrorCode, message: string): void {
    this.update({ lastError: { code, message, at: new Date(this.clock.now()).toISOString() } });
  }

  /** Stops publishing (the runtime is closing). */
  close(): void {
    this.clock.clear(this.publishTimer);
    this.publishTimer = undefined;
  }
}

/** The status with the patch applied: the keys it clears are left out. */
function patched(status: SyncStatus, patch: StatusPatch): SyncStatus {
  const next: StatusPatch = { ...status, ...patch };
  for (const key of Object.keys(patch) as (keyof SyncStatus)[]) if (patch[key] === undefined) delete next[key];
  return next as SyncStatus;
}
