/**
 * The Web Locks API in one process, for Node (which has no `navigator.locks`): exclusive and
 * shared modes, requests granted in order, `ifAvailable`, `steal`, `signal`; and `kill(owner)`,
 * what the browser does when a worker ends: every lock it holds is released, its waiting
 * requests are dropped, and nothing of it runs again.
 */
interface Holder {
  owner: string;
  mode: LockMode;
  /** Rejects the holder's request, when another steals the lock. */
  stolen(): void;
}

interface Waiting {
  owner: string;
  mode: LockMode;
  grant(): void;
}

export class InProcessLocks {
  private readonly holders = new Map<string, Holder[]>();
  private readonly queues = new Map<string, Waiting[]>();
  private readonly dead = new Set<string>();

  /** The LockManager a runtime named `owner` sees. */
  manager(owner: string): LockManager {
    const request = (name: string, optionsOrCallback: LockOptions | LockGrantedCallback<unknown>, maybeCallback?: LockGrantedCallback<unknown>) => {
      const options = typeof optionsOrCallback === 'function' ? {} : optionsOrCallback;
      const callback = (typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback)!;
      return this.request(owner, name, options, callback);
    };
    return { request, query: async () => ({ held: [], pending: [] }) } as unknown as LockManager;
  }

  /** The names `owner` holds now. */
  heldBy(owner: string): string[] {
    return [...this.holders].flatMap(([name, holders]) => (holders.some((holder) => holder.owner === owner) ? [name] : []));
  }

  /** `owner` ended: its locks go to the next in line. */
  kill(owner: string): void {
    this.dead.add(owner);
    for (const [name, queue] of this.queues) this.queues.set(name, queue.filter((waiting) => waiting.owner !== owner));
    for (const [name, holders] of this.holders) {
      this.holders.set(name, holders.filter((holder) => holder.owner !== owner));
      this.next(name);
    }
  }

  private request(owner: string, name: string, options: LockOptions, callback: LockGrantedCallback<unknown>): Promise<unknown> {
    const mode = options.mode ?? 'exclusive';
    const { signal } = options;
    return new Promise((resolve, reject) => {
      if (this.dead.has(owner)) return; // a dead worker's calls never settle
      if (signal?.aborted) return reject(new DOMException('aborted', 'AbortError'));
      const holder: Holder = { owner, mode, stolen: () => reject(new DOMException('stolen', 'AbortError')) };
      const grant = () => {
        const holders = this.holders.get(name) ?? [];
        holders.push(holder);
        this.holders.set(name, holders);
        const settle = (done: () => void) => {
          const left = this.holders.get(name) ?? [];
          if (!left.includes(holder)) return; // stolen, or its owner died
          this.holders.set(name, left.filter((each) => each !== holder));
          this.next(name);
          if (!this.dead.has(owner)) done();
        };
        Promise.resolve()
          .then(() => callback({ name, mode } as Lock))
          .then((value) => settle(() => resolve(value)), (error: unknown) => settle(() => reject(error)));
      };
      if (options.steal) {
        for (const stolen of this.holders.get(name) ?? []) stolen.stolen();
        this.holders.set(name, []);
        return grant();
      }
      if (this.grantable(name, mode)) return grant();
      if (options.ifAvailable) {
        Promise.resolve(callback(null)).then(resolve, reject);
        return;
      }
      const waiting: Waiting = { owner, mode, grant };
      this.queues.set(name, [...(this.queues.get(name) ?? []), waiting]);
      signal?.addEventListener('abort', () => {
        const queue = this.queues.get(name) ?? [];
        if (!queue.includes(waiting)) return;
        this.queues.set(name, queue.filter((each) => each !== waiting));
        reject(new DOMException('aborted', 'AbortError'));
      });
    });
  }

  private grantable(name: string, mode: LockMode): boolean {
    const holders = this.holders.get(name) ?? [];
    if ((this.queues.get(name) ?? []).length > 0) return false;
    return holders.length === 0 || (mode === 'shared' && holders.every((holder) => holder.mode === 'shared'));
  }

  /** Grants the waiting requests the lock can take now, in order. */
  private next(name: string): void {
    const queue = this.queues.get(name) ?? [];
    while (queue.length > 0) {
      const first = queue[0]!;
      const holders = this.holders.get(name) ?? [];
      const free = holders.length === 0 || (first.mode === 'shared' && holders.every((holder) => holder.mode === 'shared'));
      if (!free) break;
      queue.shift();
      first.grant();
    }
  }
}
