/**
 * Helpers of the lifecycle specs: a server with its own environment (AUTH_TOKENS, JWT_SECRET),
 * the demo's test build opened with its knobs (`?worker=`, `?token=`, `?mode=`), the worker's
 * diagnostics, the server's view of what it stored, and writes made by another device.
 */
import type { BrowserContext, Page } from '@playwright/test';
import { Operation } from '../protocol';
import type { Diagnostics, SyncStatus } from '../src';
import { authed } from '../test/helpers/client';
import { test as base, openDemoAt, TEST_PAGE } from './fixtures';
import { TestServer } from './server';

declare global {
  interface Window {
    refreshToken?: () => Promise<string | null>;
    /** Every status this tab received, recorded by `recordStatuses`. */
    statuses?: SyncStatus[];
  }
}

/** `test.use({ serverEnv: { AUTH_TOKENS: … } })` starts each test's server with that environment. */
export const test = base.extend<{ serverEnv: Record<string, string> }>({
  serverEnv: [{}, { option: true }],
  server: async ({ serverEnv }, use) => {
    const server = await TestServer.start(serverEnv);
    await use(server);
    await server.dispose();
  },
});
export { expect } from './fixtures';

/** The test build's worker script URL with config overrides; another query is another worker. */
export function workerUrl(knobs: Record<string, number | string>): string {
  return `/test/sync-worker.js?${new URLSearchParams(Object.entries(knobs).map(([name, value]) => [name, String(value)]))}`;
}

/** Opens the demo's test build at `origin` with page knobs and waits until its client is attached. */
export function openDemo(context: BrowserContext, origin: string, knobs: Record<string, string> = {}): Promise<Page> {
  return openDemoAt(context, `${origin}${TEST_PAGE}?${new URLSearchParams(knobs)}`);
}

export function diagnostics(page: Page): Promise<Diagnostics> {
  return page.evaluate(() => window.lf.diagnostics());
}

export async function recordStatuses(page: Page): Promise<void> {
  await page.evaluate(() => {
    const statuses: SyncStatus[] = [];
    window.statuses = statuses;
    window.lf.onStatusChange((status) => statuses.push(status));
  });
}

/** GET of the server's REST API, as `token` when given. */
export async function serverJson<T>(server: TestServer, path: string, token?: string): Promise<T> {
  const response = await fetch(server.url + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
  return (await response.json()) as T;
}

/** What the server stored for `todos`: every event it logged, and the eventIds of its compacted view. */
export async function storedTodos(server: TestServer, token?: string): Promise<{ logged: number; eventIds: string[]; dataIds: string[] }> {
  const repositories = await serverJson<{ name: string; events: number }[]>(server, '/api/repositories', token);
  const { events } = await serverJson<{ events: { eventId: string; dataId: string }[] }>(server, '/api/events/todos?limit=1000', token);
  return {
    logged: repositories.find((repository) => repository.name === 'todos')?.events ?? 0,
    eventIds: events.map((event) => event.eventId),
    dataIds: events.map((event) => event.dataId).sort(),
  };
}

/** Writes `records` as another device would: a raw protocol client pushes them; resolves with
 *  their eventIds once the server acknowledged them. The server does not check the app's schema. */
export async function pushFromAnotherDevice(server: TestServer, repository: string, records: { id: string; [field: string]: unknown }[]): Promise<string[]> {
  const client = await authed(`ws://127.0.0.1:${server.port}/sync`);
  try {
    const createdAt = new Date().toISOString();
    const events = records.map((data, i) => ({ eventId: `device-${Date.now()}-${i}`, dataId: data.id, operation: Operation.insert, createdAt, data }));
    client.send({ type: 'push_events_batch', repository, events });
    const ack = await client.next('ack');
    if (ack.eventIds.length !== events.length) throw new Error(`the server acknowledged ${ack.eventIds.length} of ${events.length} events`);
    return events.map((event) => event.eventId);
  } finally {
    await client.close();
  }
}
