import { SignJWT } from 'jose';
import { startTcpProxy } from '../test/helpers/tcp-proxy';
import { status, waitConnected, waitSynced } from './fixtures';
import { diagnostics, expect, openDemo, storedTodos, test, workerUrl } from './lifecycle';

test.describe('with static tokens', () => {
  test.use({ serverEnv: { AUTH_TOKENS: 'token-one=team,token-two=team' } });

  test('a token updated in one tab re-authenticates the connection another tab opened, without a new one', async ({ context, server }) => {
    const first = await openDemo(context, server.url, { token: 'token-one' });
    const second = await openDemo(context, server.url, { token: 'token-one' });
    await waitConnected(first);
    await waitConnected(second);
    const before = await diagnostics(first);
    expect(before.connection.connectionId).toBeDefined();
    expect((await server.health()).activeConnections).toBe(1);

    await second.evaluate(() => window.lf.updateAuthToken('token-two'));
    // Each static token is its own principal: the connection now authenticates as the second.
    await expect.poll(async () => (await diagnostics(first)).connection.principal).not.toBe(before.connection.principal);
    const after = await diagnostics(first);
    expect(after.connection.connectionId).toBe(before.connection.connectionId);
    expect(after.connection.reconnects).toBe(0);
    expect((await server.health()).activeConnections).toBe(1);
    await first.evaluate(() => window.todos.upsert({ id: 'a', title: 'after the new token', done: false }));
    await waitSynced(first);
    expect((await storedTodos(server, 'token-two')).dataIds).toEqual(['a']);
  });

  test('a token set while the first auth, without one, is still unanswered connects: the refusal belongs to the first', async ({ context, server }) => {
    const proxy = await startTcpProxy(server.port);
    try {
      // 300 ms each way: the first auth's refusal is 600 ms off when the new token goes out.
      proxy.setDelay(300);
      const page = await openDemo(context, proxy.url);
      await expect.poll(async () => (await diagnostics(page)).connection.state, { intervals: [20], timeout: 10_000 }).toBe('authenticating');
      await page.evaluate(() => window.lf.updateAuthToken('token-one'));
      await waitConnected(page);
      const after = await diagnostics(page);
      expect(after.connection.state).toBe('connected');
      expect(after.connection.reconnects).toBe(0);
      expect((await status(page)).unauthorized).toBe(false);
    } finally {
      await proxy.close();
    }
  });

  test('refused credentials with none better leave sync unauthorized, without a reconnect storm, until new ones come', async ({ context, server }) => {
    const proxy = await startTcpProxy(server.port);
    try {
      // Retries would come every 50 to 200 ms if the worker retried a refused token.
      const page = await openDemo(context, proxy.url, { token: 'wrong', worker: workerUrl({ reconnectDelay: 50, maxReconnectDelay: 200 }) });
      await expect.poll(async () => (await status(page)).unauthorized).toBe(true);
      await expect(page.locator('#connection')).toHaveText('Unauthorized');
      const accepted = proxy.accepted;
      await page.waitForTimeout(2000);
      expect(proxy.accepted).toBe(accepted);
      const waiting = await diagnostics(page);
      expect(waiting.connection.state).toBe('unauthorized');
      expect(waiting.connection.reconnects).toBe(0);

      await page.evaluate(() => window.lf.updateAuthToken('token-one'));
      await waitConnected(page);
      expect((await status(page)).unauthorized).toBe(false);
    } finally {
      await proxy.close();
    }
  });
});

test.describe('with JWTs', () => {
  const secret = 'lifecycle-test-secret-0123456789abcdef';
  test.use({ serverEnv: { JWT_SECRET: secret } });

  const sign = (secondsValid: number) =>
    new SignJWT({ namespace: 'team' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime(Math.floor(Date.now() / 1000) + secondsValid)
      .sign(new TextEncoder().encode(secret));

  test('a token that expires mid-session is replaced through onAuthenticationFailed, and sync resumes on the same connection', async ({ context, server }) => {
    let refreshes = 0;
    await context.exposeFunction('refreshToken', async () => {
      refreshes++;
      return sign(60);
    });
    const page = await openDemo(context, server.url, { token: await sign(2) });
    await waitConnected(page);
    const before = await diagnostics(page);

    // At the token's expiry the server sends `auth_failed "token expired"`; the worker asks the tab.
    await expect.poll(() => refreshes, { timeout: 10_000 }).toBe(1);
    await waitConnected(page);
    const after = await status(page);
    expect(after.lastError?.code).toBe('auth_failed');
    expect(after.lastError?.message).toContain('expired');
    expect((await diagnostics(page)).connection.connectionId).toBe(before.connection.connectionId);

    await page.evaluate(() => window.todos.upsert({ id: 'b', title: 'after the refresh', done: false }));
    await waitSynced(page);
    expect((await storedTodos(server, await sign(60))).dataIds).toEqual(['b']);
    expect(refreshes).toBe(1);
  });
});
