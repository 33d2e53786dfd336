/**
 * Data per namespace: the worker keeps each namespace the server names (`auth_success.namespace`)
 * in a database of its own, so that credentials of another user never show, push or catch up
 * into the previous user's records, outbox and cursors. Which namespace was last active is kept
 * in a small database beside them, so a worker that starts offline opens the right one.
 *
 * Writes made before any server ever named a namespace for this profile live in the base
 * database (`databaseName`); the first namespace named adopts it, and keeps it from then on.
 */
import { namespaceDatabaseName, namespaceRegistryName } from '../../protocol/tab-api';
import type { Logger } from '../config';
import { describe } from '../errors';

export interface NamespaceState {
  /** The namespace whose data is shown; undefined until a server named one. */
  active?: string;
  /** The namespace that adopted the base database. */
  adopted?: string;
}

export interface NamespaceRegistry {
  load(): Promise<NamespaceState>;
  save(state: NamespaceState): Promise<void>;
}

/** The database holding `namespace`'s data (none: the writes made before any namespace was known). */
export function databaseOf(base: string, state: NamespaceState, namespace: string | undefined): string {
  return namespace === undefined || namespace === state.adopted ? base : namespaceDatabaseName(base, namespace);
}

/** What an `auth_success` naming `namespace` changes: the new state, and whether the data must move. */
export function named(state: NamespaceState, namespace: string): { state: NamespaceState; moves: boolean } {
  if (state.active === namespace) return { state, moves: false };
  // The first namespace ever named takes the base database, with what was written before.
  if (state.active === undefined && state.adopted === undefined) return { state: { active: namespace, adopted: namespace }, moves: false };
  return { state: { ...state, active: namespace }, moves: true };
}

const STORE = 'state';
const KEY = 'namespaces';

/** The registry in IndexedDB, as `namespaceRegistryName(databaseName)`; opened for each read or write
 *  (both are rare: at start, and when the namespace changes). */
export function idbNamespaceRegistry(base: string, factory?: IDBFactory): NamespaceRegistry {
  const inStore = <T>(mode: IDBTransactionMode, use: (store: IDBObjectStore) => IDBRequest<T>) =>
    new Promise<T>((resolve, reject) => {
      // Inside the executor: where there is no IndexedDB at all, this rejects instead of throwing.
      const opening = (factory ?? indexedDB).open(namespaceRegistryName(base), 1);
      opening.onupgradeneeded = () => opening.result.createObjectStore(STORE);
      opening.onerror = () => reject(opening.error);
      opening.onsuccess = () => {
        const db = opening.result;
        const tx = db.transaction(STORE, mode);
        const request = use(tx.objectStore(STORE));
        tx.oncomplete = () => (db.close(), resolve(request.result));
        tx.onabort = () => (db.close(), reject(tx.error ?? request.error));
      };
    });
  return {
    load: async () => ((await inStore('readonly', (store) => store.get(KEY))) as NamespaceState | undefined) ?? {},
    save: async (state) => void (await inStore('readwrite', (store) => store.put(state, KEY))),
  };
}

/**
 * A registry that never fails nor hangs its caller: where IndexedDB throws or never answers
 * (within `timeout` ms), the namespace is known while the worker lives, and a warning says so.
 */
export function resilientRegistry(primary: NamespaceRegistry, timeout: number, log: Logger): NamespaceRegistry {
  let kept: NamespaceState = {};
  const attempt = async <T>(what: string, call: () => Promise<T>, fallback: T): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeout} ms`)), timeout)));
    try {
      return await Promise.race([call(), late]);
    } catch (error) {
      log.warn(`could not ${what} the active namespace: ${describe(error)}`);
      return fallback;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    load: async () => (kept = await attempt('read', () => primary.load(), kept)),
    save: async (state) => {
      kept = { ...state };
      await attempt('save', () => primary.save(state), undefined);
    },
  };
}

/** Deletes a database nobody holds open; resolves once it is gone. */
export function deleteDatabase(factory: IDBFactory, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = factory.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error ?? new Error(`could not delete ${name}`));
  });
}
