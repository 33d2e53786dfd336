/**
 * One tab of a browser context in the chaos run: it can be closed and reopened at any time, and
 * while open it writes random upserts and deletes through the demo page's client.
 */
import type { BrowserContext, Page } from '@playwright/test';
import type { Repository, SyncClient, SyncStatus } from '../../src';
import { workerLocksHeld } from '../page-probes';
import type { Random } from './random';

export interface Todo {
  id: string;
  title: string;
  done: boolean;
}

/** What the demo page exposes (public/app.ts). */
interface DemoWindow {
  lf: SyncClient<{ todos: Todo }>;
  todos: Repository<Todo>;
}

/** A write a tab asked for: an upsert carries a title no other write uses; a delete has none. */
export interface Write {
  id: string;
  title?: string;
  done: boolean;
}

export interface WriteLog {
  /** Writes whose promise resolved in the tab: the runtime acknowledged them as durable. */
  resolved: Write[];
  /** Writes whose promise rejected, with the reason. */
  rejected: { write: Write; reason: string }[];
  /** Writes whose tab closed before it answered: they may or may not have been stored. */
  unknown: number;
}

const OPEN_TIMEOUT_MS = 30_000;

export class ChaosTab {
  private page: Page | undefined;
  private written = 0;
  /** The reopen under way: the chaos loop and a failed write may both ask for one. */
  private reopening: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly context: BrowserContext,
    private readonly url: string,
    private readonly random: Random,
  ) {}

  get isOpen(): boolean {
    return this.page !== undefined;
  }

  /** Opens the demo, retrying while the server or the proxy refuses (it may be down on purpose). */
  async open(): Promise<void> {
    const deadline = Date.now() + OPEN_TIMEOUT_MS;
    for (;;) {
      const page = await this.context.newPage();
      try {
        await page.goto(this.url, { timeout: 10_000 });
        await page.waitForFunction(() => (window as unknown as DemoWindow).todos !== undefined, undefined, { timeout: 10_000 });
        await page.evaluate(() => (window as unknown as DemoWindow).lf.status());
        this.page = page;
        return;
      } catch (error) {
        await page.close().catch(() => {});
        if (Date.now() > deadline) throw new Error(`tab ${this.name} could not open ${this.url}: ${String(error)}`);
        await sleep(300);
      }
    }
  }

  async close(): Promise<void> {
    const page = this.page;
    this.page = undefined;
    await page?.close().catch(() => {});
  }

  /** Closes the tab (even mid-write) and opens it again after a pause. */
  reopen(pauseMs: number): Promise<void> {
    this.reopening ??= (async () => {
      await this.close();
      await sleep(pauseMs);
      await this.open();
    })().finally(() => (this.reopening = undefined));
    return this.reopening;
  }

  /** Sends one burst of 1 to 6 writes on `ids`, all at once, and logs how each ended. */
  async writeBurst(ids: readonly string[], log: WriteLog): Promise<void> {
    const page = this.page;
    if (!page) return;
    const writes: Write[] = [];
    for (let i = this.random.int(1, 6); i > 0; i--) {
      const id = this.random.pick(ids);
      const done = this.random.chance(0.5);
      writes.push(this.random.chance(0.75) ? { id, title: `${this.name}#${++this.written}`, done } : { id, done });
    }
    let outcomes: (string | null)[];
    try {
      outcomes = await page.evaluate(async (batch) => {
        const { todos } = window as unknown as DemoWindow;
        const settled = await Promise.allSettled(
          batch.map((w) => (w.title === undefined ? todos.delete(w.id) : todos.upsert({ id: w.id, title: w.title, done: w.done }))),
        );
        return settled.map((s) => {
          if (s.status === 'fulfilled') return null;
          const reason = s.reason as { code?: unknown; message?: unknown } | undefined;
          return `${String(reason?.code ?? 'error')}: ${String(reason?.message ?? s.reason)}`;
        });
      }, writes);
    } catch {
      // The tab closed (or its page broke) before answering: the writes' fate is unknown.
      log.unknown += writes.length;
      if (this.page === page) await this.reopen(0);
      return;
    }
    outcomes.forEach((reason, i) => {
      const write = writes[i]!;
      if (reason === null) log.resolved.push(write);
      else log.rejected.push({ write, reason });
    });
    // A tab whose worker could not start (its script failed to load mid-outage) stays without
    // one until it reloads: reload a tab whose writes found no worker.
    if (outcomes.some((reason) => reason?.startsWith('worker_unavailable'))) await this.reopen(0);
  }

  status(): Promise<SyncStatus> {
    return this.openPage().evaluate(() => (window as unknown as DemoWindow).lf.status());
  }

  /** How many workers run in this tab's browser context (one while a tab is open). */
  workers(): Promise<number> {
    return this.openPage().evaluate(workerLocksHeld);
  }

  records(): Promise<Todo[]> {
    return this.openPage().evaluate(() => (window as unknown as DemoWindow).todos.getAll());
  }

  /** Drops and reopens the shared socket: the runtime catches up again from its cursor. */
  async restartSync(): Promise<void> {
    await this.openPage().evaluate(async () => {
      const { lf } = window as unknown as DemoWindow;
      await lf.stop();
      await lf.start();
    });
  }

  private openPage(): Page {
    if (!this.page) throw new Error(`tab ${this.name} is closed`);
    return this.page;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
