/**
 * No working IndexedDB (a private window, a broken profile): the demo worker's test knob makes
 * `indexedDB.open` never answer (`idb=hang`) or throw (`idb=throw`). The runtime falls back to
 * memory, says so in status, diagnostics and the demo, and keeps syncing both ways.
 */
import { connectAndWatch, expect, openApp, status, test, upsert, waitSynced, watched, type Todo } from './fixtures';
import { diagnostics, openDemo, workerUrl } from './lifecycle';

for (const idb of ['hang', 'throw'] as const) {
  test(`IndexedDB that ${idb === 'hang' ? 'never answers' : 'throws'}: memory mode, shown, and sync works both ways`, async ({ browser, server }) => {
    const [memoryProfile, otherProfile] = [await browser.newContext(), await browser.newContext()];
    try {
      const page = await openDemo(memoryProfile, server.url, { worker: workerUrl({ idb, storageOpenTimeout: 500 }) });
      const other = await openApp(otherProfile, server);
      await expect.poll(async () => (await status(page)).storage).toBe('memory');
      expect((await diagnostics(page)).storage.mode).toBe('memory');
      await expect(page.locator('#storage-notice')).toBeVisible();
      await expect(page.locator('#storage-notice')).toContainText('Memory only');
      await page.locator('#diagnostics summary').click();
      await expect(page.locator('[data-field="storage.mode"]')).toHaveText(/^memory only/);
      // The other profile's storage works: no notice there.
      expect((await status(other)).storage).toBe('indexeddb');
      await expect(other.locator('#storage-notice')).toBeHidden();

      await connectAndWatch(page, other);
      const fromMemory: Todo = { id: 'a', title: 'written in memory mode', done: false };
      await upsert(page, fromMemory);
      await waitSynced(page);
      await expect.poll(() => watched(other)).toEqual([fromMemory]);

      const fromOther: Todo = { id: 'b', title: 'written in the other profile', done: true };
      await upsert(other, fromOther);
      await expect.poll(() => watched(page)).toEqual([fromMemory, fromOther]);
      expect((await diagnostics(page)).repositories['todos']?.records).toBe(2);
      expect(await server.records('todos')).toEqual([fromMemory, fromOther]);
    } finally {
      await memoryProfile.close();
      await otherProfile.close();
    }
  });
}
