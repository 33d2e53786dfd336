/**
 * A TCP proxy on loopback that misbehaves on command: it cuts connections, delays bytes, or goes
 * silent while keeping the TCP connection open (a half-open socket). Tests and the chaos run put
 * it between clients and the real server.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
}

export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Destroys every open connection at once (a network cut, mid-frame if bytes are in flight). */
  cutAll(): void;
  /** Stops forwarding in both directions without closing anything: both ends see a live socket. */
  blackhole(): void;
  /** Forwards again; bytes held while black-holed are dropped, like a lost network. */
  restore(): void;
  /** Delays every chunk by `ms` in both directions (0 = none). */
  setDelay(ms: number): void;
  /** Points new connections at another upstream port (e.g. a restarted server). */
  setUpstream(port: number): void;
  openConnections(): number;
  close(): Promise<void>;
}

export async function startTcpProxy(upstreamPort: number, host = '127.0.0.1'): Promise<TcpProxy> {
  let upstream = upstreamPort;
  let delayMs = 0;
  let silent = false;
  let accepted = 0;
  const pairs = new Set<Pair>();

  const forward = (from: Socket, to: Socket) => {
    from.on('data', (chunk) => {
      if (silent) return;
      if (delayMs > 0) setTimeout(() => { if (!to.destroyed) to.write(chunk); }, delayMs);
      else if (!to.destroyed) to.write(chunk);
    });
  };

  const server: Server = createServer((client) => {
    accepted++;
    const pair: Pair = { client, upstream: connect(upstream, host) };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      pair.client.destroy();
      pair.upstream.destroy();
    };
    for (const socket of [pair.client, pair.upstream]) {
      socket.setNoDelay(true);
      socket.on('error', end);
      socket.on('close', end);
    }
    forward(pair.client, pair.upstream);
    forward(pair.upstream, pair.client);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const cutAll = () => {
    for (const pair of [...pairs]) { pair.client.destroy(); pair.upstream.destroy(); }
    pairs.clear();
  };
  return {
    port,
    url: `http://${host}:${port}`,
    get accepted() { return accepted; },
    cutAll,
    blackhole() { silent = true; },
    restore() { silent = false; },
    setDelay(ms) { delayMs = ms; },
    setUpstream(port) { upstream = port; },
    openConnections: () => pairs.size,
    close() {
      cutAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
