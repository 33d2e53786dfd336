/**
 * What a commit needs to know of the database, kept in memory by its only writer (the holder of
 * the writer lock, coordination/writer-lock.ts) so that a write is a blind put: each record's
 * version (createdAt, eventId, deleted: its place in the merge order, never its data) and the
 * cursors. Loaded once (every record's key, every cursor); the version of a record that existed
 * before is read the first time a commit touches it, then kept. Valid only while no other
 * runtime writes the database: whoever holds it drops it when that stops being true.
 */
import type { RecordRow } from './storage';

/** A record's place in the merge order, without its data. */
export type RecordStamp = Pick<RecordRow, 'createdAt' | 'eventId' | 'deleted'>;

/** A record stored before the versions were loaded, whose version no commit has read yet. */
const UNREAD = 0;

/** Per-entry overhead beside the key's characters: the Map slot, the key string's header, the
 *  version object with its two strings (an ISO timestamp, a 21-character nanoid). */
const BYTES_PER_ENTRY = 200;

export class KnownVersions {
  private readonly versions = new Map<string, RecordStamp | typeof UNREAD>();
  private readonly cursors = new Map<string, number>();
  private keyChars = 0;

  /** From the database as it stood: every record's key (`recordKey`), every cursor. */
  constructor(keys: Iterable<string>, cursors: Iterable<readonly [string, number]>) {
    for (const key of keys) this.set(key, UNREAD);
    for (const [repository, sequence] of cursors) this.cursors.set(repository, sequence);
  }

  /** `absent`: the record was never stored; `unread`: stored, its version not known yet. */
  version(key: string): RecordStamp | 'absent' | 'unread' {
    const known = this.versions.get(key);
    if (known === undefined) return 'absent';
    return known === UNREAD ? 'unread' : known;
  }

  cursor(repository: string): number {
    return this.cursors.get(repository) ?? 0;
  }

  /** A committed transaction stored these rows and moved these cursors. */
  committed(rows: Iterable<RecordRow>, cursors: Iterable<readonly [string, number]>): void {
    for (const { repository, id, createdAt, eventId, deleted } of rows) this.set(`${repository}/${id}`, { createdAt, eventId, deleted });
    for (const [repository, sequence] of cursors) this.cursors.set(repository, Math.max(sequence, this.cursor(repository)));
  }

  /** A commit read this record's row (undefined: none) before deciding. */
  read(key: string, row: RecordRow | undefined): void {
    if (row) this.set(key, { createdAt: row.createdAt, eventId: row.eventId, deleted: row.deleted });
  }

  /** What it holds, for diagnostics: an estimate, not a measurement of the heap. */
  describe(): { entries: number; estimatedBytes: number } {
    return { entries: this.versions.size, estimatedBytes: this.versions.size * BYTES_PER_ENTRY + this.keyChars * 2 };
  }

  private set(key: string, version: RecordStamp | typeof UNREAD): void {
    if (!this.versions.has(key)) this.keyChars += key.length;
    this.versions.set(key, version);
  }
}
