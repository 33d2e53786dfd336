/**
 * SyncStorage in memory, for where IndexedDB is missing or never answers (a private window, a
 * broken profile): the same semantics as IdbStorage (rows with tombstones, an outbox with
 * increasing keys, cursors that only move forward, one atomic commit), gone with the worker.
 * Values are copied in and out, as IndexedDB's structured clone does, so no caller shares them.
 */
import type { SyncEvent } from '../../protocol/messages';
import type { NormalizedQuery } from '../../protocol/query';
import { countRows, evaluateRows, unwindowed } from '../local/query/evaluate';
import { queryRowOf, type QueryRow, type WatchStart } from '../local/query/row';
import { committed, recordKey, type QueryAnswer, type Committed, type OutboxEntry, type RecordChange, type RecordRow, type SyncStorage } from './storage';

export class MemoryStorage implements SyncStorage {
  private readonly records = new Map<string, RecordRow>();
  /** In key order: keys only grow, and a Map iterates in insertion order. */
  private readonly outbox = new Map<number, { repository: string; event: SyncEvent; group?: string }>();
  private readonly cursors = new Map<string, number>();
  private lastKey = 0;
  private closed = false;

  async commit(changes: readonly RecordChange[], cursors: ReadonlyMap<string, number> = new Map()): Promise<Committed> {
    this.assertOpen();
    // Decide everything first: a decide that throws leaves nothing written.
    const written = new Map<string, RecordRow>();
    const queued: { repository: string; event: SyncEvent; group?: string }[] = [];
    for (const change of changes) {
      const key = recordKey(change.repository, change.id);
      const decision = change.decide(written.has(key) ? written.get(key) : this.records.get(key));
      if (!decision) continue;
      const row = structuredClone(decision.row);
      written.set(key, row);
      if (decision.push) queued.push({ repository: change.repository, event: structuredClone(decision.push), ...(decision.group !== undefined && { group: decision.group }) });
    }
    for (const [key, row] of written) this.records.set(key, row);
    const entries: OutboxEntry[] = [];
    for (const entry of queued) {
      this.outbox.set(++this.lastKey, entry);
      entries.push({ key: this.lastKey, ...structuredClone(entry) });
    }
    for (const [repository, sequence] of cursors) {
      if (sequence > (this.cursors.get(repository) ?? 0)) this.cursors.set(repository, sequence);
    }
    return committed([...written.values()].map((row) => structuredClone(row)), entries);
  }

  async getRecord(repository: string, id: string): Promise<RecordRow | undefined> {
    this.assertOpen();
    const row = this.records.get(recordKey(repository, id));
    return row && structuredClone(row);
  }

  async getRecords(repository: string): Promise<RecordRow[]> {
    this.assertOpen();
    const rows: RecordRow[] = [];
    for (const row of this.records.values()) if (row.repository === repository) rows.push(structuredClone(row));
    // IndexedDB's key order for string ids: by UTF-16 code units, as `<` compares.
    return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Memory has no indexes: every query is a scan of the repository's rows. */
  async query(repository: string, query: NormalizedQuery): Promise<QueryAnswer> {
    this.assertOpen();
    return { rows: evaluateRows(query, this.liveRows(repository)).map((row) => structuredClone(row)), plan: 'scan' };
  }

  /** The repository's records that are not deleted, as queries see them. */
  private *liveRows(repository: string): Iterable<QueryRow> {
    for (const stored of this.records.values()) {
      const row = stored.repository === repository ? queryRowOf(stored) : undefined;
      if (row) yield row;
    }
  }

  async watchStart(repository: string, query: NormalizedQuery): Promise<{ start: WatchStart; plan: string }> {
    const { rows: prefix, plan } = await this.query(repository, unwindowed(query));
    return { start: { prefix, matching: prefix.map((row) => row.id) }, plan };
  }

  async count(repository: string, query: NormalizedQuery): Promise<number> {
    this.assertOpen();
    return countRows(query, this.liveRows(repository));
  }

  async getCursor(repository: string): Promise<number> {
    this.assertOpen();
    return this.cursors.get(repository) ?? 0;
  }

  async readOutbox(afterKey: number, limit: number): Promise<OutboxEntry[]> {
    this.assertOpen();
    const entries: OutboxEntry[] = [];
    for (const [key, entry] of this.outbox) {
      if (entries.length >= limit) break;
      if (key > afterKey) entries.push({ key, ...structuredClone(entry) });
    }
    return entries;
  }

  async removeOutbox(keys: readonly number[]): Promise<void> {
    this.assertOpen();
    for (const key of keys) this.outbox.delete(key);
  }

  async outboxSize(): Promise<number> {
    this.assertOpen();
    return this.outbox.size;
  }

  async outboxHas(eventIds: ReadonlySet<string>): Promise<Set<string>> {
    this.assertOpen();
    const found = new Set<string>();
    for (const { event } of this.outbox.values()) if (eventIds.has(event.eventId)) found.add(event.eventId);
    return found;
  }

  async clear(): Promise<void> {
    this.assertOpen();
    this.records.clear();
    this.outbox.clear();
    this.cursors.clear();
  }

  close(): void {
    this.closed = true;
  }

  private assertOpen(): void {
    // As IndexedDB does on a closed connection.
    if (this.closed) throw new DOMException('the storage is closed', 'InvalidStateError');
  }
}
