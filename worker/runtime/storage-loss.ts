/**
 * The database taken away under the running worker (site data cleared, evicted, deleted by
 * another context): let go of it at once, stop the session, open a fresh database, queue again
 * the unsent writes this worker knows, and re-sync from cursor 0. A third loss within
 * LOSS_LOOP_MS goes on in memory instead of looping.
 */
import type { Clock } from '../clock';
import type { Logger } from '../config';
import { describe } from '../errors';
import { MemoryStorage } from '../storage/memory-store';
import type { OpenedStorage } from '../storage/open-storage';
import type { ReplaceableStorage } from '../storage/replaceable-storage';
import type { SyncEngine } from '../sync/engine';
import type { DatabaseOpener } from './database-opener';
import type { LossReason } from './runtime-events';
import type { StatusStore } from './status';
import type { StorageModes } from './storage-mode';

/** Losses this close together (ms) count as one run: the third of a run is not answered with
 *  another fresh database (a clearing still under way may take the first fresh one too), but with
 *  memory, instead of looping. */
const LOSS_LOOP_MS = 10_000;
const LOSSES_BEFORE_MEMORY = 3;
/** A fresh database right after a loss may refuse to open for a moment: tries before memory. */
const REOPEN_RETRIES = 10;

export interface RecoveryParts {
  storage: ReplaceableStorage;
  opener: DatabaseOpener;
  engine: Pick<SyncEngine, 'block' | 'unblock'>;
  status: StatusStore;
  modes: StorageModes;
  log: Required<Logger>;
  clock: Clock;
  /** The data shown is the fresh database's now: counts and watchers follow. */
  replaced(): Promise<void>;
  /** The runtime closed: a fresh database is not put in place. */
  closed(): boolean;
}

export class StorageLossRecovery {
  /** Databases taken away while this worker ran. */
  losses = 0;
  /** When the recent losses happened. */
  private recent: number[] = [];
  private replacing = false;
  /** The fresh database was lost too, while it was being put in place. */
  private lostAgain: LossReason | undefined;

  constructor(private readonly parts: RecoveryParts) {}

  lost(reason: LossReason): void {
    const { storage, status, engine, closed } = this.parts;
    if (closed()) return;
    if (this.replacing) {
      this.lostAgain ??= reason;
      return;
    }
    this.replacing = true;
    this.losses++;
    // Let go at once (a deletion waits for this connection), and stop the session: what it
    // catches up from now on belongs to the lost database's cursors.
    const survivors = storage.lose();
    const unsent = status.get().pending;
    engine.block('storage_lost');
    const what = reason === 'deleted' ? 'the database was deleted' : 'the browser closed the database (site data cleared?)';
    status.error('storage_lost', `${what}: opening a fresh one`);
    void this.replace(what, survivors, unsent);
  }

  private async replace(what: string, survivors: ReturnType<ReplaceableStorage['lose']>, unsent: number): Promise<void> {
    const { storage, status, engine, log, modes } = this.parts;
    const fresh = await this.fresh();
    if (this.parts.closed()) return fresh.storage.close();
    storage.replace(fresh.storage);
    modes.reopened(fresh);
    let requeued = 0;
    try {
      requeued = await storage.requeue(survivors);
    } catch (error) {
      log.error(`could not queue the unsent writes again: ${describe(error)}`);
    }
    const lost = Math.max(0, unsent - requeued);
    const message = `${what}: re-syncing from the server; ${requeued} unsent writes queued again${lost > 0 ? `, ${lost} lost` : ''}`;
    log.warn(message);
    status.error('storage_lost', message);
    await this.parts.replaced();
    this.replacing = false;
    const again = this.lostAgain;
    this.lostAgain = undefined;
    if (again) this.lost(again);
    else engine.unblock('storage_lost');
  }

  /** A fresh database; memory when fresh ones were lost again and again (it would loop). */
  private async fresh(): Promise<OpenedStorage> {
    const now = this.parts.clock.now();
    this.recent = [...this.recent.filter((at) => now - at < LOSS_LOOP_MS), now];
    if (this.recent.length >= LOSSES_BEFORE_MEMORY) {
      return { storage: new MemoryStorage(), mode: 'memory', reason: `the database was taken away ${LOSSES_BEFORE_MEMORY} times in a row` };
    }
    return this.parts.opener.open(this.parts.opener.database, REOPEN_RETRIES);
  }
}
