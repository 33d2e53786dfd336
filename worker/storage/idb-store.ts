/** SyncStorage on IndexedDB (through idb): one database per app, four object stores. */
import { unwrap, wrap, type IDBPDatabase } from 'idb';
import type { SyncEvent } from '../../protocol/messages';
import { systemClock, type Clock, type Timer } from '../clock';
import type { NormalizedQuery } from '../../protocol/query';
import { countIndexedDb, evaluateIndexedDb, watchStartIndexedDb } from '../local/query/evaluate';
import { indexedFields, upgradeIndexes, withIndexKeys, type IndexSpec } from '../local/query/indexes';
import { planQuery } from '../local/query/plan';
import { nextStep, type OpenStep } from './idb-versions';
import type { WatchStart } from '../local/query/row';
import { currentCursors, currentRows } from './current-rows';
import type { SyncDatabase } from './idb-schema';
import { KnownVersions } from './known-versions';
import { committed, recordKey, type QueryAnswer, type Committed, type Decision, type OutboxEntry, type RecordChange, type RecordRow, type SyncStorage } from './storage';

const VERSION = 1;
/** How long acknowledged outbox entries may wait for the next write's transaction to delete
 *  them, before they get one of their own: a write then waits for no separate delete. */
const REMOVAL_DELAY_MS = 4;
export interface IdbOptions {
  /** The schema version (default 1): opening with a higher one upgrades the database (idb-versions.ts
   *  numbers the IndexedDB version from it and the index revision). */
  version?: number;
  /** Another connection opens a newer version: close at once. */
  onVersionChange?: () => void;
  /** The database was taken away under this connection: deleted by another one (`deleted`), or
   *  closed by the browser (`closed`: site data cleared, the disk gone). The connection is
   *  unusable from then on. */
  onLost?: (reason: 'deleted' | 'closed') => void;
  /** The open waits for other connections to close (an older version's worker letting go). */
  onBlocked?: () => void;
  /** Where to open it; the global `indexedDB` by default (a seam for tests). */
  factory?: IDBFactory | undefined;
  /** The query indexes the config declares (indexSpecs): the database is upgraded to have them. */
  indexes?: readonly IndexSpec[] | undefined;
  /** The clock of the delayed outbox deletes; `systemClock` by default. */
  clock?: Clock;
}

export async function openIdbStorage(databaseName: string, options: IdbOptions = {}): Promise<SyncStorage> {
  const declared = options.indexes ?? [];
  const raw = await openAtVersion(databaseName, options, declared);
  // A deletion asks this connection to close with no new version; an upgrade names one.
  raw.database.addEventListener('versionchange', (event) => {
    if (event.newVersion === null) options.onLost?.('deleted');
    else options.onVersionChange?.();
  });
  raw.database.addEventListener('close', () => options.onLost?.('closed'));
  const indexes = { declared, kept: raw.specs };
  return Object.assign(new IdbStorage(wrap(raw.database) as IDBPDatabase<SyncDatabase>, options.clock ?? systemClock, indexes), {
    isGone(): boolean {
      // A connection closed (by us or under us) refuses new transactions at once.
      try {
        raw.database.transaction('cursors').abort();
        return false;
      } catch {
        return true;
      }
    },
  });
}

/** Opens the database at its current version, then, as idb-versions.ts decides, once more at a
 *  higher one that upgrades it (an upgrade racing another runtime's is checked again). */
async function openAtVersion(databaseName: string, options: IdbOptions, declared: readonly IndexSpec[]): Promise<{ database: IDBDatabase; specs: IndexSpec[] }> {
  const schemaVersion = options.version ?? VERSION;
  let database = await openRaw(databaseName, options, undefined, []);
  for (let attempt = 0; ; attempt++) {
    let step: OpenStep;
    try {
      step = nextStep(database.version, database.transaction('records').objectStore('records'), schemaVersion, declared);
    } catch (error) {
      database.close();
      throw error;
    }
    if (step.keep) return { database, specs: step.specs };
    database.close();
    if (attempt >= 3) throw new Error(`${databaseName}: its indexes kept changing under this worker`);
    database = await openRaw(databaseName, options, step.version, step.specs);
  }
}

function openRaw(databaseName: string, options: IdbOptions, version: number | undefined, specs: readonly IndexSpec[]): Promise<IDBDatabase> {
  return new Promise<IDBDatabase>((resolve, reject) => {
    const request = (options.factory ?? indexedDB).open(databaseName, version);
    request.onupgradeneeded = () => {
      // Every version so far has these three stores; an upgrade from an earlier one keeps them.
      const database = request.result;
      const stores = database.objectStoreNames;
      if (!stores.contains('records')) database.createObjectStore('records', { keyPath: ['repository', 'id'] });
      if (!stores.contains('outbox')) database.createObjectStore('outbox', { autoIncrement: true });
      if (!stores.contains('cursors')) database.createObjectStore('cursors');
      // A first open (no version asked) only creates the stores; a versioned one sets the indexes.
      if (version !== undefined) upgradeIndexes(request.transaction!.objectStore('records'), specs).catch(() => request.transaction?.abort());
    };
    request.onblocked = () => options.onBlocked?.();
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error(`could not open ${databaseName}`));
  });
}

