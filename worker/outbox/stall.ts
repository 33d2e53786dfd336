/**
 * The stall clock: since when the oldest pending write waits for an ack (its write, the session's
 * start or the last ack, whichever came last), and whether the watchdog already reconnected for
 * the current stall. Pending writes that got no ack for `stallAfter` on an authenticated socket
 * mean the server (or a proxy) swallows them: shown in the status, one reconnect per stall.
 */
import type { Clock } from '../clock';
import type { Logger } from '../config';
import type { StatusStore } from '../runtime/status';

export class StallClock {
  private waitingSince: number | undefined;
  /** The watchdog already reconnected for the current stall: it does not again until an ack. */
  private reconnected = false;

  constructor(
    private readonly stallAfter: number,
    private readonly clock: Clock,
    private readonly status: StatusStore,
    private readonly log: Required<Logger>,
  ) {}

  /** How often the watchdog looks. */
  get checkEvery(): number {
    return Math.max(10, Math.min(1000, this.stallAfter / 4));
  }

  /** The outbox was counted: a write that was waiting keeps its time. */
  counted(pending: number): void {
    this.waitingSince = pending > 0 ? (this.waitingSince ?? this.clock.now()) : undefined;
  }

  grew(): void {
    this.waitingSince ??= this.clock.now();
  }

  acknowledged(pending: number): void {
    this.waitingSince = pending > 0 ? this.clock.now() : undefined;
    this.end();
  }

  /** A new session: the clock restarts with it, unless the watchdog itself reconnected. */
  sessionStarted(pending: number): void {
    if (!this.reconnected) this.waitingSince = pending > 0 ? this.clock.now() : undefined;
  }

  /** Returns true when the watchdog should reconnect now. `blocked`: writes wait for the
   *  catch-up (or the credentials), and that time is not the server's stall. */
  check(pending: number, blocked: boolean): boolean {
    if (blocked) {
      if (!this.reconnected && pending > 0) this.waitingSince = this.clock.now();
      return false;
    }
    const waited = pending > 0 && this.waitingSince !== undefined ? this.clock.now() - this.waitingSince : 0;
    if (waited < this.stallAfter) {
      if (pending === 0) this.end();
      return false;
    }
    this.status.update({ stalled: true, stalledForMs: waited });
    if (this.reconnected) return false;
    this.reconnected = true;
    this.log.warn(`no ack for ${waited} ms: reconnecting`);
    this.status.error('stalled', `${pending} writes got no ack within ${this.stallAfter} ms`);
    return true;
  }

  end(): void {
    this.reconnected = false;
    this.status.update({ stalled: undefined, stalledForMs: undefined });
  }
}
