/**
 * How many live (not deleted) records each repository holds, for `diagnostics()`. Counting reads
 * every row (tombstones are rows too, and there is no index on `deleted`), so a count is kept
 * until its repository changes, and while it keeps changing it is counted again at most once
 * per COST_FACTOR times what the last count took: a panel polling diagnostics every second costs
 * nothing while nothing changes, and at most a tenth of the worker's time while a large
 * repository syncs. The count it returns meanwhile is the last one.
 */
import type { RecordRow } from '../storage/storage';

/** A count may be repeated once this many times its own duration has passed. */
const COST_FACTOR = 10;

interface Count {
  value: number;
  /** When it was counted, and how long that took (ms). */
  at: number;
  took: number;
  /** The repository's change number when the count began. */
  version: number;
}

export class LiveRecordCounts {
  private readonly counts = new Map<string, Count>();
  private readonly counting = new Map<string, Promise<number>>();
  /** Per repository, how many commits touched it: a count is current while this is unchanged. */
  private readonly versions = new Map<string, number>();
  /** Bumped when the storage is replaced: a count begun before must not be kept. */
  private generation = 0;

  constructor(
    private readonly readRows: (repository: string) => Promise<readonly RecordRow[]>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Records of these repositories were committed (by this runtime or another). */
  changed(repositories: Iterable<string>): void {
    for (const repository of repositories) this.versions.set(repository, this.version(repository) + 1);
  }

  /** The storage was replaced: every count starts over. */
  reset(): void {
    this.generation++;
    this.counts.clear();
    this.counting.clear();
  }

  count(repository: string): Promise<number> {
    const known = this.counts.get(repository);
    const current = known?.version === this.version(repository);
    if (known && (current || this.now() - known.at < known.took * COST_FACTOR)) return Promise.resolve(known.value);
    let counting = this.counting.get(repository);
    if (!counting) {
      counting = this.countNow(repository);
      this.counting.set(repository, counting);
    }
    return counting;
  }

  private version(repository: string): number {
    return this.versions.get(repository) ?? 0;
  }

  private async countNow(repository: string): Promise<number> {
    const generation = this.generation;
    // A commit while the rows are read changes the version: that count is not current then.
    const version = this.version(repository);
    const at = this.now();
    try {
      const rows = await this.readRows(repository);
      const value = rows.reduce((live, row) => (row.deleted ? live : live + 1), 0);
      if (generation === this.generation) this.counts.set(repository, { value, at, took: this.now() - at, version });
      return value;
    } finally {
      if (generation === this.generation) this.counting.delete(repository);
    }
  }
}
