/**
 * A follower's `pending`, following the leader's. The leader counts the shared outbox and says
 * in its status which of each runtime's writes its count holds (`counted`); a follower shows that
 * count plus its own writes the leader has not counted yet. A follower does not count the
 * database itself: its read may see an older state than the leader's status it follows (Firefox
 * answers a read begun after the leader's removal committed, and after the leader's status said
 * so, with the entry still there), and then no later status would come to correct it.
 */
export class FollowedPending {
  private lastSeq = 0;
  /** This runtime's writes, by their number and commit time, that no leader's count is known to
   *  hold yet. */
  private uncounted: { seq: number; at: number; written: number }[] = [];
  /** Per runtime, the last of its writes this runtime's own count holds (what it says as leader). */
  private readonly countedHere = new Map<string, number>();

  constructor(private readonly self: string) {}

  /** This runtime committed `written` writes to the outbox at `at`: their number, for `changed.seq`. */
  wrote(written: number, at: number): number {
    this.uncounted.push({ seq: ++this.lastSeq, at, written });
    return this.lastSeq;
  }

  /** A count of the outbox that began after `from`'s write `seq` was announced has ended. */
  countedWrite(from: string, seq: number): void {
    this.countedHere.set(from, Math.max(seq, this.countedHere.get(from) ?? 0));
  }

  /** What this runtime's status says of the writes its count holds, as leader. */
  counted(): Record<string, number> {
    return Object.fromEntries(this.countedHere);
  }

  /** The pending count to show beside a leader's status that counted `pending` and `counted`;
   *  `since`: when it began to lead, its count then holding every write committed before (a
   *  leader new since a write may never have heard of it). */
  follow(pending: number, counted: Readonly<Record<string, number>>, since: number | undefined): number {
    const through = counted[this.self] ?? 0;
    this.uncounted = this.uncounted.filter((write) => write.seq > through && (since === undefined || write.at >= since));
    return this.uncounted.reduce((sum, write) => sum + write.written, pending);
  }
}
