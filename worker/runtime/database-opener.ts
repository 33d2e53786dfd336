/**
 * Opening the runtime's database (IndexedDB, or memory where that fails), numbered: a database
 * may ask to be let go (a newer version) or be taken away while the runtime is still being built,
 * or after it was replaced already; only news of the newest one counts, once.
 */
import type { Emitter } from '../events';
import type { IndexSpec } from '../local/query/indexes';
import { openStorage, type OpenedStorage } from '../storage/open-storage';
import type { LossReason, RuntimeEvents } from './runtime-events';

export interface OpenerConfig {
  timeout: number;
  version: number;
  factory: IDBFactory | undefined;
  /** The declared query indexes every database opened gets. */
  indexes: readonly IndexSpec[];
}

export class DatabaseOpener {
  private opens = 0;
  private announced = 0;

  constructor(
    private readonly config: OpenerConfig,
    /** The database opened last, or to be opened first. */
    public database: string,
    private readonly events: Emitter<RuntimeEvents>,
  ) {}

  open(name = this.database, retries?: number): Promise<OpenedStorage> {
    const generation = ++this.opens;
    this.database = name;
    const { timeout, version, factory, indexes } = this.config;
    const hooks = { version, factory, indexes, onVersionChange: () => this.events.emit('versionChange'), onLost: (reason: LossReason) => this.lost(reason, generation) };
    return openStorage(name, timeout, hooks, { retries });
  }

  /** One loss may be announced twice (the connection's `close` event, and a call that found it
   *  closed first), and a database already replaced may still report: only the first report
   *  about the newest database counts. */
  lost(reason: LossReason, generation = this.opens): void {
    if (generation !== this.opens || this.announced === generation) return;
    this.announced = generation;
    this.events.emit('storageLost', reason);
  }
}
