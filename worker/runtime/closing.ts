/** Closing the runtime, in the order that keeps two sockets (and two writers) from overlapping:
 *  stop hearing the other runtimes, close the socket, wait for running writes, close the
 *  database, and only then let go of the writer lock and the connection. Also retiring for a newer schema version. */
import type { Logger } from '../config';
import type { Coordination } from '../coordination/coordination';
import type { WriterLock } from '../coordination/writer-lock';
import { syncError } from '../errors';
import type { WriteQueue } from '../local/writes';
import type { ReplaceableStorage } from '../storage/replaceable-storage';
import type { SyncEngine } from '../sync/engine';
import type { TabHub } from './hub';
import type { IdleDisconnect } from './idle-disconnect';
import type { StatusStore } from './status';

export interface ClosedParts {
  hub: TabHub;
  coordination: Coordination;
  idle: IdleDisconnect;
  engine: SyncEngine;
  writes: WriteQueue;
  status: StatusStore;
  storage: ReplaceableStorage;
  writerLock: WriterLock;
}

export class Closing {
  private done = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly parts: ClosedParts) {}

  get closed(): boolean {
    return this.done;
  }

  assertOpen(): void {
    if (this.done) throw syncError('closed', 'the sync runtime is closed');
  }

  close(): Promise<void> {
    return (this.closing ??= this.run());
  }

  /** A newer version of the app opened the database: stop for good, and tell the tabs. */
  retire(log: Logger, hub: TabHub, retired: (() => void) | undefined): void {
    if (this.done) return;
    log.warn('a newer version of the app opened the database: this worker stops syncing');
    hub.broadcastVersionChange();
    void this.close().then(() => retired?.());
  }

  private async run(): Promise<void> {
    const { hub, coordination, idle, engine, writes, status, storage, writerLock } = this.parts;
    this.done = true;
    // First: letting the tabs go would start the idle timer, which idle.close() then clears.
    hub.close();
    idle.close();
    coordination.close();
    await engine.close();
    await writes.idle();
    status.close();
    storage.close();
    // The last transaction is done: the next writer may begin (before the connection is free).
    writerLock.release();
    coordination.release();
  }
}
