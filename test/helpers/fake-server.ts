/** A scriptable sync server on loopback, for the worker core's Node tests and for browser tests
 *  that need a server misbehaving in a way the real one never does (e.g. never acknowledging). */
import WebSocket, { WebSocketServer } from 'ws';
import type { ClientMessage, ServerMessage } from '../../protocol/messages';

/** A scriptable sync server on loopback: each client message goes to `onMessage`. */
export interface FakeServer {
  url: string;
  /** Sockets accepted so far, in order. */
  connections: WebSocket[];
  close(): Promise<void>;
}

export async function startFakeServer(onMessage: (socket: WebSocket, message: ClientMessage) => void): Promise<FakeServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const connections: WebSocket[] = [];
  wss.on('connection', (socket) => {
    connections.push(socket);
    socket.on('message', (data) => onMessage(socket, JSON.parse(String(data)) as ClientMessage));
  });
  const address = wss.address();
  if (!address || typeof address === 'string') throw new Error('expected a TCP address');
  return {
    url: `ws://127.0.0.1:${address.port}/sync`,
    connections,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const socket of wss.clients) socket.terminate();
        wss.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

export function sendTo(socket: WebSocket, message: ServerMessage | string): void {
  socket.send(typeof message === 'string' ? message : JSON.stringify(message));
}
