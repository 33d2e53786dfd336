/**
 * A shared worker that dies (ended through the DevTools protocol, as a crash or the browser would
 * end it): the tabs notice through its Web Lock, start a new one, re-attach with their watchers
 * and credentials, and a write in flight is retried without being applied twice.
 */
import type { Browser, BrowserContext, Page } from '@playwright/test';
import { connectAndWatch, upsert, waitSynced, watched, type Todo } from './fixtures';
import { diagnostics, expect, openDemo, storedTodos, test } from './lifecycle';

declare global {
  interface Window {
    inFlight?: Promise<{ ok: boolean; code?: string | undefined }[]>;
  }
}

const CALL_TIMEOUT_MS = 3000;
const knobs = { callTimeout: String(CALL_TIMEOUT_MS) };

/** Ends the one SharedWorker of `context` (the browser profile of `page`). */
async function killSharedWorker(browser: Browser, context: BrowserContext, page: Page): Promise<void> {
  const { targetInfo } = await (await context.newCDPSession(page)).send('Target.getTargetInfo');
  const cdp = await browser.newBrowserCDPSession();
  try {
    await cdp.send('Target.setDiscoverTargets', { discover: true });
    const { targetInfos } = await cdp.send('Target.getTargets');
    const workers = targetInfos.filter((target) => target.type === 'shared_worker' && target.browserContextId === targetInfo.browserContextId);
    expect(workers).toHaveLength(1);
    await cdp.send('Target.closeTarget', { targetId: workers[0]!.targetId });
  } finally {
    await cdp.detach();
  }
}

async function openProfiles(browser: Browser, context: BrowserContext, origin: string) {
  const [first, second] = [await openDemo(context, origin, knobs), await openDemo(context, origin, knobs)];
  const elsewhere = await browser.newContext();
  const other = await openDemo(elsewhere, origin, knobs);
  await connectAndWatch(first, second, other);
  return { first, second, other, elsewhere };
}

test('a worker ended while idle is replaced: the next write resolves and every tab and profile sees it', async ({ browser, context, server }) => {
  const { first, second, other, elsewhere } = await openProfiles(browser, context, server.url);
  const before = (await diagnostics(first)).worker.id;

  await killSharedWorker(browser, context, first);
  const todo: Todo = { id: 'after', title: 'written after the worker died', done: false };
  await upsert(first, todo);

  const after = (await diagnostics(first)).worker.id;
  expect(after).not.toBe(before);
  expect((await diagnostics(second)).worker.id).toBe(after);
  // The watchers were registered again with the new worker, in both tabs of the profile.
  await expect.poll(async () => (await diagnostics(first)).tabs.map((tab) => tab.watching)).toEqual([['todos'], ['todos']]);
  for (const page of [first, second, other]) await expect.poll(() => watched(page)).toEqual([todo]);
  await waitSynced(first);
  await elsewhere.close();
});

test('a worker ended with writes in flight: no call hangs, nothing is applied twice, the next write resolves', async ({ browser, context, server }) => {
  const { first, second, other, elsewhere } = await openProfiles(browser, context, server.url);
  const before = (await diagnostics(first)).worker.id;

  await first.evaluate(() => {
    const writes = Array.from({ length: 200 }, (_, i) => window.todos.upsert({ id: `w${String(i).padStart(3, '0')}`, title: `write ${i}`, done: false }));
    window.inFlight = Promise.all(
      writes.map((write) => write.then(() => ({ ok: true }), (error: { code?: string }) => ({ ok: false, code: error.code }))),
    );
  });
  await killSharedWorker(browser, context, first);
  // Each write settles: resolved (committed, or retried on the new worker) or given up after the timeout.
  const outcomes = await first.evaluate(() => window.inFlight!);
  for (const outcome of outcomes) expect(outcome.ok || outcome.code === 'worker_unavailable').toBe(true);

  const last: Todo = { id: 'z-last', title: 'the next write', done: false };
  await upsert(first, last);
  expect((await diagnostics(first)).worker.id).not.toBe(before);
  await waitSynced(first);

  const stored = await storedTodos(server);
  expect(new Set(stored.eventIds).size).toBe(stored.logged);
  // One event per write at most: a retried write kept its eventId.
  expect(stored.logged).toBeLessThanOrEqual(201);
  const resolved = outcomes.flatMap((outcome, i) => (outcome.ok ? [`w${String(i).padStart(3, '0')}`] : []));
  expect(stored.dataIds).toEqual(expect.arrayContaining([...resolved, 'z-last']));
  for (const page of [second, other]) await expect.poll(async () => (await watched(page))?.some((todo) => todo.id === 'z-last')).toBe(true);
  await elsewhere.close();
});
