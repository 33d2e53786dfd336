/**
 * The demo at `/` takes nothing from its URL: a crafted link cannot point the profile's one
 * worker and database at another server, log it in with a token of someone else's choosing, or
 * change how it runs. The test server also serves the test build at /test/ (whose page and worker
 * do take those knobs), so each crafted link below would work if the demo honoured it.
 */
import type { Browser } from '@playwright/test';
import { openDemoAt, TEST_PAGE } from './fixtures';
import { diagnostics, expect, test } from './lifecycle';
import { TestServer } from './server';

test.use({ serverEnv: { AUTH_TOKENS: 'attacker-token=attacker' } });

/** The URLs of the SharedWorkers alive in the browser, seen through the DevTools protocol. */
async function sharedWorkerUrls(browser: Browser, origin: string): Promise<string[]> {
  const session = await browser.newBrowserCDPSession();
  try {
    const { targetInfos } = await session.send('Target.getTargets');
    return targetInfos.filter((target) => target.type === 'shared_worker' && target.url.startsWith(origin)).map((target) => target.url);
  } finally {
    await session.detach();
  }
}

test('the demo at / ignores ?worker=, ?ws=, ?token=, ?mode= and ?callTimeout=', async ({ browser, browserName, context, server }) => {
  const other = await TestServer.start();
  try {
    const otherSync = `ws://127.0.0.1:${other.port}/sync`;
    const crafted = new URLSearchParams({
      worker: `/test/sync-worker.js?ws=${encodeURIComponent(otherSync)}`,
      token: 'attacker-token',
      mode: 'dedicated',
      callTimeout: '1',
    });
    const page = await openDemoAt(context, `${server.url}/?${crafted}`);
    // Its own worker, shared, on its own server, with no token: the server refuses it.
    await expect.poll(() => page.evaluate(() => window.lf.status().then((s) => s.unauthorized))).toBe(true);
    const seen = await diagnostics(page);
    expect(seen.worker.mode).toBe('shared');
    expect(seen.connection.namespace).toBeUndefined();
    // Which script the worker runs is visible only through CDP; elsewhere the other server's
    // empty health below says the same: no socket went there.
    if (browserName === 'chromium') expect(await sharedWorkerUrls(browser, server.url)).toEqual([`${server.url}/sync-worker.js`]);
    expect((await other.health()).activeConnections).toBe(0);

    // The demo's worker script itself ignores the knobs of its URL: the test page (in another
    // profile) may load it with `?ws=`, and it still syncs with the server that served it.
    const elsewhere = await browser.newContext();
    const direct = await openDemoAt(elsewhere, `${server.url}${TEST_PAGE}?${new URLSearchParams({ worker: `/sync-worker.js?ws=${encodeURIComponent(otherSync)}`, token: 'attacker-token' })}`);
    await expect.poll(async () => (await diagnostics(direct)).connection.namespace).toBe('attacker');
    expect((await other.health()).activeConnections).toBe(0);
    await elsewhere.close();
  } finally {
    await other.dispose();
  }
});
