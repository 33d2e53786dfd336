/**
 * Opening the runtime's storage: IndexedDB when it opens within `timeout`, else memory. A private
 * window or an embedded webview may have an IndexedDB whose open() throws, or never answers: the
 * runtime must sync all the same (and say that nothing survives it).
 */
import type { StorageMode } from '../../protocol/tab-api';
import { systemClock, type Timer } from '../clock';
import { describe } from '../errors';
import { openIdbStorage, type IdbOptions } from './idb-store';
import { MemoryStorage } from './memory-store';
import type { SyncStorage } from './storage';

export interface OpenedStorage {
  storage: SyncStorage;
  mode: StorageMode;
  /** Why it is memory, when it is. */
  reason?: string;
}

/**
 * `retries`: how often an open that throws is tried again, `retryDelay` ms apart, before memory.
 * Right after the browser cleared the site's data (the database was taken away), Chrome refuses
 * an open for a moment ("The connection was closed"), then accepts one.
 */
export async function openStorage(
  databaseName: string,
  timeout: number,
  options: IdbOptions,
  { retries = 0, retryDelay = 200 } = {},
): Promise<OpenedStorage> {
  const clock = options.clock ?? systemClock;
  for (let attempt = 0; ; attempt++) {
    const opened = await openOnce(databaseName, timeout, options);
    if (opened.mode === 'indexeddb' || !opened.threw || attempt >= retries) return opened;
    await new Promise<void>((resolve) => clock.setTimeout(resolve, retryDelay));
  }
}

async function openOnce(databaseName: string, timeout: number, options: IdbOptions): Promise<OpenedStorage & { threw?: boolean }> {
  const clock = options.clock ?? systemClock;
  let timer: Timer | undefined;
  const late = new Promise<'late'>((resolve) => (timer = clock.setTimeout(() => resolve('late'), timeout)));
  const opening = openIdbStorage(databaseName, {
    ...options,
    // Blocked is an answer: an older version's worker is letting go of the database, and will.
    onBlocked: () => {
      clock.clear(timer);
      options.onBlocked?.();
    },
  });
  try {
    const storage = await Promise.race([opening, late]);
    if (storage !== 'late') return { storage, mode: 'indexeddb' };
  } catch (error) {
    return { ...inMemory(`IndexedDB could not be opened: ${describe(error)}`), threw: true };
  } finally {
    clock.clear(timer);
  }
  // An open that answers after all must not hold a connection nobody uses (it would block the
  // next version's upgrade, or a deletion).
  opening.then((storage) => storage.close(), () => {});
  return inMemory(`IndexedDB did not open within ${timeout} ms`);
}

function inMemory(reason: string): OpenedStorage {
  return { storage: new MemoryStorage(), mode: 'memory', reason };
}
