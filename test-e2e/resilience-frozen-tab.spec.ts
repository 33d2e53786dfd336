/**
 * A tab the browser froze (page lifecycle `freeze`, driven through the DevTools protocol) costs
 * the worker nothing: it is detached while frozen, and on `resume` it gets the current state in
 * one notification instead of every change it missed.
 *
 * Playwright keeps every page it drives visible (focus emulation), and Chromium freezes only a
 * hidden page, so `Page.setWebLifecycleState` does nothing to them. These tabs therefore live in
 * a browser context made through the DevTools protocol, which Playwright leaves alone, and are
 * driven through their own DevTools sessions.
 */
import type { CDPSession } from '@playwright/test';
import type { Diagnostics } from '../src';
import { expect, test, type Todo } from './fixtures';

const WRITES = 20;

/** A tab driven through its DevTools session (`Target.sendMessageToTarget`) only. */
class RawTab {
  private sent = 0;
  private replies = new Map<number, (reply: { result?: unknown; error?: unknown }) => void>();

  private constructor(private readonly browser: CDPSession, private readonly sessionId: string) {
    browser.on('Target.receivedMessageFromTarget', (event) => {
      if (event.sessionId !== this.sessionId) return;
      const message = JSON.parse(event.message) as { id?: number; result?: unknown; error?: unknown };
      if (message.id !== undefined) this.replies.get(message.id)?.(message);
      if (message.id !== undefined) this.replies.delete(message.id);
    });
  }

  /** Opens `url` in a new tab of the browser context and waits until its client is attached. */
  static async open(browser: CDPSession, browserContextId: string, url: string): Promise<RawTab> {
    const { targetId } = await browser.send('Target.createTarget', { url, browserContextId });
    const { sessionId } = await browser.send('Target.attachToTarget', { targetId, flatten: false });
    const tab = new RawTab(browser, sessionId);
    await expect.poll(() => tab.evaluate(() => window.todos !== undefined).catch(() => false)).toBe(true);
    await tab.evaluate(() => window.lf.status());
    return tab;
  }

  send<T>(method: string, params: object = {}): Promise<T> {
    const id = ++this.sent;
    return new Promise<T>((resolve, reject) => {
      this.replies.set(id, ({ result, error }) => (error ? reject(new Error(`${method}: ${JSON.stringify(error)}`)) : resolve(result as T)));
      this.browser.send('Target.sendMessageToTarget', { sessionId: this.sessionId, message: JSON.stringify({ id, method, params }) }).catch(reject);
    });
  }

  /** Runs `fn(arg)` in the page (its source is sent, so it may use only its argument and the page's globals). */
  async evaluate<T, A = undefined>(fn: (arg: A) => T | Promise<T>, arg?: A): Promise<T> {
    const { result, exceptionDetails } = await this.send<{ result: { value?: T }; exceptionDetails?: unknown }>('Runtime.evaluate', {
      expression: `(${fn.toString()})(${JSON.stringify(arg) ?? ''})`,
      awaitPromise: true,
      returnByValue: true,
    });
    if (exceptionDetails) throw new Error(`evaluate failed: ${JSON.stringify(exceptionDetails)}`);
    return result.value as T;
  }
}

test('a frozen tab is detached, and on resume its watcher fires once with every record', async ({ browser, server }) => {
  const devtools = await browser.newBrowserCDPSession();
  const { browserContextId } = await devtools.send('Target.createBrowserContext', { disposeOnDetach: true });
  try {
    const writer = await RawTab.open(devtools, browserContextId, server.url);
    const frozen = await RawTab.open(devtools, browserContextId, server.url);
    const diagnostics = () => writer.evaluate(() => window.lf.diagnostics()) as Promise<Diagnostics>;
    const watched = (tab: RawTab) => tab.evaluate(() => window.watched);
    const watchCalls = () => frozen.evaluate(() => window.watchCalls ?? 0);
    for (const tab of [writer, frozen]) {
      await tab.evaluate(() => {
        window.watchCalls = 0;
        window.todos.watch((records) => {
          window.watched = records;
          window.watchCalls = (window.watchCalls ?? 0) + 1;
        });
      });
    }
    await expect.poll(() => watched(frozen)).toEqual([]);
    await expect.poll(async () => (await diagnostics()).tabs.length).toBe(2);
    const callsBefore = await watchCalls();

    await frozen.send('Page.setWebLifecycleState', { state: 'frozen' });
    await expect.poll(async () => (await diagnostics()).tabs.length).toBe(1);

    const records: Todo[] = Array.from({ length: WRITES }, (_, i) => ({ id: `f${String(i).padStart(2, '0')}`, title: `while frozen ${i}`, done: false }));
    await writer.evaluate(async (todos) => {
      for (const todo of todos) await window.todos.upsert(todo);
    }, records);
    await expect.poll(() => watched(writer)).toEqual(records);
    expect((await diagnostics()).tabs).toHaveLength(1);

    await frozen.send('Page.setWebLifecycleState', { state: 'active' });
    await expect.poll(() => watched(frozen)).toEqual(records);
    await expect.poll(async () => (await diagnostics()).tabs.map((tab) => tab.watching)).toEqual([['todos'], ['todos']]);
    // A round trip to the worker: anything it sent this tab before has been delivered by now.
    await frozen.evaluate(() => window.lf.status());
    expect(await watchCalls()).toBe(callsBefore + 1);
  } finally {
    await devtools.send('Target.disposeBrowserContext', { browserContextId }).catch(() => {});
    await devtools.detach();
  }
});
