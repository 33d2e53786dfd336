/** A page of an origin the server does not allow: the worker hears why, and waits long before trying again. */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import WebSocket from 'ws';
import type { SocketLike } from '../worker/sync/socket';
import { TestClient } from './helpers/client';
import { TestServers } from './helpers/server';
import { RecordingTab, TestCores, waitFor } from './helpers/worker';

const servers = new TestServers();
const cores = new TestCores();
afterEach(async () => {
  await cores.closeAll();
  await servers.stopAll();
});

const PAGE_ORIGIN = 'http://localhost:5173';
const MAX_RECONNECT_DELAY = 60_000;

test('a refused origin gets one origin_refused error naming ALLOWED_ORIGINS, then a 1008 close, and never becomes a connection', async () => {
  const s = await servers.start({ allowedOrigins: ['http://app.example'] });
  const refused = await TestClient.connect(s.syncUrl, { origin: PAGE_ORIGIN });
  // Sent before the refusal is read: it is never processed (no pong, no auth_success).
  refused.send({ type: 'auth' });
  refused.send({ type: 'ping' });
  assert.equal(await refused.closeCode(), 1008);
  const [error, ...more] = refused.inbox;
  assert.deepEqual(more, [], 'one frame, the refusal');
  assert.equal(error?.type === 'error' && error.code, 'origin_refused');
  assert.match(error?.type === 'error' ? error.message : '', /ALLOWED_ORIGINS/);
  assert.ok(error?.type === 'error' && error.message.includes(PAGE_ORIGIN), 'it names the page\'s origin');
  const health = (await (await fetch(`${s.url}/api/health`)).json()) as { activeConnections: number };
  assert.equal(health.activeConnections, 0);
});

test('the worker core reports lastError origin_refused and schedules its next attempt at the longest backoff', async () => {
  const s = await servers.start({ allowedOrigins: ['http://app.example'] });
  let sockets = 0;
  // The Origin header a browser page of another origin sends.
  const createSocket = (url: string): SocketLike => (sockets++, new WebSocket(url, { origin: PAGE_ORIGIN }));
  const c = await cores.open(s.syncUrl, { createSocket, reconnectDelay: 50, maxReconnectDelay: MAX_RECONNECT_DELAY });
  await c.tab('tab').attach(new RecordingTab());
  const refusedAt = Date.now();
  await c.api.start();
  const { connection } = await waitFor(async () => {
    const diagnostics = await c.api.diagnostics();
    return diagnostics.connection.reconnectAt !== undefined && diagnostics;
  }, 'the worker to schedule its next attempt');
  assert.equal(connection.lastError?.code, 'origin_refused');
  assert.match(connection.lastError?.message ?? '', /ALLOWED_ORIGINS/);
  // A first failure would wait about reconnectDelay (50 ms); a refused origin waits half the cap or more.
  const wait = Date.parse(connection.reconnectAt ?? '') - refusedAt;
  assert.ok(wait >= MAX_RECONNECT_DELAY / 2, `next attempt in ${wait} ms`);
  assert.equal(sockets, 1);
  assert.equal((await c.api.status()).connected, false);
});
