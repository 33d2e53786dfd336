/**
 * A WebSocket relay on loopback between the worker (its `ws` knob) and the real server, which
 * can hold a catch-up after its first page: from then on the server's frames wait in the relay
 * until `release`. "A catch-up in progress" becomes a state a test sets up, not one it races for.
 */
import { WebSocket, WebSocketServer, type RawData } from 'ws';

export interface CatchUpHold {
  /** The relay's sync URL, for the worker's `ws` knob. */
  readonly url: string;
  /** Frames of the server held back so far. */
  held(): number;
  /** Sends what was held (to the sockets still open) and relays freely from then on. */
  release(): void;
  close(): Promise<void>;
}

export async function holdCatchUpAfterFirstPage(upstreamUrl: string): Promise<CatchUpHold> {
  const relay = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => relay.once('listening', resolve));
  let holding = true;
  let pagePassed = false;
  const queue: { to: WebSocket; frame: Frame }[] = [];
  const sockets = new Set<WebSocket>();

  relay.on('connection', (client) => {
    const upstream = new WebSocket(upstreamUrl);
    sockets.add(client).add(upstream);
    const early: Frame[] = [];
    client.on('message', (data, binary) => (upstream.readyState === WebSocket.OPEN ? send(upstream, { data, binary }) : early.push({ data, binary })));
    upstream.on('open', () => early.splice(0).forEach((frame) => send(upstream, frame)));
    upstream.on('message', (data, binary) => {
      if (holding && pagePassed) return void queue.push({ to: client, frame: { data, binary } });
      pagePassed ||= isEventsPage(data);
      send(client, { data, binary });
    });
    const closeBoth = () => {
      for (const socket of [client, upstream]) if (socket.readyState !== WebSocket.CLOSED) socket.terminate();
    };
    for (const socket of [client, upstream]) {
      socket.on('close', closeBoth);
      socket.on('error', closeBoth);
    }
  });

  const address = relay.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `ws://127.0.0.1:${port}/sync`,
    held: () => queue.length,
    release() {
      holding = false;
      for (const { to, frame } of queue.splice(0)) if (to.readyState === WebSocket.OPEN) send(to, frame);
    },
    async close() {
      for (const socket of sockets) socket.terminate();
      await new Promise((resolve) => relay.close(resolve));
    },
  };
}

interface Frame {
  data: RawData;
  binary: boolean;
}

/** Text stays text: the worker reads string frames only. */
function send(to: WebSocket, { data, binary }: Frame): void {
  to.send(data, { binary });
}

/** A page of a catch-up with events in it (the server's `events` frame). */
function isEventsPage(data: RawData): boolean {
  try {
    const message = JSON.parse(data.toString()) as { type?: unknown; events?: unknown };
    return message.type === 'events' && Array.isArray(message.events) && message.events.length > 0;
  } catch {
    return false;
  }
}
