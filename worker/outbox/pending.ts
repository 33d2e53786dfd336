/**
 * Everything about unacknowledged writes while a session runs: how many are pending (counted up
 * and down here, recounted when other runtimes of the profile wrote to the same outbox), the
 * drain through the sender's window, acks, refusals and the writes set aside, and the stall
 * watchdog. It emits `stalled` when the watchdog wants a new socket.
 */
import type { ClientMessage } from '../../protocol/messages';
import type { ServerErrorCode, SetAsideWrite } from '../../protocol/tab-api';
import type { Clock, Timer } from '../clock';
import type { Logger } from '../config';
import { Emitter } from '../emitter';
import { describe, storageFailure } from '../errors';
import type { StatusStore } from '../runtime/status';
import type { OutboxEntry, SyncStorage } from '../storage/storage';
import { OutboxSender } from './outbox';
import { StallClock } from './stall';

/** Set-aside writes that diagnostics remember. */
const SET_ASIDE_KEPT = 20;

export interface PendingOutboxOptions {
  storage: SyncStorage;
  /** Sends on the socket; false when there is none. */
  send(message: ClientMessage): boolean;
  /** Other runtimes of the profile write to the same outbox. */
  sharedOutbox?: boolean | undefined;
  stallAfter: number;
  status: StatusStore;
  log: Required<Logger>;
  clock: Clock;
}

export class PendingOutbox extends Emitter<{ stalled: undefined }> {
  private readonly sender: OutboxSender;
  private readonly stall: StallClock;
  private pending = 0;
  private counting: Promise<void> | null = null;
  private countAgain = false;
  /** The session is authenticated: pushes may go. */
  private authenticated = false;
  /** A catch-up runs: pushes wait for it. */
  private catchingUp = false;
  private stallTimer: Timer | undefined;
  private readonly setAsideWrites: SetAsideWrite[] = [];

  constructor(private readonly options: PendingOutboxOptions) {
    super();
    this.sender = new OutboxSender(
      options.storage,
      (message) => this.authenticated && options.send(message),
      options.sharedOutbox,
      (entry, maxBatchBytes) => void this.dropUnsendable(entry, maxBatchBytes),
    );
    this.stall = new StallClock(options.stallAfter, options.clock, options.status, options.log);
  }

  /** The writes this runtime took out of the outbox as unsendable, newest last. */
  setAsideLately(): readonly SetAsideWrite[] {
    return this.setAsideWrites;
  }

  /** The storage holds other data now: nothing remembered of the old outbox goes out. */
  storageReplaced(): void {
    this.sender.forget();
  }

  /** The largest frame the server takes. */
  serverTakes(frameBytes: number): void {
    this.sender.serverTakes(frameBytes);
  }

  /** Reads the outbox size; calls during a count share the next one, so the last count always
   *  follows the last change. */
  count(): Promise<void> {
    if (this.counting) {
      this.countAgain = true;
      return this.counting;
    }
    const count = async () => {
      try {
        do {
          this.countAgain = false;
          this.pending = await this.options.storage.outboxSize();
          this.stall.counted(this.pending);
          this.options.status.update({ pending: this.pending });
        } while (this.countAgain);
      } finally {
        this.counting = null;
      }
    };
    this.counting = count();
    return this.counting;
  }

  /** Local writes were committed (`queued`: the entries the commit returned): count them and push
   *  them if the session may. */
  grew(events: number, queued?: readonly OutboxEntry[]): void {
    this.sender.queued(queued);
    this.pending += events;
    this.stall.grew();
    this.options.status.update({ pending: this.pending });
    if (this.authenticated && !this.catchingUp) this.drain();
  }

  /** Another runtime wrote to or acknowledged from the shared outbox: count it, push what waits. */
  changed(): void {
    this.sender.queued();
    this.count().then(
      () => {
        if (this.authenticated && !this.catchingUp) this.drain();
      },
      (error: unknown) => this.options.log.warn(`could not count the outbox: ${describe(error)}`),
    );
  }

