/** What a fuzz run counts and what it found wrong. */

/** Counts by key, printed largest first. */
export class Tally {
  private readonly counts = new Map<string, number>();

  add(key: string, amount = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + amount);
  }

  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort((a, b) => b[1] - a[1]));
  }
}

export interface Stats {
  framesSent: number;
  framesByKind: Tally;
  /** Server `error` messages by code. */
  errorsByCode: Tally;
  /** Closes by code, as the client saw them. */
  closesByCode: Tally;
  repliesByType: Tally;
  eventsAcked: number;
  broadcastsReceived: number;
  reconnects: number;
}

export function emptyStats(): Stats {
  return {
    framesSent: 0,
    framesByKind: new Tally(),
    errorsByCode: new Tally(),
    closesByCode: new Tally(),
    repliesByType: new Tally(),
    eventsAcked: 0,
    broadcastsReceived: 0,
    reconnects: 0,
  };
}

/** Every violation counts; the first few are kept in full. */
export class Violations {
  private readonly kept: string[] = [];
  count = 0;

  constructor(private readonly keep = 50) {}

  add(description: string): void {
    this.count++;
    if (this.kept.length < this.keep) this.kept.push(description);
  }

  list(): readonly string[] {
    return this.kept;
  }
}

/** A frame or message, short enough for a report line. */
export function preview(data: string | Buffer, length = 160): string {
  const text = typeof data === 'string' ? data : data.toString('utf8');
  const shown = JSON.stringify(text.length > length ? `${text.slice(0, length)}…` : text);
  return `${shown}${text.length > length ? ` (${text.length} chars)` : ''}`;
}
