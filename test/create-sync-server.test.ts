/**
 * createSyncServer attached to an app's own HTTP server (in-process, on loopback): the defaults
 * (`/sync`, `/api`), a REST prefix turned off, the app's own upgrades and requests left to it,
 * options checked as the environment is, and close() leaving the app's server up.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { createSyncServer, type SyncServer, type SyncServerOptions } from '../server/create-sync-server';
import { TestClient } from './helpers/client';

describe('createSyncServer', () => {
  let dir: string;
  let app: Server;
  let sync: SyncServer | undefined;
  let base: string;

  const start = async (options: SyncServerOptions = {}) => {
    sync = await createSyncServer({ databaseUrl: join(dir, 'sync.db'), logLevel: 'silent', ...options });
    return sync;
  };
  const listen = async () => {
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    base = `127.0.0.1:${(app.address() as AddressInfo).port}`;
  };
  const get = async (path: string) => (await fetch(`http://${base}${path}`)).text();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tabsync-embed-'));
    app = createServer((_request, response) => response.end('app'));
  });
  afterEach(async () => {
    await sync?.close();
    sync = undefined;
    app.closeAllConnections();
    await new Promise((resolve) => app.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  test('by default: sockets at /sync, REST reads under /api, everything else to the app', async () => {
    (await start()).attach(app);
    await listen();
    const client = await TestClient.connect(`ws://${base}/sync`);
    client.send({ type: 'auth' });
    assert.equal((await client.next('auth_success')).namespace, 'default');
    assert.equal(JSON.parse(await get('/api/health')).activeConnections, 1);
    assert.equal(await get('/'), 'app');
    assert.equal(await get('/api'), 'app');
    client.socket.close();
  });

  test('restPrefix false leaves /api to the app', async () => {
    (await start()).attach(app, { restPrefix: false });
    await listen();
    assert.equal(await get('/api/health'), 'app');
  });

  test("the app's own upgrade listener keeps its paths; with none, other paths are refused", async () => {
    (await start()).attach(app, { path: '/realtime' });
    await listen();
    await assert.rejects(TestClient.connect(`ws://${base}/sync`), /upgrade refused: 404/);
    const own = new WebSocketServer({ noServer: true });
    app.on('upgrade', (request, socket, head) => {
      if (request.url === '/app-socket') own.handleUpgrade(request, socket, head, (ws) => ws.send(JSON.stringify({ type: 'pong' })));
    });
    const client = await TestClient.connect(`ws://${base}/app-socket`);
    assert.equal((await client.next()).type, 'pong');
    client.socket.close();
    own.close();
  });

  test('options are checked and applied as the environment is', async () => {
    await assert.rejects(start({ maxMessageBytes: 10 }), /MAX_MESSAGE_BYTES must be an integer >= 1024/);
    (await start({ maxMessageBytes: 4096, authTokens: { 'a,b=c': 'team' } })).attach(app);
    await listen();
    const client = await TestClient.connect(`ws://${base}/sync`);
    client.send({ type: 'auth', token: 'a,b=c' });
    const welcome = await client.next('auth_success');
    assert.deepEqual([welcome.namespace, welcome.maxMessageBytes], ['team', 4096]);
    client.socket.close();
  });

  test('a path that does not start with "/" is refused', async () => {
    const server = await start();
    assert.throws(() => server.attach(app, { path: 'sync' }), /path must start with "\/"/);
    assert.throws(() => server.attach(app, { restPrefix: '/api/' }), /restPrefix must start with "\/" and not end with one/);
  });

  test('close() closes the sync sockets with 1001 and leaves the app serving', async () => {
    const server = await start();
    server.attach(app);
    await listen();
    const client = await TestClient.connect(`ws://${base}/sync`);
    client.send({ type: 'auth' });
    await client.next('auth_success');
    await server.close();
    assert.equal(await client.closeCode(), 1001);
    assert.equal(await get('/'), 'app');
  });
});
