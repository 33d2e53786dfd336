/**
 * Moving the runtime's data to the namespace the server named (namespaces.ts): the one storage
 * the parts hold lets go of the previous namespace's database, which keeps its records, outbox
 * and cursors for when its credentials come back, and takes the named one's. Also clearing a
 * namespace's local data (an app logging its user out). One change at a time.
 */
import { databaseOf, named, type NamespaceRegistry, type NamespaceState } from './namespaces';
import type { OpenedStorage } from '../storage/open-storage';
import type { ReplaceableStorage } from '../storage/replaceable-storage';

export interface NamespaceParts {
  base: string;
  registry: NamespaceRegistry;
  storage: ReplaceableStorage;
  /** Opens a namespace's database (memory where IndexedDB fails). */
  open(database: string): Promise<OpenedStorage>;
  /** The storage holds other data now (another namespace's, or none): counts and watchers follow. */
  replaced(fresh?: OpenedStorage): Promise<void>;
  deleteDatabase(database: string): Promise<void>;
  /** This runtime moved to `namespace`: the other runtimes of the profile follow. */
  moved(namespace: string): void;
}

export class NamespaceSwitch {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly parts: NamespaceParts,
    /** As loaded before the storage opened (loadNamespaceState). */
    private state: NamespaceState,
  ) {}

  /** Whose data is shown; null before any server named a namespace. */
  get active(): string | null {
    return this.state.active ?? null;
  }

  get database(): string {
    return databaseOf(this.parts.base, this.state, this.state.active);
  }

  /** The server authenticated this session into `namespace`. Resolves once the data shown is that
   *  namespace's, with true when it moved (the session then starts over: other outbox, cursors). */
  named(namespace: string): Promise<boolean> {
    return this.serially(async () => {
      const next = named(this.state, namespace);
      if (next.state !== this.state) await this.parts.registry.save(next.state);
      const moved = next.moves ? await this.moveTo(next.state) : false;
      this.state = next.state;
      if (moved) this.parts.moved(namespace);
      return moved;
    });
  }

  /** Another runtime of the profile moved to `namespace` (and saved it): follow it. */
  follow(namespace: string): Promise<void> {
    return this.serially(async () => {
      if (namespace === this.state.active) return;
      const state = await this.parts.registry.load();
      if (state.active !== namespace) return; // it moved on again meanwhile
      await this.moveTo(state);
      this.state = state;
    });
  }

  /** Removes `namespace`'s local data (the active one's by default): records, unsent writes,
   *  cursors. Resolves with whether that was the data shown. */
  clear(namespace: string | null = this.active): Promise<boolean> {
    return this.serially(async () => {
      if (namespace === this.active) {
        await this.parts.storage.clear();
        await this.parts.replaced();
        return true;
      }
      if (namespace !== null) await this.parts.deleteDatabase(databaseOf(this.parts.base, this.state, namespace));
      return false;
    });
  }

  private async moveTo(state: NamespaceState): Promise<boolean> {
    const database = databaseOf(this.parts.base, state, state.active);
    if (database === this.database) return false;
    const { storage } = this.parts;
    storage.letGo();
    const fresh = await this.parts.open(database);
    storage.replace(fresh.storage);
    await this.parts.replaced(fresh);
    return true;
  }

  private serially<T>(change: () => Promise<T>): Promise<T> {
    const run = this.queue.then(change);
    this.queue = run.catch(() => {});
    return run;
  }
}
