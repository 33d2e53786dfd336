/**
 * Frames the server writes to the socket itself (wire-frame.ts, through Outbound) arrive at a ws
 * client as the text that was sent, at every length boundary of the header (7, 16 and 64 bits),
 * in order with frames ws wrote, and a shared frame is built once for all its sockets.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { Outbound, SendPool } from '../server/outbound';
import { sharedTextFrame, textFrame, textFrameOf } from '../server/wire-frame';

describe('wire frames', () => {
  let wss: WebSocketServer;
  let server: WebSocket;
  let client: WebSocket;
  const received: string[] = [];

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
    client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
    client.on('message', (data, isBinary) => received.push(isBinary ? 'binary!' : String(data)));
    server = await accepted;
  });

  after(async () => {
    client.terminate();
    await new Promise((resolve) => wss.close(resolve));
  });

  /** What the client has read once `count` messages arrived. */
  async function read(count: number): Promise<string[]> {
    while (received.length < count) await new Promise((resolve) => client.once('message', resolve));
    return received.splice(0, count);
  }

  it('arrives as sent at every header length, a string or a Buffer, mixed with what ws frames', async () => {
    const outbound = new Outbound(server, new SendPool(64 * 1024 * 1024), 64 * 1024 * 1024, { overflow: assert.fail, drained: () => {} });
    const texts = [0, 1, 125, 126, 127, 65535, 65536, 70000].map((length, i) => 'é✓x'.repeat(length).slice(0, length) + String(i));
    const sent: string[] = [];
    for (const [i, text] of texts.entries()) {
      assert.ok(outbound.send(i % 2 === 0 ? text : Buffer.from(text)));
      sent.push(text);
      // ws's own framing between them: the order on the socket is the order of the calls.
      server.send(`ws ${i}`);
      sent.push(`ws ${i}`);
    }
    assert.deepEqual(await read(sent.length), sent);
  });

  it('frames a shared payload once, whatever the number of sockets it goes to', () => {
    const payload = Buffer.from('{"type":"events"}');
    const frame = sharedTextFrame(payload);
    assert.equal(sharedTextFrame(payload), frame, 'the same Buffer for the next socket');
    assert.deepEqual(frame, textFrame(payload));
    assert.deepEqual(textFrameOf('{"type":"events"}', payload.byteLength), frame);
  });
});
