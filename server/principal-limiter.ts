/**
 * What one principal may use over all its connections together: how many it holds at once
 * (MAX_CONNECTIONS_PER_PRINCIPAL) and how many bytes per second they send (RATE_LIMIT_PRINCIPAL_BYTES).
 * One object owns both, so a slot is taken and given back as one.
 */
import { SharedBuckets, type TokenBucket } from './rate-limit';

/** One authenticated connection's hold on its principal's limits. */
export interface PrincipalSlot {
  readonly principal: string;
  /** The principal's byte budget, shared by every connection holding a slot of it. */
  readonly bytes: TokenBucket;
  /** Gives the slot back; a second call does nothing. */
  release(): void;
}

export class PrincipalLimiter {
  private readonly connections = new Map<string, number>();
  /** Outlives a principal's last connection until refilled: reconnecting hands out no fresh burst. */
  private readonly budgets: SharedBuckets;

  constructor(
    readonly maxConnections: number,
    byteRate: { perSecond: number; burst: number },
  ) {
    this.budgets = new SharedBuckets(byteRate.perSecond, byteRate.burst);
  }

  /** A slot for one more connection of `principal`, or undefined when it holds `maxConnections` already. */
  admit(principal: string): PrincipalSlot | undefined {
    const held = this.connectionsOf(principal);
    if (held >= this.maxConnections) return undefined;
    this.connections.set(principal, held + 1);
    const bytes = this.budgets.acquire(principal);
    let released = false;
    return {
      principal,
      bytes,
      release: () => {
        if (released) return;
        released = true;
        this.budgets.release(principal);
        const left = this.connectionsOf(principal) - 1;
        if (left > 0) this.connections.set(principal, left);
        else this.connections.delete(principal);
      },
    };
  }

  /** The connections `principal` holds now. */
  connectionsOf(principal: string): number {
    return this.connections.get(principal) ?? 0;
  }

  /** Principals kept in memory: those connected, and those whose byte budget has not refilled yet. */
  get size(): number {
    return this.budgets.size;
  }
}
