/**
 * A tab of the demo in a WebKit profile, driven through its client (`window.lf`, `window.todos`)
 * as the Playwright specs drive theirs (test-e2e/fixtures.ts).
 */
import { isDeepStrictEqual } from 'node:util';
import type { LogEntry } from '../protocol/tab-api';
import type { Diagnostics, SyncStatus } from '../src';
import type { Todo } from '../test-e2e/fixtures';
import { waitFor } from '../test/helpers/wait';
import type { Tab, WebKitProfile } from './profile';

// `window.logs` (what `lf.onLog` delivered since `recordLogs`) is declared by resilience-log.spec.ts.

/** How long a poll waits for what the runtime does by itself (a reconnect's back-off is up to 30 s). */
export const SETTLE_MS = 45_000;

export class DemoTab {
  private constructor(
    readonly profile: WebKitProfile,
    readonly handle: Tab,
  ) {}

  static async open(profile: WebKitProfile, url: string): Promise<DemoTab> {
    return new DemoTab(profile, await profile.openDemo(url));
  }

  status(): Promise<SyncStatus> {
    return this.profile.run(this.handle, () => window.lf.status());
  }

  diagnostics(): Promise<Diagnostics> {
    return this.profile.run(this.handle, () => window.lf.diagnostics());
  }

  upsert(todo: Todo): Promise<void> {
    return this.profile.run(this.handle, (record) => window.todos.upsert(record), todo);
  }

  all(): Promise<Todo[]> {
    return this.profile.run(this.handle, () => window.todos.getAll());
  }

  /** Installs a watcher; `watched()` reads what it last received. */
  watch(): Promise<void> {
    return this.profile.run(this.handle, () => {
      window.todos.watch((records) => (window.watched = records));
    });
  }

  watched(): Promise<readonly Todo[] | undefined> {
    return this.profile.run(this.handle, () => window.watched);
  }

  /** Keeps what the worker logs to this tab from now on; `logs()` reads it. */
  recordLogs(): Promise<void> {
    return this.profile.run(this.handle, () => {
      const logs: LogEntry[] = [];
      window.logs = logs;
      window.lf.onLog((entry) => logs.push(entry));
    });
  }

  logs(): Promise<LogEntry[]> {
    return this.profile.run(this.handle, () => window.logs ?? []);
  }

  async waitConnected(): Promise<void> {
    await waitFor(async () => {
      const { connected, authenticated } = await this.status();
      return connected && authenticated;
    }, 'the connection', SETTLE_MS);
  }

  async waitDisconnected(): Promise<void> {
    await waitFor(async () => !(await this.status()).connected, 'the connection to drop', SETTLE_MS);
  }

  /** Waits until every write of the profile is acknowledged by the server. */
  async waitSynced(): Promise<void> {
    await waitFor(async () => (await this.status()).pending === 0, 'the writes to be acknowledged', SETTLE_MS);
  }

  /** Waits until the tab's watcher received `expected`. */
  async waitWatched(expected: readonly Todo[]): Promise<void> {
    let seen: readonly Todo[] | undefined;
    await waitFor(async () => isDeepStrictEqual((seen = await this.watched()), expected), 'the watcher', SETTLE_MS).catch((error: Error) => {
      throw new Error(`${error.message}: it shows ${JSON.stringify(seen)}, not ${JSON.stringify(expected)}`);
    });
  }
}
