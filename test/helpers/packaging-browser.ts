/**
 * Driving a fixture app's page in Chromium: the fixtures' pages (test/fixtures/packaging-common/src/drive.ts)
 * expose `window.app`; these open a page until its client is connected, write, wait to see a
 * write, and reach the profile's SharedWorkers over the DevTools protocol.
 */
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from '@playwright/test';

/** What a fixture's page exposes as `window.app`. */
interface Driven {
  app?: {
    write(id: string, text: string): Promise<void>;
    notes(): ReadonlyArray<{ id: string; text: string }>;
    connected(): boolean;
    workerId(): Promise<string>;
  };
}

/** Opens `url` in a new tab of `context`; resolves once its client reports a connected worker. */
export async function open(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => (window as Driven).app?.connected() === true);
  return page;
}

export function write(page: Page, id: string, text: string): Promise<void> {
  return page.evaluate(([i, t]) => (window as Driven).app!.write(i, t), [id, text] as const);
}

/** Resolves once the page's watcher shows a note with this text. */
export async function sees(page: Page, text: string): Promise<void> {
  await page.waitForFunction((t) => (window as Driven).app?.notes().some((note) => note.text === t), text);
}

export function workerId(page: Page): Promise<string> {
  return page.evaluate(() => (window as Driven).app!.workerId());
}

/** How the page was last loaded: `navigate` (as it was opened) or `reload` (a dev server reloaded it, say). */
export function navigationType(page: Page): Promise<string> {
  return page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).type);
}

/** Two tabs of `context` at `url`: each one's write reaches the other. Returns the tabs. */
export async function twoTabsSeeEachOther(context: BrowserContext, url: string): Promise<[Page, Page]> {
  const [tab1, tab2] = [await open(context, url), await open(context, url)];
  await write(tab1, 'a', 'from tab 1');
  await sees(tab2, 'from tab 1');
  await write(tab2, 'b', 'from tab 2');
  await sees(tab1, 'from tab 2');
  assert.equal(await workerId(tab1), await workerId(tab2), 'both tabs talk to one worker');
  return [tab1, tab2];
}

/** The URL of every SharedWorker the browser runs (one per profile and script). */
export async function sharedWorkerUrls(browser: Browser): Promise<string[]> {
  return (await sharedWorkerTargets(browser, async () => {})).map((target) => target.url);
}

/** Ends every SharedWorker of the browser through the DevTools protocol, as a crash would; returns how many. */
export async function endSharedWorkers(browser: Browser): Promise<number> {
  const targets = await sharedWorkerTargets(browser, async (cdp, { targetId }) => {
    await cdp.send('Target.closeTarget', { targetId });
  });
  return targets.length;
}

type Cdp = Awaited<ReturnType<Browser['newBrowserCDPSession']>>;
interface Target {
  targetId: string;
  url: string;
}

async function sharedWorkerTargets(browser: Browser, each: (cdp: Cdp, target: Target) => Promise<void>): Promise<Target[]> {
  const cdp = await browser.newBrowserCDPSession();
  await cdp.send('Target.setDiscoverTargets', { discover: true });
  const targets = (await cdp.send('Target.getTargets')).targetInfos.filter((target) => target.type === 'shared_worker');
  for (const target of targets) await each(cdp, target);
  await cdp.detach();
  return targets;
}
