/** A token bucket: `burst` tokens at once (messages, or bytes), refilled at `perSecond`. */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
    this.refilledAt = performance.now();
  }

  /** Takes `amount` tokens (one message, or a frame's bytes); false, taking none, when there are fewer. */
  take(amount = 1): boolean {
    if (!this.has(amount)) return false;
    this.tokens -= amount;
    return true;
  }

  /** Whether `amount` tokens are there now. */
  has(amount: number): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.perSecond);
    this.refilledAt = now;
    return this.tokens >= amount;
  }

  /** Refilled to its burst: forgetting it now forgives nothing. */
  get full(): boolean {
    return this.has(this.burst);
  }
}

/** Takes `amount` from every bucket, or from none when one of them has fewer. */
export function takeFromAll(buckets: readonly (TokenBucket | undefined)[], amount: number): boolean {
  if (!buckets.every((bucket) => bucket === undefined || bucket.has(amount))) return false;
  for (const bucket of buckets) bucket?.take(amount);
  return true;
}

/**
 * One bucket per key (a principal), shared by every connection holding it. A bucket outlives its
 * last holder until it has refilled: reconnecting must not hand out a fresh burst.
 */
export class SharedBuckets {
  private readonly buckets = new Map<string, { bucket: TokenBucket; holders: number }>();
  private readonly idle = new Set<string>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  acquire(key: string): TokenBucket {
    this.sweep();
    const entry = this.buckets.get(key) ?? { bucket: new TokenBucket(this.perSecond, this.burst), holders: 0 };
    entry.holders++;
    this.buckets.set(key, entry);
    this.idle.delete(key);
    return entry.bucket;
  }

  release(key: string): void {
    const entry = this.buckets.get(key);
    if (entry && --entry.holders <= 0) this.idle.add(key);
    this.sweep();
  }

  /** How many buckets are kept (held, or idle and not yet refilled). */
  get size(): number {
    return this.buckets.size;
  }

  private sweep(): void {
    for (const key of this.idle) {
      if (!this.buckets.get(key)?.bucket.full) continue;
      this.buckets.delete(key);
      this.idle.delete(key);
    }
  }
}
