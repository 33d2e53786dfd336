/**
 * The outbox entries this runtime committed lately, kept in memory so that sending them does not
 * read back what was just written. It answers only when it provably holds the very next entries:
 * its first key directly follows the one asked after and its keys run without a gap (another
 * writer of the same database, or a key the generator skipped, sends the reader to IndexedDB).
 */
import type { OutboxEntry } from '../storage/storage';

/** Beyond this many (a long time offline), entries are read back from IndexedDB instead. */
const MAX_ENTRIES = 5000;

export class OutboxTail {
  private entries: OutboxEntry[] = [];

  /** Entries just committed, in key order. */
  append(entries: readonly OutboxEntry[]): void {
    const first = entries[0];
    if (!first) return;
    const last = this.entries.at(-1);
    // Not contiguous with what is held: what is held can no longer be followed by these.
    if (last && first.key !== last.key + 1) this.entries = [];
    this.entries.push(...entries);
    if (this.entries.length > MAX_ENTRIES) this.entries = [];
  }

  /** The entries directly after `afterKey`, at most `limit`; undefined when not known here. */
  after(afterKey: number, limit: number): OutboxEntry[] | undefined {
    const start = this.entries.findIndex((entry) => entry.key > afterKey);
    // Entries at or before afterKey were sent in this session: they are not needed again in it.
    this.entries = start < 0 ? [] : this.entries.slice(start);
    const first = this.entries[0];
    if (!first || first.key !== afterKey + 1) return undefined;
    let count = 1;
    while (count < limit && count < this.entries.length && this.entries[count]!.key === first.key + count) count++;
    return this.entries.slice(0, count);
  }

  /** Acknowledged entries are gone from the outbox. */
  remove(keys: readonly number[]): void {
    const removed = new Set(keys);
    this.entries = this.entries.filter((entry) => !removed.has(entry.key));
  }

  /** The outbox was emptied. */
  clear(): void {
    this.entries = [];
  }
}
