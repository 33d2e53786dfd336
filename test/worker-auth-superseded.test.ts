/**
 * New credentials that cross the server's refusal of the old ones on the wire. An app that sets
 * its token right after the page loads (the demo, any app that fetches its token) does exactly
 * this: the worker has already sent `auth` without one. The server answers every `auth` in order,
 * so the refusal belongs to the first and says nothing of the second.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type WebSocket from 'ws';
import type { ClientMessage } from '../protocol/messages';
import { type FakeServer, RecordingTab, sendTo, startFakeServer, TestCores, waitFor } from './helpers/worker';

type Auth = Extract<ClientMessage, { type: 'auth' }>;

const cores = new TestCores();
const fakes: FakeServer[] = [];

afterEach(async () => {
  await cores.closeAll();
  for (const f of fakes.splice(0)) await f.close();
});

/** A server that holds every `auth` until the test answers it, and has nothing to catch up on. */
async function holdingServer() {
  const auths: { socket: WebSocket; message: Auth }[] = [];
  const server = await startFakeServer((socket, message) => {
    if (message.type === 'auth') auths.push({ socket, message });
    if (message.type === 'request_events') sendTo(socket, { type: 'sync_complete', repository: message.repository });
  });
  fakes.push(server);
  const answer = (index: number, token: string | undefined) => {
    const { socket, message } = auths[index]!;
    if (message.token === token) sendTo(socket, { type: 'auth_success', principal: 'p', namespace: 'n', connectionId: 'c' });
    else sendTo(socket, { type: 'error', code: 'auth_failed', message: 'authentication failed: no token' });
  };
  return { server, auths, answer };
}

test('a refusal of credentials already replaced on the same socket leaves the newer ones to be answered', async () => {
  const { server, auths, answer } = await holdingServer();
  const c = await cores.open(server.url);
  const tab = new RecordingTab();
  await c.tab('tab').attach(tab);
  await c.api.start();
  await waitFor(() => auths.length === 1, 'the first auth, without a token');
  await c.api.updateCredentials({ authToken: 'good-token' });
  await waitFor(() => auths.length === 2, 'the auth with the new token');
  assert.equal(auths[1]!.message.token, 'good-token');

  answer(0, 'good-token'); // refused: it carried no token
  answer(1, 'good-token');
  await waitFor(async () => (await c.api.status()).authenticated, 'authenticated with the new token');
  await c.api.upsert('todos', { id: 'after', title: 'written after the token came', done: false });
  const status = await c.api.status();
  assert.equal(status.unauthorized, false);
  assert.equal(status.connected, true);
  assert.equal(tab.credentialRequests, 0, 'the tabs are not asked to replace credentials nobody refused');
  assert.equal(server.connections.length, 1, 'one socket throughout');
});

test('a refusal of the credentials in use still asks the tabs, and waits for updateCredentials', async () => {
  const { server, auths, answer } = await holdingServer();
  const c = await cores.open(server.url);
  const tab = new RecordingTab();
  await c.tab('tab').attach(tab, { authToken: 'wrong-token' });
  await c.api.start();
  await waitFor(() => auths.length === 1, 'the first auth');
  answer(0, 'good-token');
  await waitFor(async () => (await c.api.status()).unauthorized, 'unauthorized');
  assert.equal(tab.credentialRequests, 1);

  await c.api.updateCredentials({ authToken: 'good-token' });
  await waitFor(() => auths.length === 2, 'the auth with the new token');
  answer(1, 'good-token');
  await waitFor(async () => (await c.api.status()).authenticated, 'authenticated with the new token');
  assert.equal((await c.api.status()).unauthorized, false);
});
