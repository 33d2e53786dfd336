/**
 * Durable by request: a browser may evict an origin's IndexedDB under storage pressure unless the
 * origin was granted persistent storage. Only a window may ask for it
 * (`navigator.storage.persist()`), so the worker asks one attached tab, once; what was granted,
 * and how much is used of the quota, the worker reads itself. Where the engine has no
 * `navigator.storage` at all (WebKitGTK, Node), nobody is asked and all of it is `unknown`.
 */
import type { Diagnostics } from '../../protocol/tab-api';
import type { Logger } from '../config';
import { describe } from '../errors';
import type { TabHub } from '../runtime/hub';

/** The parts of `navigator.storage` the worker reads; any of them may be missing. */
export type StorageManagerLike = Partial<Pick<StorageManager, 'persisted' | 'estimate'>>;

/** This global's `navigator.storage`, where the engine has one. */
export function browserStorageManager(): StorageManagerLike | undefined {
  return (globalThis as { navigator?: { storage?: StorageManagerLike } }).navigator?.storage;
}

export class PersistenceRequest {
  /** `waiting` for a tab to ask, `asking` one, `done` once a tab brought the browser's answer
   *  (or at once where the engine cannot persist: its tabs could not ask either). */
  private state: 'waiting' | 'asking' | 'done';
  /** Tabs asked already: one that failed is not asked again. */
  private readonly asked = new Set<string>();

  constructor(
    private readonly hub: TabHub,
    private readonly log: Logger,
    manager: StorageManagerLike | undefined,
  ) {
    this.state = manager ? 'waiting' : 'done';
  }

  /** A tab attached: the first attached tab not asked yet is asked, unless a tab answered
   *  already or is being asked. */
  tabAttached(): void {
    if (this.state !== 'waiting') return;
    const tabId = this.hub.describe().find(({ id }) => !this.asked.has(id))?.id;
    if (tabId === undefined) return;
    this.state = 'asking';
    this.asked.add(tabId);
    this.hub.askToPersist(tabId).then(
      (granted) => this.answered(granted === undefined ? 'waiting' : 'done'),
      (error: unknown) => {
        this.log.warn(`tab ${tabId} could not ask for persistent storage: ${describe(error)}`);
        this.answered('waiting');
      },
    );
  }

  private answered(state: 'waiting' | 'done'): void {
    this.state = state;
    // Tabs that attached meanwhile were not asked: the next of them is.
    this.tabAttached();
  }
}

type StorageFacts = Pick<Diagnostics['storage'], 'persisted' | 'usageBytes' | 'quotaBytes'>;

/** What the browser says of the origin's storage: `unknown`, and no usage, where it cannot tell. */
export async function storageEstimate(manager: StorageManagerLike | undefined): Promise<StorageFacts> {
  const [persisted, estimate] = await Promise.all([
    manager?.persisted?.().catch(() => undefined),
    manager?.estimate?.().catch(() => undefined),
  ]);
  return {
    persisted: persisted ?? 'unknown',
    ...(estimate?.usage === undefined ? {} : { usageBytes: estimate.usage }),
    ...(estimate?.quota === undefined ? {} : { quotaBytes: estimate.quota }),
  };
}
