/**
 * The `test` every browser test uses: a fresh server per test, and helpers to drive the demo
 * page's client (`window.lf`, `window.todos`) from the test.
 */
import { test as base, expect, type BrowserContext, type Page } from '@playwright/test';
import type { Repository, SyncClient, SyncStatus } from '../src';
import { TEST_PAGE, TestServer } from './server';

export { TEST_PAGE };

export interface Todo {
  id: string;
  title: string;
  done: boolean;
}

declare global {
  interface Window {
    lf: SyncClient<{ todos: Todo }>;
    todos: Repository<Todo>;
    /** The last result of a watcher a test installed with `watchTodos`. */
    watched?: readonly Todo[];
    /** How often that watcher was called. */
    watchCalls?: number;
  }
}

export const test = base.extend<{ server: TestServer }>({
  server: async ({}, use) => {
    const server = await TestServer.start();
    await use(server);
    await server.dispose();
  },
});
export { expect };

/** Opens the demo at `url` in a new tab of `context` and waits until its client is attached. */
export async function openDemoAt(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => window.todos !== undefined);
  await page.evaluate(() => window.lf.status());
  return page;
}


/** Opens the demo's test build served by `server` in a new tab of `context`. */
export function openApp(context: BrowserContext, server: TestServer): Promise<Page> {
  return openDemoAt(context, server.url + TEST_PAGE);
}

export function status(page: Page): Promise<SyncStatus> {
  return page.evaluate(() => window.lf.status());
}

/** Waits until the shared socket of the page's browser context is open and authenticated. */
export async function waitConnected(page: Page): Promise<void> {
  await expect.poll(async () => {
    const current = await status(page);
    return current.connected && current.authenticated;
  }).toBe(true);
}

/** Waits until every local write of the page's browser context is acknowledged by the server. */
export async function waitSynced(page: Page): Promise<void> {
  await expect.poll(async () => (await status(page)).pending).toBe(0);
}

export function allTodos(page: Page): Promise<Todo[]> {
  return page.evaluate(() => window.todos.getAll());
}

export function upsert(page: Page, todo: Todo): Promise<void> {
  return page.evaluate((record) => window.todos.upsert(record), todo);
}

/** Installs a watcher in the page; `watched(page)` then reads what it last received. */
export async function watchTodos(page: Page): Promise<void> {
  await page.evaluate(() => {
    window.watchCalls = 0;
    window.todos.watch((records) => {
      window.watched = records;
      window.watchCalls = (window.watchCalls ?? 0) + 1;
    });
  });
}

/** Each page connected, and watching its todos (`watched`, `watchCalls`). */
export async function connectAndWatch(...pages: Page[]): Promise<void> {
  for (const page of pages) {
    await waitConnected(page);
    await watchTodos(page);
  }
}

export function watchCalls(page: Page): Promise<number | undefined> {
  return page.evaluate(() => window.watchCalls);
}

export function watched(page: Page): Promise<readonly Todo[] | undefined> {
  return page.evaluate(() => window.watched);
}
