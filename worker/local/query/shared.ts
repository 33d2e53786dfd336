/**
 * One evaluation per distinct query, shared by every tab that watches it: watches are keyed by
 * repository and `queryKey`, the live state is loaded once, and each batch of changes is applied
 * once and its result handed to every watcher. Changes that arrive while the state loads are kept
 * and applied after it (applying a change the load already saw again is harmless), so a watcher
 * misses none, given that the worker reports every commit, in commit order.
 */
import { queryKey, type NormalizedQuery, type WindowDelta } from '../../../protocol/query';
import type { QueryRow, WatchStart } from './row';
import { LiveCount, LiveWindow, WINDOW_MARGIN, type QueryChange } from './window';

interface Live<D> {
  readonly count: number;
  apply(changes: readonly QueryChange[]): D | undefined;
  /** A window whose loaded rows ran short (window.ts): it waits for `refill`. */
  readonly needsMore?: boolean;
  refill?(rows: readonly QueryRow[], since: readonly QueryChange[]): D | undefined;
}

interface Entry<L, D> {
  repository: string;
  key: string;
  description: string;
  /** Settles once `live` is set (or the load failed). */
  loading: Promise<void>;
  live?: L;
  buffered: QueryChange[][];
  /** Reads the window's rows again (a prefix of the matches); set while a refill runs. */
  loadMore: (() => Promise<readonly QueryRow[]>) | undefined;
  refilling: boolean;
  listeners: Set<(update: D) => void>;
  /** Watches awaiting `loading`: the entry stays while any does, even with no listener yet. */
  waiting: number;
}

export interface Watching<L> {
  /** The live state as this watcher starts: every later change comes to its listener. */
  live: L;
  stop(): void;
}

/** What a load gives: the rows, or the rows and how they were read (it becomes the description). */
export type Loaded = Iterable<QueryRow> | { rows: Iterable<QueryRow> | WatchStart; description: string };

export interface WatchOptions<D> {
  /** The rows to start from (all the repository's rows, or those matching the where). */
  load: () => Promise<Loaded> | Loaded;
  listener: (update: D) => void;
  /** The first `loadBound` matching rows in order, read afresh: a window that ran short refills. */
  loadMore?: () => Promise<readonly QueryRow[]>;
  /** For diagnostics: how the query is answered (plan.ts: "index done", "scan"). */
  description?: string;
}

export interface SharedQueryInfo {
  repository: string;
  query: string;
  watchers: number;
  count: number | undefined;
  description: string;
}

class SharedLive<L extends Live<D>, D> {
  private readonly entries = new Map<string, Entry<L, D>>();

  constructor(
    private readonly create: (query: NormalizedQuery, rows: Iterable<QueryRow> | WatchStart) => L,
    /** What of the query its live state depends on. */
    private readonly keyOf: (query: NormalizedQuery) => string = queryKey,
  ) {}

  async watch(repository: string, query: NormalizedQuery, options: WatchOptions<D>): Promise<Watching<L>> {
    const key = this.keyOf(query);
    const id = `${repository}\n${key}`;
    let entry = this.entries.get(id);
    if (!entry) {
      const created: Entry<L, D> = { repository, key, description: options.description ?? '', loading: Promise.resolve(), buffered: [], loadMore: options.loadMore, refilling: false, listeners: new Set(), waiting: 0 };
      created.loading = this.load(id, created, query, options.load);
      this.entries.set(id, (entry = created));
    }
    entry.waiting++;
    try {
      await entry.loading;
    } finally {
      entry.waiting--;
    }
    const live = entry.live;
    if (!live) throw new Error(`the query on ${repository} could not be loaded`);
    // Added in the same step as the caller reads the state: no change falls between the two.
    // A closure of its own, so that two watches with one callback stop apart.
    const listener = (update: D) => options.listener(update);
    entry.listeners.add(listener);
    const watched = entry;
    return {
      live,
      stop: () => {
        watched.listeners.delete(listener);
        if (watched.listeners.size === 0 && watched.waiting === 0 && this.entries.get(id) === watched) this.entries.delete(id);
      },
    };
  }

  /** Applies a commit's changes of one repository to every query watching it. */
  apply(repository: string, changes: readonly QueryChange[]): void {
    if (changes.length === 0) return;
    for (const entry of this.entries.values()) {
      if (entry.repository !== repository) continue;
      if (!entry.live || entry.refilling) {
        entry.buffered.push([...changes]);
        continue;
      }
      this.tell(entry, entry.live.apply(changes));
    }
  }

  private tell(entry: Entry<L, D>, update: D | undefined): void {
    if (update !== undefined) for (const listener of entry.listeners) listener(update);
    if (entry.live?.needsMore && entry.loadMore && !entry.refilling) void this.refill(entry, entry.live, entry.loadMore);
  }

  /** Reads the window's rows again; changes meanwhile wait and are applied after the read. A
   *  failed read is tried again at the next change. */
  private async refill(entry: Entry<L, D>, live: L, loadMore: () => Promise<readonly QueryRow[]>): Promise<void> {
    entry.refilling = true;
    let rows: readonly QueryRow[] | undefined;
    try {
      rows = await loadMore();
    } catch {
      rows = undefined;
    }
    entry.refilling = false;
    const since = entry.buffered.splice(0).flat();
    if (rows) return this.tell(entry, live.refill?.(rows, since));
    // Not at once again: the next change tries.
    const update = since.length > 0 ? live.apply(since) : undefined;
    if (update !== undefined) for (const listener of entry.listeners) listener(update);
  }

  describe(): SharedQueryInfo[] {
    return [...this.entries.values()].map((entry) => ({
      repository: entry.repository,
      query: entry.key,
      watchers: entry.listeners.size,
      count: entry.live?.count,
      description: entry.description,
    }));
  }

  private async load(id: string, entry: Entry<L, D>, query: NormalizedQuery, load: WatchOptions<D>['load']): Promise<void> {
    try {
      const loaded = await load();
      const answer = 'description' in loaded ? loaded : undefined;
      if (answer) entry.description = answer.description;
      const live = this.create(query, answer ? answer.rows : (loaded as Iterable<QueryRow>));
      for (const changes of entry.buffered.splice(0)) live.apply(changes);
      const loadMore = entry.loadMore;
      // Changes during the load drained the window: its first answer must not be short.
      while (live.needsMore && loadMore) live.refill?.(await loadMore(), entry.buffered.splice(0).flat());
      entry.live = live;
    } catch (error) {
      // Every watch waiting on it fails; the next one loads afresh.
      this.entries.delete(id);
      throw error;
    }
  }
}

/** Watched windows (`watch`) and watched counts (`watchCount`), each shared per distinct query. */
export class SharedQueries {
  readonly windows: SharedLive<LiveWindow, WindowDelta<QueryRow>>;
  /** A count depends on the where alone: queries that differ only in order or window share one. */
  readonly counts = new SharedLive<LiveCount, number>(
    (query, rows) => new LiveCount(query, rows),
    (query) => JSON.stringify(query.where),
  );

  /** `margin`: the rows a window keeps loaded past its end (window.ts); tests make it small. */
  constructor(margin = WINDOW_MARGIN) {
    this.windows = new SharedLive((query, rows) => new LiveWindow(query, rows, margin));
  }

  apply(repository: string, changes: readonly QueryChange[]): void {
    this.windows.apply(repository, changes);
    this.counts.apply(repository, changes);
  }

  describe(): { windows: SharedQueryInfo[]; counts: SharedQueryInfo[] } {
    return { windows: this.windows.describe(), counts: this.counts.describe() };
  }
}