  /** The server authenticated the session; `fresh`: a new one (not a re-authentication in place),
   *  in which everything unacknowledged goes again. */
  authenticatedAs(fresh: boolean): void {
    if (fresh) {
      this.sender.reset();
      this.stall.sessionStarted(this.pending);
      this.options.clock.clear(this.stallTimer);
      this.stallTimer = this.options.clock.setInterval(() => this.checkStall(), this.stall.checkEvery);
    }
    this.authenticated = true;
  }

  /** Nothing may go until the server says whose session it is (again). */
  unauthenticated(): void {
    this.authenticated = false;
  }

  catchUpStarted(): void {
    this.catchingUp = true;
  }

  /** The catch-up ended (`complete`: what waited goes now) or was given up on. */
  catchUpEnded(complete: boolean): void {
    this.catchingUp = false;
    if (complete) this.drain();
  }

  /** The socket is gone. A stall outlives only the watchdog's own reconnect (`keepStall`). */
  sessionEnded(keepStall: boolean): void {
    this.options.clock.clear(this.stallTimer);
    this.stallTimer = undefined;
    if (!keepStall) this.stall.end();
    this.authenticated = false;
    this.catchingUp = false;
  }

  /** An ack: its frame's entries leave the outbox. */
  async acknowledged(eventIds: readonly string[]): Promise<void> {
    // Read after the await: writes counted meanwhile must not be lost.
    const removed = await this.sender.acknowledge(eventIds);
    this.pending = Math.max(0, this.pending - removed);
    this.options.status.update({ pending: this.pending });
    if (removed > 0) this.stall.acknowledged(this.pending);
    if (!this.catchingUp) this.drain();
  }

  /** The server refused a frame of ours for what it holds: set aside. False when no frame of this
   *  session has those events. */
  async refused(eventIds: readonly string[], code: ServerErrorCode, message: string): Promise<boolean> {
    const refused = this.sender.refused(eventIds);
    if (!refused) return false;
    await this.setAside(refused, code, `the server refused ${eventIds.length === 1 ? 'a write' : `${eventIds.length} writes`} (${message})`);
    if (!this.catchingUp) this.drain();
    return true;
  }

  drain(): void {
    this.sender.drain().catch((error: unknown) => {
      const failure = storageFailure(error);
      this.options.log.warn(`could not send the outbox: ${failure.message}`);
      this.options.status.error(failure.code, failure.message);
    });
  }

  private checkStall(): void {
    if (this.stall.check(this.pending, !this.authenticated || this.catchingUp)) this.emit('stalled', undefined);
  }

  /** A write this server will never take (larger than its frame cap, which is lower than the
   *  one it was written under). */
  private async dropUnsendable(entry: OutboxEntry, maxBatchBytes: number): Promise<void> {
    const { repository, event } = entry;
    await this.setAside([entry], 'too_large', `${repository} record ${event.dataId} (event ${event.eventId}) is larger than this server takes (${maxBatchBytes} bytes of events per frame)`);
  }

  /**
   * Writes the server will refuse again as they are: out of the outbox, so that they hold up
   * neither the writes after them nor the stall watchdog, and said loudly. The local records
   * keep them.
   */
  private async setAside(entries: readonly OutboxEntry[], code: ServerErrorCode, why: string): Promise<void> {
    const message = `${why}: ${entries.length === 1 ? 'it' : `these ${entries.length} writes`} will not sync; the local copy stays`;
    this.options.log.error(message);
    this.options.status.error(code, message);
    const at = new Date(this.options.clock.now()).toISOString();
    for (const { repository, event } of entries) this.setAsideWrites.push({ repository, id: event.dataId, eventId: event.eventId, code, reason: why, at });
    this.setAsideWrites.splice(0, this.setAsideWrites.length - SET_ASIDE_KEPT);
    try {
      await this.options.storage.removeOutbox(entries.map((entry) => entry.key));
      this.pending = Math.max(0, this.pending - entries.length);
      this.options.status.update({ pending: this.pending });
    } catch (error) {
      // Still in the outbox: the next session finds them again, and tries again.
      this.options.log.warn(`could not take the refused writes out of the outbox: ${describe(error)}`);
    }
  }
}
