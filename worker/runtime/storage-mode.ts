/** Where the data lives now: `indexeddb`, or `memory` once IndexedDB failed (said in the status). */
import type { StorageMode } from '../../protocol/tab-api';
import type { Logger } from '../config';
import type { OpenedStorage } from '../storage/open-storage';
import type { StatusStore } from './status';

export class StorageModes {
  private current: StorageMode;

  constructor(
    private readonly status: StatusStore,
    private readonly log: Logger,
    opened: OpenedStorage,
  ) {
    this.current = opened.mode;
    if (opened.mode === 'memory') this.use(opened);
  }

  /** The storage opened again, as `fresh`: said when its mode differs. */
  reopened(fresh: OpenedStorage): void {
    if (fresh.mode !== this.current) this.use(fresh);
  }

  get mode(): StorageMode {
    return this.current;
  }

  private use(fresh: OpenedStorage): void {
    this.current = fresh.mode;
    this.status.update({ storage: fresh.mode });
    if (fresh.mode === 'memory') this.log.warn(`${fresh.reason ?? 'no IndexedDB'}: keeping the data in memory, nothing survives this worker`);
  }
}