/** Every key of a repository: arrays sort after strings, so [name, []] bounds all [name, id]. */
function repositoryRange(repository: string): IDBKeyRange {
  return IDBKeyRange.bound([repository], [repository, []]);
}

class IdbStorage implements SyncStorage {
  /** Acknowledged entries waiting to be deleted; each call resolves once its keys are gone. */
  private removals: Removal[] = [];
  /** Their keys, hidden from reads meanwhile (until the delete commits). */
  private readonly removing = new Set<number>();
  private removalTimer: Timer | undefined;
  /** Per repository, the fields its rows carry index keys for: those of every index the store has. */
  private readonly keyFields = new Map<string, string[]>();

  constructor(
    private readonly db: IDBPDatabase<SyncDatabase>,
    private readonly clock: Clock,
    /** `declared`: what queries are planned on; `kept`: every query index the store has. */
    private readonly indexes: { declared: readonly IndexSpec[]; kept: readonly IndexSpec[] } = { declared: [], kept: [] },
  ) {}

  /** The query's window, along the best declared index or by a scan, in one readonly transaction. */
  async query(repository: string, query: NormalizedQuery): Promise<QueryAnswer> {
    const plan = planQuery(repository, this.indexes.declared, query);
    const tx = this.db.transaction('records', 'readonly');
    const [rows] = await Promise.all([evaluateIndexedDb(unwrap(tx.store), repository, query, plan), tx.done]);
    return { rows, plan: plan.description };
  }

  async count(repository: string, query: NormalizedQuery): Promise<number> {
    const plan = planQuery(repository, this.indexes.declared, query);
    const tx = this.db.transaction('records', 'readonly');
    const [count] = await Promise.all([countIndexedDb(unwrap(tx.store), repository, query, plan), tx.done]);
    return count;
  }

  async watchStart(repository: string, query: NormalizedQuery, bound: number): Promise<{ start: WatchStart; plan: string }> {
    const plan = planQuery(repository, this.indexes.declared, query);
    const tx = this.db.transaction('records', 'readonly');
    const [start] = await Promise.all([watchStartIndexedDb(unwrap(tx.store), repository, query, plan, bound), tx.done]);
    return { start, plan: plan.description };
  }

  /** The row as stored: a live one with the keys of its repository's indexes. */
  private stored(row: RecordRow): RecordRow {
    let fields = this.keyFields.get(row.repository);
    if (!fields) this.keyFields.set(row.repository, (fields = indexedFields(this.indexes.kept, row.repository)));
    return fields.length === 0 ? row : withIndexKeys(row, fields);
  }

  /** While this runtime is the database's only writer: what commits need not read. */
  private known: KnownVersions | undefined;
  /** From the moment the versions are asked for, commits run one after another (the load first),
   *  each deciding on what the ones before it committed; readwrite transactions on these stores
   *  run one at a time anyway. */
  private takesTurns = false;
  private turn: Promise<unknown> = Promise.resolve();

  commit(changes: readonly RecordChange[], cursors: ReadonlyMap<string, number> = new Map()): Promise<Committed> {
    if (!this.takesTurns) return this.transact(changes, cursors, undefined);
    return this.inTurn(() => this.transact(changes, cursors, this.known));
  }

  async knowVersions(): Promise<void> {
    this.takesTurns = true;
    // Commits already under way were begun before the load's transaction: it sees what they wrote.
    await this.inTurn(async () => {
      if (!this.takesTurns) return;
      const tx = this.db.transaction(['records', 'cursors'], 'readonly');
      const [keys, cursorNames, sequences] = await Promise.all([tx.objectStore('records').getAllKeys(), tx.objectStore('cursors').getAllKeys(), tx.objectStore('cursors').getAll(), tx.done]);
      const cursors = cursorNames.map((name, i) => [name, sequences[i] ?? 0] as const);
      this.known = new KnownVersions(keys.map(([repository, id]) => recordKey(repository, id)), cursors);
    });
  }

  forgetVersions(): void {
    this.takesTurns = false;
    this.known = undefined;
  }

  knownVersions(): { entries: number; estimatedBytes: number } | undefined {
    return this.known?.describe();
  }

  private inTurn<T>(run: () => Promise<T>): Promise<T> {
    const result = this.turn.then(run);
    this.turn = result.catch(() => {});
    return result;
  }

