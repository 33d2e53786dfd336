/** The IndexedDB database's stores, as idb types them: records by [repository, id], the outbox, cursors. */
import type { DBSchema, IDBPObjectStore } from 'idb';
import type { SyncEvent } from '../../protocol/messages';
import type { RecordRow } from './storage';

export interface SyncDatabase extends DBSchema {
  records: { key: [string, string]; value: RecordRow };
  outbox: { key: number; value: { repository: string; event: SyncEvent; group?: string } };
  cursors: { key: string; value: number };
}

export type RecordStore = IDBPObjectStore<SyncDatabase, ('records' | 'outbox' | 'cursors')[], 'records', 'readwrite'>;
export type CursorStore = IDBPObjectStore<SyncDatabase, ('records' | 'outbox' | 'cursors')[], 'cursors', 'readwrite'>;
