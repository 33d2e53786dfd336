/**
 * The tabs' queries (docs/queries.md): one-shot reads through the storage (along an index or a
 * scan), and watches, each distinct query evaluated once for every tab watching it (SharedQueries)
 * and kept live by every commit of the profile (`changed`). A watch sends its tab the window and
 * its count, then only deltas; the tab's records are the rows' data.
 */
import { normalizeQuery, type NormalizedQuery, type WindowDelta } from '../../protocol/query';
import type { QueryDiagnostics, QueryUpdate, StoredRecord } from '../../protocol/tab-api';
import { storageFailure, syncError } from '../errors';
import { queryRowOf, type QueryRow } from '../local/query/row';
import { SharedQueries, type SharedQueryInfo } from '../local/query/shared';
import { loadBound, type QueryChange } from '../local/query/window';
import type { RecordRow, SyncStorage } from '../storage/storage';

export type QueryKind = 'window' | 'count';
export type SendUpdate = (update: QueryUpdate) => void;

export class QueryService {
  private readonly shared = new SharedQueries();

  constructor(private readonly storage: Pick<SyncStorage, 'query' | 'count' | 'watchStart'>) {}

  async get(repository: string, input: unknown): Promise<StoredRecord[]> {
    const { rows } = await this.read(repository, parse(input));
    return rows.map(recordOf);
  }

  async count(repository: string, input: unknown): Promise<number> {
    const query = parse(input);
    return fromStorage(() => this.storage.count(repository, query));
  }

  /** Starts a watch: `send` gets the first update before this resolves, then every change.
   *  Resolves with the watch's stop. */
  async watch(repository: string, input: unknown, kind: unknown, send: SendUpdate): Promise<() => void> {
    if (kind !== 'window' && kind !== 'count') throw syncError('invalid_query', "invalid query: a watch's kind is 'window' or 'count'");
    const query = parse(input);
    // Changes applied before the first update is sent are already in it.
    let started = false;
    // A window loads its first rows and the ids of all its matches (O(window) along an index that
    // serves the query); a count, the ids alone.
    const load = async () => {
      const { start, plan } = await this.started(repository, query, kind === 'count' ? 0 : loadBound(query));
      return { rows: start, description: plan };
    };
    if (kind === 'count') {
      const watching = await this.shared.counts.watch(repository, query, { load, listener: (count) => started && send({ count }) });
      started = true;
      send({ count: watching.live.count });
      return watching.stop;
    }
    // A window that removals drained reads its prefix again: offset + limit + margin rows along the plan.
    const loadMore = async () => (await this.read(repository, { where: query.where, orderBy: query.orderBy, offset: 0, limit: loadBound(query) })).rows;
    const listener = (delta: WindowDelta<QueryRow>) => started && send({ delta: recordsOf(delta) });
    const watching = await this.shared.windows.watch(repository, query, { load, loadMore, listener });
    started = true;
    send({ window: watching.live.window().map(recordOf), count: watching.live.count });
    return watching.stop;
  }

  /** Rows were committed (by this runtime or another on the database): every live query hears. */
  changed(rows: readonly RecordRow[]): void {
    const byRepository = new Map<string, QueryChange[]>();
    for (const row of rows) {
      let changes = byRepository.get(row.repository);
      if (!changes) byRepository.set(row.repository, (changes = []));
      changes.push({ id: row.id, row: queryRowOf(row) });
    }
    for (const [repository, changes] of byRepository) this.shared.apply(repository, changes);
  }

  describe(): QueryDiagnostics[] {
    const { windows, counts } = this.shared.describe();
    const info = (kind: QueryDiagnostics['kind']) => (entry: SharedQueryInfo): QueryDiagnostics => ({
      repository: entry.repository,
      query: entry.query,
      kind,
      watchers: entry.watchers,
      count: entry.count,
      plan: entry.description,
    });
    return [...windows.map(info('window')), ...counts.map(info('count'))];
  }

  private started(repository: string, query: NormalizedQuery, bound: number) {
    return fromStorage(() => this.storage.watchStart(repository, query, bound));
  }

  private read(repository: string, query: NormalizedQuery) {
    return fromStorage(() => this.storage.query(repository, query));
  }
}

/** One query watch of a tab: started again (a fresh window) when the data is replaced. */
export class QueryWatch {
  private stopLive: (() => void) | undefined;
  private generation = 0;

  constructor(
    private readonly start: (send: SendUpdate) => Promise<() => void>,
    private readonly send: SendUpdate,
  ) {}

  async run(): Promise<void> {
    const generation = ++this.generation;
    const stop = await this.start((update) => {
      if (generation === this.generation) this.send(update);
    });
    if (generation === this.generation) this.stopLive = stop;
    else stop();
  }

  stop(): void {
    this.generation++;
    this.stopLive?.();
    this.stopLive = undefined;
  }
}

/** A storage call whose failure reaches the tab as `storage_failed`, as every query's does. */
async function fromStorage<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw storageFailure(error);
  }
}

function parse(input: unknown): NormalizedQuery {
  const normalized = normalizeQuery(input);
  if (!normalized.ok) throw syncError(normalized.error.code, normalized.error.message);
  return normalized.query;
}

const recordOf = (row: QueryRow): StoredRecord => row.data as StoredRecord;

function recordsOf(delta: WindowDelta<QueryRow>): WindowDelta<StoredRecord> {
  return {
    entered: delta.entered.map(({ index, record }) => ({ index, record: recordOf(record) })),
    left: delta.left,
    moved: delta.moved.map(({ id, from, to, record }) => ({ id, from, to, record: recordOf(record) })),
    updated: delta.updated.map(({ index, record }) => ({ index, record: recordOf(record) })),
    count: delta.count,
  };
}