  /** One commit's transaction: `known` (when given) answers for the rows and cursors it knows. */
  private async transact(changes: readonly RecordChange[], cursors: ReadonlyMap<string, number>, known: KnownVersions | undefined): Promise<Committed> {
    const tx = this.db.transaction(['records', 'outbox', 'cursors'], 'readwrite');
    const records = tx.objectStore('records');
    const cursorStore = tx.objectStore('cursors');
    const requests: Promise<unknown>[] = [];
    const removals = this.takeRemovals();
    try {
      // Read every touched record and cursor not known at once, then decide in order without awaiting.
      const [rows, storedCursors] = await Promise.all([currentRows(records, changes, known), currentCursors(cursorStore, cursors, known)]);
      const written = new Map<string, RecordRow>();
      const queued: { repository: string; event: SyncEvent; group?: string; key: Promise<number> }[] = [];
      for (const change of changes) {
        const key = recordKey(change.repository, change.id);
        const decision: Decision | undefined = change.decide(rows.get(key));
        if (!decision) continue;
        rows.set(key, decision.row);
        written.set(key, decision.row);
        if (decision.push) {
          const entry = { repository: change.repository, event: decision.push, ...(decision.group !== undefined && { group: decision.group }) };
          const added = tx.objectStore('outbox').add(entry);
          requests.push(added);
          queued.push({ ...entry, key: added });
        }
      }
      // Plain requests, not idb's promise per request: a failed one aborts the transaction, and
      // tx.done then rejects with its error. (A page of catch-up is hundreds of puts.)
      const plainRecords = unwrap(records);
      for (const row of written.values()) plainRecords.put(this.stored(row));
      const moved = storedCursors.filter(([, sequence, stored]) => sequence > stored);
      for (const [repository, sequence] of moved) requests.push(cursorStore.put(sequence, repository));
      for (const { keys } of removals) for (const key of keys) requests.push(tx.objectStore('outbox').delete(key));
      await Promise.all([...requests, tx.done]);
      this.removed(removals);
      known?.committed(written.values(), moved.map(([repository, sequence]) => [repository, sequence] as const));
      // The keys are known once the transaction is done: the entries go back with the rows.
      return committed([...written.values()], await Promise.all(queued.map(async ({ key, ...entry }) => ({ key: await key, ...entry }))));
    } catch (error) {
      abortQuietly(tx, requests);
      // The deletes were not this commit's business: they get a transaction of their own.
      this.removals.unshift(...removals);
      if (removals.length > 0) this.scheduleRemovals(0);
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
    // Entries being deleted still sit in the store: read past them, then leave them out.
    const count = limit + this.removing.size;
    const [keys, values] = await Promise.all([tx.store.getAllKeys(range, count), tx.store.getAll(range, count), tx.done]);
    return values
      .map((value, i) => ({ key: keys[i] as number, ...value }))
      .filter((entry) => !this.removing.has(entry.key))
      .slice(0, limit);
  }

  removeOutbox(keys: readonly number[]): Promise<void> {
    if (keys.length === 0) return Promise.resolve();
    for (const key of keys) this.removing.add(key);
    return new Promise((resolve, reject) => {
      this.removals.push({ keys, resolve, reject });
      this.scheduleRemovals(REMOVAL_DELAY_MS);
    });
  }

  async outboxSize(): Promise<number> {
    return Math.max(0, (await this.db.count('outbox')) - this.removing.size);
  }

  async outboxHas(eventIds: ReadonlySet<string>): Promise<Set<string>> {
    const found = new Set<string>();
    for (const { event } of await this.db.getAll('outbox')) if (eventIds.has(event.eventId)) found.add(event.eventId);
    return found;
  }

  async clear(): Promise<void> {
    const clearing = async () => {
      const tx = this.db.transaction(['records', 'outbox', 'cursors'], 'readwrite');
      await Promise.all([tx.objectStore('records').clear(), tx.objectStore('outbox').clear(), tx.objectStore('cursors').clear(), tx.done]);
      // Emptied by this, the only writer: nothing is stored any more.
      if (this.known) this.known = new KnownVersions([], []);
    };
    await (this.takesTurns ? this.inTurn(clearing) : clearing());
  }

  close(): void {
    // Closing waits for running transactions, so the last deletes still commit.
    void this.flushRemovals();
    this.db.close();
  }

  private scheduleRemovals(delay: number): void {
    this.removalTimer ??= this.clock.setTimeout(() => void this.flushRemovals(), delay);
  }

  private takeRemovals(): Removal[] {
    this.clock.clear(this.removalTimer);
    this.removalTimer = undefined;
    const taken = this.removals;
    this.removals = [];
    return taken;
  }

  private removed(removals: readonly Removal[]): void {
    for (const removal of removals) {
      for (const key of removal.keys) this.removing.delete(key);
      removal.resolve();
    }
  }

  private async flushRemovals(): Promise<void> {
    const removals = this.takeRemovals();
    if (removals.length === 0) return;
    try {
      const tx = this.db.transaction('outbox', 'readwrite');
      await Promise.all([...removals.flatMap(({ keys }) => keys.map((key) => tx.store.delete(key))), tx.done]);
      this.removed(removals);
    } catch (error) {
      // Visible again: they are sent once more and the server acks them again.
      for (const removal of removals) {
        for (const key of removal.keys) this.removing.delete(key);
        removal.reject(error);
      }
    }
  }
}

interface Removal {
  keys: readonly number[];
  resolve(): void;
  reject(error: unknown): void;
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
