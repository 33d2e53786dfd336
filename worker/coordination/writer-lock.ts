/**
 * Whether this runtime is, provably, its database's only writer: it holds the Web Lock
 * `writerLockName(database)`. It asks for it once it leads (the leader commits every runtime's
 * writes, write-forwarding.ts) and lets go only when it closes, after its last transaction and
 * before the connection lock, so the next leader finds it free once the old one wrote its last.
 * While it holds the lock, and only then, the storage may keep the records' versions and commit
 * without reading (known-versions.ts): `holding` says so, `lost` takes it back (the lock taken
 * away, which the browser does not do by itself to a live holder).
 *
 * A runtime that shares its database with no other (no peers: a SharedWorker in Node, a
 * dedicated worker in memory) is the only writer by construction, and takes no lock. Without
 * Web Locks, one that might share it never counts as the only writer: its commits read as before.
 */
import { writerLockName } from '../../protocol/tab-api';
import { Emitter } from '../events';

export interface WriterLockEvents extends Record<string, unknown> {
  /** This runtime is now the database's only writer: load what commits need to know. */
  holding: undefined;
  /** It no longer is: forget it. */
  lost: undefined;
}

export class WriterLock {
  readonly events = new Emitter<WriterLockEvents>();
  private held = false;
  private asked = false;
  private closed = false;
  private letGo = () => {};
  private readonly controller = new AbortController();

  constructor(
    private readonly locks: LockManager | undefined,
    private readonly databaseName: string,
    /** No other runtime can open this database. */
    private readonly alone: boolean,
  ) {}

  holds(): boolean {
    return this.held;
  }

  /** This runtime leads: it asks for the lock (once). */
  acquire(): void {
    if (this.asked || this.closed) return;
    this.asked = true;
    // Nobody to exclude (and a runtime in memory must not keep the lock from the database's writer).
    if (this.alone) return this.granted();
    if (!this.locks) return;
    const released = new Promise<void>((resolve) => (this.letGo = resolve));
    this.locks
      .request(writerLockName(this.databaseName), { mode: 'exclusive', signal: this.controller.signal }, () => {
        if (this.closed) return undefined;
        this.granted();
        return released;
      })
      .then(() => this.dropped(), () => this.dropped());
  }

  /** Closing, after the last transaction: lets go (or withdraws the request still waiting). */
  release(): void {
    this.closed = true;
    this.controller.abort();
    this.dropped();
    this.letGo();
  }

  private granted(): void {
    this.held = true;
    this.events.emit('holding');
  }

  private dropped(): void {
    if (!this.held) return;
    this.held = false;
    this.events.emit('lost');
  }
}
