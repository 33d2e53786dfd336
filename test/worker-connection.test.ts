/**
 * The connection as a state machine on a manual clock, against real sockets on loopback: its
 * phases and events, the connect timeout, holds, and a retry the network's return starts early.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { Connection, type ConnectionEvents } from '../worker/sync/connection';
import type { SocketLike } from '../worker/sync/socket';
import { ManualClock } from './helpers/manual-clock';
import { RecordingLogger, waitFor } from './helpers/worker';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function wsServer(onConnection: (socket: WebSocket) => void = () => {}): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  wss.on('connection', onConnection);
  closers.push(() => new Promise<void>((resolve) => {
    for (const client of wss.clients) client.terminate();
    wss.close(() => resolve());
  }));
  const address = wss.address();
  if (!address || typeof address === 'string') throw new Error('expected a TCP address');
  return `ws://127.0.0.1:${address.port}/sync`;
}

function connection(url: string, clock: ManualClock, events: string[]): Connection {
  const logger = new RecordingLogger();
  const made = new Connection({
    websocketUrl: url,
    createSocket: (to) => new WebSocket(to) as unknown as SocketLike,
    reconnectDelay: 1000,
    maxReconnectDelay: 8000,
    heartbeatInterval: 30_000,
    pongTimeout: 10_000,
    connectTimeout: 5000,
    clock,
    log: { warn: (message) => logger.warn(message), error: (message) => logger.warn(message) },
    random: () => 0.5,
  });
  for (const type of ['open', 'frame', 'closed', 'trouble'] as const) {
    made.on(type, (event: ConnectionEvents[typeof type]) => events.push(type === 'frame' ? `frame ${(event as ConnectionEvents['frame']).message.type}` : type));
  }
  closers.push(() => made.close());
  return made;
}

test('idle → connecting → open; a frame is passed on, a ping answered; the server closing means waiting, then a new attempt', async () => {
  const clock = new ManualClock();
  const sockets: WebSocket[] = [];
  const heard: string[] = [];
  const url = await wsServer((socket) => {
    sockets.push(socket);
    socket.on('message', (data) => heard.push(JSON.parse(String(data)).type));
    socket.send(JSON.stringify({ type: 'ping' }));
    socket.send(JSON.stringify({ type: 'sync_complete', repository: 'todos' }));
  });
  const events: string[] = [];
  const c = connection(url, clock, events);
  assert.equal(c.phase, 'idle');
  c.connectNow();
  assert.equal(c.phase, 'connecting');
  await waitFor(() => events.includes('frame sync_complete'), 'the frame');
  assert.equal(c.phase, 'open');
  assert.deepEqual(events, ['open', 'frame sync_complete'], 'the ping is not passed on');
  await waitFor(() => heard.length > 0, 'the pong');
  assert.deepEqual(heard, ['pong']);

  sockets[0]?.close();
  await waitFor(() => c.phase === 'waiting', 'the backoff');
  assert.deepEqual(events, ['open', 'frame sync_complete', 'closed']);
  // random() = 0.5: three quarters of the first step.
  assert.equal(c.retryAt, clock.now() + 750);
  await clock.advance(749);
  assert.equal(c.phase, 'waiting');
  await clock.advance(1);
  assert.equal(c.phase, 'connecting');
  await waitFor(() => c.phase === 'open', 'the second socket');
  assert.equal(c.reconnects, 1);
});

test('an open that never completes is given up after connectTimeout, and retried after the backoff', async () => {
  const clock = new ManualClock();
  // Takes the TCP connection and never answers the WebSocket handshake (a black-holed network).
  const held: Socket[] = [];
  const server: Server = createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => {
    for (const socket of held) socket.destroy();
    server.close(() => resolve());
  }));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('expected a TCP address');
  const events: string[] = [];
  const c = connection(`ws://127.0.0.1:${address.port}/sync`, clock, events);
  c.connectNow();
  await waitFor(() => held.length === 1, 'the TCP connection');
  await clock.advance(4999);
  assert.equal(c.phase, 'connecting');
  await clock.advance(1);
  assert.equal(c.phase, 'waiting');
  assert.deepEqual(events, ['trouble', 'closed']);
  await clock.advance(750);
  await waitFor(() => held.length === 2, 'the second attempt');
});

test('a hold keeps the socket closed; the network coming back skips the backoff', async () => {
  const clock = new ManualClock();
  const url = await wsServer();
  const events: string[] = [];
  const c = connection(url, clock, events);
  c.pause('stopped');
  c.connectNow();
  assert.equal(c.phase, 'idle', 'held: no socket');
  c.release('stopped');
  await waitFor(() => c.phase === 'open', 'the socket once released');
  c.restart();
  assert.equal(c.phase, 'waiting');
  c.retryNow();
  assert.equal(c.phase, 'connecting', 'at once, without waiting out the backoff');
  await waitFor(() => c.phase === 'open', 'the new socket');
  assert.ok(c.block('standby'));
  assert.equal(c.phase, 'idle');
  assert.equal(c.block('standby'), false, 'a hold counts once');
  assert.deepEqual(events, ['open', 'closed', 'open', 'closed']);
});
