import { status } from './fixtures';
import { expect, openDemo, test, workerUrl } from './lifecycle';
import { TestServer } from './server';

test('a page of an origin the sync server does not allow sees origin_refused naming ALLOWED_ORIGINS, and no reconnect storm', async ({ context, server }) => {
  // The page comes from `server` (its origin http://127.0.0.1:<port>); its worker syncs with
  // `strict`, which allows only another origin.
  const strict = await TestServer.start({ ALLOWED_ORIGINS: 'https://app.example' });
  try {
    const worker = workerUrl({ ws: `ws://127.0.0.1:${strict.port}/sync`, reconnectDelay: 50, maxReconnectDelay: 60_000 });
    const page = await openDemo(context, server.url, { worker });
    // Refused, closed, and the next attempt scheduled.
    await expect.poll(async () => (await page.evaluate(() => window.lf.diagnostics())).connection.reconnectAt).toBeDefined();
    const { lastError, connected } = await status(page);
    expect(lastError?.code).toBe('origin_refused');
    expect(lastError?.message).toContain('ALLOWED_ORIGINS');
    expect(lastError?.message).toContain(server.url);
    expect(connected).toBe(false);
    // The next attempt waits half of maxReconnectDelay or more, not reconnectDelay (50 ms).
    const { connection } = await page.evaluate(() => window.lf.diagnostics());
    expect(Date.parse(connection.reconnectAt ?? '') - Date.parse(lastError?.at ?? '')).toBeGreaterThan(30_000 - 1000);
    expect(connection.reconnects).toBe(0);
  } finally {
    await strict.dispose();
  }
});
