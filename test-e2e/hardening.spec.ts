/**
 * Worker-side hardening in a real browser: the worker never persists a token, the demo is served
 * with a Content-Security-Policy that stops injected inline scripts, and a full disk (a tiny
 * IndexedDB quota) reaches the writing tab as `quota_exceeded` with nothing half-stored.
 */
import type { Page } from '@playwright/test';
import { allTodos, expect, openApp, status, test, upsert, waitConnected, waitSynced } from './fixtures';
import { TestServer } from './server';

/** Every IndexedDB database, object store and value of the page's origin, plus Web Storage, as text. */
function dumpOriginStorage(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const request = <T>(r: IDBRequest<T>) => new Promise<T>((resolve, reject) => ((r.onsuccess = () => resolve(r.result)), (r.onerror = () => reject(r.error))));
    const dump: Record<string, unknown> = { localStorage: { ...localStorage }, sessionStorage: { ...sessionStorage } };
    for (const { name } of await indexedDB.databases()) {
      if (!name) continue;
      const db = await request(indexedDB.open(name));
      for (const store of db.objectStoreNames) {
        const tx = db.transaction(store, 'readonly');
        const [keys, values] = await Promise.all([request(tx.objectStore(store).getAllKeys()), request(tx.objectStore(store).getAll())]);
        dump[`${name}/${store}`] = { keys, values };
      }
      db.close();
    }
    return JSON.stringify(dump);
  });
}

test('the worker authenticates with a token but never writes it to IndexedDB or Web Storage', async ({ browser }) => {
  const token = 'tok-3f9c1d0b7e2a4c58a1d6';
  const server = await TestServer.start({ AUTH_TOKENS: `${token}=default` });
  const context = await browser.newContext();
  try {
    const page = await openApp(context, server);
    await expect.poll(async () => (await status(page)).unauthorized).toBe(true);
    await page.evaluate((secret) => window.lf.updateAuthToken(secret), token);
    await waitConnected(page);
    await upsert(page, { id: 'a', title: 'written with a token', done: false });
    await waitSynced(page);
    // The server really requires the token (no dev mode): REST reads without it are refused.
    expect(await server.records('todos').catch(() => 'unauthorized REST read')).toBe('unauthorized REST read');

    const storage = await dumpOriginStorage(page);
    expect(storage).toContain('written with a token');
    expect(storage).toContain('todos');
    expect(storage).not.toContain(token);
  } finally {
    await context.close();
    await server.dispose();
  }
});

test('the demo is served with a Content-Security-Policy that blocks injected inline scripts', async ({ page, server }) => {
  const response = await page.goto(server.url);
  const policy = response?.headers()['content-security-policy'] ?? '';
  expect(policy).toContain("script-src 'self'");
  expect(policy).not.toContain('unsafe-inline');
  await page.waitForFunction(() => window.todos !== undefined);

  const outcome = await page.evaluate(async () => {
    const violations: string[] = [];
    document.addEventListener('securitypolicyviolation', (event) => violations.push(event.violatedDirective));
    const flags = window as unknown as { inlineRan?: boolean; handlerRan?: boolean };
    const script = document.createElement('script');
    script.textContent = 'window.inlineRan = true';
    document.body.append(script);
    const holder = document.createElement('div');
    holder.innerHTML = '<img src="data:," onerror="window.handlerRan = true">';
    document.body.append(holder);
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { inlineRan: flags.inlineRan ?? false, handlerRan: flags.handlerRan ?? false, violations };
  });
  expect(outcome.inlineRan).toBe(false);
  expect(outcome.handlerRan).toBe(false);
  expect(outcome.violations.some((directive) => directive.startsWith('script-src'))).toBe(true);
});

test('a full disk fails the write in the tab with quota_exceeded; earlier records stay, the failed one is absent', async ({ context, server }) => {
  test.setTimeout(150_000);
  const page = await openApp(context, server);
  await waitConnected(page);
  await page.evaluate(() => window.lf.stop());
  const usage = await page.evaluate(async () => (await navigator.storage.estimate()).usage ?? 0);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.url, quotaSize: usage + 64 * 1024 });

  // Write records of ~500 characters one by one until the quota refuses one. Chromium counts the
  // origin's usage lazily, so writes without a read first (the worker as sole writer) can outrun
  // it for thousands of records before it refuses: hence up to 20,000, and the longer timeout.
  const failure = await page.evaluate(async () => {
    for (let i = 0; i < 20000; i++) {
      const id = `big-${String(i).padStart(5, '0')}`;
      try {
        await window.todos.upsert({ id, title: `${i} `.padEnd(500, 'q'), done: false });
      } catch (error) {
        const { code, message } = error as { code?: string; message?: string };
        return { id, written: i, code, message };
      }
    }
    return undefined;
  });
  expect(failure, 'the quota refused a write').toBeDefined();
  expect(failure?.code).toBe('quota_exceeded');
  expect(failure?.message).toMatch(/storage is full/);
  expect(failure?.written).toBeGreaterThan(0);

  // Nothing of the failed write was stored; everything before it was.
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.url });
  const records = await allTodos(page);
  expect(records.map((todo) => todo.id)).not.toContain(failure?.id);
  expect(records).toHaveLength(failure?.written ?? -1);
  expect(records.every((todo, i) => todo.title === `${i} `.padEnd(500, 'q'))).toBe(true);
  expect((await status(page)).pending).toBe(failure?.written);

  // Once there is room again, exactly the acknowledged writes reach the server.
  await page.evaluate(() => window.lf.start());
  await waitSynced(page);
  const onServer = await server.records('todos');
  expect(onServer.map((todo) => todo.id)).toEqual(records.map((todo) => todo.id));
});
