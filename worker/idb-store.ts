/** SyncStorage on IndexedDB (through idb): one database per app, four object stores. */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { SyncEvent } from '../protocol/messages';
import type { Decision, OutboxEntry, RecordChange, RecordRow, SyncStorage } from './storage';

interface SyncDatabase extends DBSchema {
  records: { key: [string, string]; value: RecordRow };
  outbox: { key: number; value: { repository: string; event: SyncEvent } };
  cursors: { key: string; value: number };
}

const VERSION = 1;

export async function openIdbStorage(databaseName: string): Promise<SyncStorage> {
  const db = await openDB<SyncDatabase>(databaseName, VERSION, {
    upgrade(database) {
      database.createObjectStore('records', { keyPath: ['repository', 'id'] });
      database.createObjectStore('outbox', { autoIncrement: true });
      database.createObjectStore('cursors');
    },
  });
  return new IdbStorage(db);
}

/** Every key of a repository: arrays sort after strings, so [name, []] bounds all [name, id]. */
function repositoryRange(repository: string): IDBKeyRange {
  return IDBKeyRange.bound([repository], [repository, []]);
}

class IdbStorage implements SyncStorage {
  constructor(private readonly db: IDBPDatabase<SyncDatabase>) {}

  async commit(changes: readonly RecordChange[], cursors: ReadonlyMap<string, number> = new Map()): Promise<RecordRow[]> {
    const tx = this.db.transaction(['records', 'outbox', 'cursors'], 'readwrite');
    const records = tx.objectStore('records');
    const requests: Promise<unknown>[] = [];
    try {
      // Read every touched record at once, then decide in order without awaiting.
      const rows = new Map<string, RecordRow | undefined>();
      const keyOf = (repository: string, id: string) => `${repository}/${id}`; // names have no '/'
      const touched = new Map(changes.map(({ repository, id }) => [keyOf(repository, id), [repository, id] as [string, string]]));
      await Promise.all([...touched].map(async ([key, recordKey]) => rows.set(key, await records.get(recordKey))));
      const written = new Map<string, RecordRow>();
      for (const change of changes) {
        const key = keyOf(change.repository, change.id);
        const decision: Decision | undefined = change.decide(rows.get(key));
        if (!decision) continue;
        rows.set(key, decision.row);
        written.set(key, decision.row);
        if (decision.push) requests.push(tx.objectStore('outbox').add({ repository: change.repository, event: decision.push }));
      }
      for (const row of written.values()) requests.push(records.put(row));
      const cursorStore = tx.objectStore('cursors');
      await Promise.all([...cursors].map(async ([repository, sequence]) => {
        const stored = (await cursorStore.get(repository)) ?? 0;
        if (sequence > stored) requests.push(cursorStore.put(sequence, repository));
      }));
      await Promise.all([...requests, tx.done]);
      return [...written.values()];
    } catch (error) {
      abortQuietly(tx, requests);
      throw error;
    }
  }

  getRecord(repository: string, id: string): Promise<RecordRow | undefined> {
    return this.db.get('records', [repository, id]);
  }

  getRecords(repository: string): Promise<RecordRow[]> {
    return this.db.getAll('records', repositoryRange(repository));
  }

  async getCursor(repository: string): Promise<number> {
    return (await this.db.get('cursors', repository)) ?? 0;
  }

  async readOutbox(afterKey: number, limit: number): Promise<OutboxEntry[]> {
    const tx = this.db.transaction('outbox', 'readonly');
    const range = IDBKeyRange.lowerBound(afterKey, true);
    const [keys, values] = await Promise.all([tx.store.getAllKeys(range, limit), tx.store.getAll(range, limit), tx.done]);
    return values.map((value, i) => ({ key: keys[i] as number, ...value }));
  }

  async removeOutbox(keys: readonly number[]): Promise<void> {
    if (keys.length === 0) return;
    const tx = this.db.transaction('outbox', 'readwrite');
    await Promise.all([...keys.map((key) => tx.store.delete(key)), tx.done]);
  }

  outboxSize(): Promise<number> {
    return this.db.count('outbox');
  }

  close(): void {
    this.db.close();
  }
}

/** Rolls back a failed commit; the requests' own rejections are expected and swallowed. */
function abortQuietly(tx: { abort(): void; done: Promise<void> }, requests: Promise<unknown>[]): void {
  for (const request of requests) request.catch(() => {});
  tx.done.catch(() => {});
  try {
    tx.abort();
  } catch {
    // Already finished or aborted by the failure itself.
  }
}
