/**
 * The server on one port: HTTP (health, REST reads, static demo) and the WebSocket at `/sync`.
 * `startServer` is what main.ts runs and what tests start in-process.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { createAuthenticator, createHookAuthenticator, type Authenticator } from './auth';
import { Hub } from './broadcast';
import type { ServerConfig } from './config';
import { CloseCode, Connection, type ConnectionContext } from './connection';
import { checkHooks, type SyncServerHooks } from './hooks';
import { setSecurityHeaders } from './http-headers';
import { createRequestHandler } from './http-routes';
import { createLogger, type Logger } from './log';
import { SendPool } from './outbound';
import { PrincipalLimiter } from './principal-limiter';
import { refuseOrigin } from './refuse-origin';
import type { EventStore } from './store/event-store';
import { openStore } from './store/open';
import { createWriteChecks, type WriteChecks } from './write-checks';

export interface RunningServer {
  port: number;
  /** `http://host:port` */
  url: string;
  /** `ws://host:port/sync` */
  syncUrl: string;
  store: EventStore;
  /** The server's logger (createSyncServer's change feed reports its listeners' failures to it). */
  log: Logger;
  /** Stops accepting, closes every socket with 1001, then closes the store. */
  close(): Promise<void>;
  /** What the port answers, for a server that does not listen itself (`listen: false`). */
  handleRequest(request: IncomingMessage, response: ServerResponse): void;
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
}

export interface StartOptions {
  /** Where log lines go (default stdout). */
  logSink?: ((line: string) => void) | undefined;
  /** `false`: open no port; an app's own HTTP server hands requests in (`createSyncServer`). */
  listen?: boolean;
  /** The app's hooks (`createSyncServer`'s options); the bin has none. */
  hooks?: SyncServerHooks;
}

/** ws cuts frames above this itself (close 1009); below it we answer `too_large` first. */
export const MAX_PAYLOAD_FACTOR = 4;
/** How long a shutdown waits for clients to answer the close handshake. */
const CLOSE_GRACE_MS = 3000;

export async function startServer(config: ServerConfig, options: StartOptions = {}): Promise<RunningServer> {
  const log = createLogger(config.logLevel, options.logSink);
  const { authenticator, writes } = createGuards(config, options.hooks ?? {}, log);
  const store = await openStore(config.databaseUrl, { poolSize: config.pgPoolSize, log });
  const hub = new Hub(store, log, config.maxPageBytes);
  const sockets = new Map<WebSocket, Connection>();
  const principals = new PrincipalLimiter(config.maxConnectionsPerPrincipal, config.principalByteRate);
  const sendPool = new SendPool(config.maxTotalSendBufferBytes);
  const context: ConnectionContext = { store, hub, authenticator, log, config, principals, sendPool, writes };

  const handleRequest = createRequestHandler({
    store,
    authenticator,
    log,
    publicDir: config.publicDir,
    maxPageBytes: config.maxPageBytes,
    serveSourceMaps: config.serveSourceMaps,
    startedAt: Date.now(),
    activeConnections: () => sockets.size,
    sendBufferBytes: () => sendPool.bytes,
  });
  const hostRefused = createHostCheck(authenticator.mode === 'dev' && isLoopback(config.host), log);
  const handleHttp = (request: IncomingMessage, response: ServerResponse) => {
    setSecurityHeaders(response);
    if (!hostRefused(request)) return handleRequest(request, response);
    response.writeHead(403, { 'content-type': 'text/plain' }).end('this development server answers only to localhost');
  };
  const server = createServer(handleHttp);
  // One message per turn of the event loop: a socket that sends thousands of frames in one TCP
  // read cannot keep health checks and other clients waiting until it has all been handled.
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxMessageBytes * MAX_PAYLOAD_FACTOR, allowSynchronousEvents: false });
  let closing: Promise<void> | undefined;

  const handleUpgrade = createUpgradeHandler({ wss, sockets, context, config, hostRefused, closing: () => closing !== undefined });
  server.on('upgrade', handleUpgrade);

  const heartbeat = setInterval(() => {
    for (const connection of sockets.values()) connection.heartbeat();
  }, config.heartbeatIntervalMs);

  if (options.listen !== false) await listen(server, config.port, config.host);
  server.on('error', (error) => log.error('http server error', { error }));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const hostPort = `${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  if (options.listen !== false) log.info('listening', { port, host: config.host, url: `http://${hostPort}`, database: store.kind, auth: authenticator.mode });

  async function shutDown(): Promise<void> {
    clearInterval(heartbeat);
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    const connections = [...sockets.values()];
    const socketsClosed = [...sockets.keys()].map((ws) => new Promise<void>((resolve) => ws.once('close', () => resolve())));
    for (const connection of connections) connection.close(CloseCode.goingAway, 'server shutting down');
    const grace = setTimeout(() => {
      for (const ws of sockets.keys()) ws.terminate();
    }, CLOSE_GRACE_MS);
    await Promise.all(socketsClosed);
    clearTimeout(grace);
    // A closed connection processes nothing new, but an append already started must finish first.
    await Promise.all(connections.map((connection) => connection.settled()));
    server.closeAllConnections();
    await serverClosed;
    wss.close();
    hub.close();
    await store.close();
    log.info('shut down');
  }

  return {
    port,
    url: `http://${hostPort}`,
    syncUrl: `ws://${hostPort}/sync`,
    store,
    log,
    close: () => (closing ??= shutDown()),
    handleRequest: handleHttp,
    handleUpgrade,
  };
}

/** Who may connect and what may be written: the app's hooks where it gave them, else AUTH_TOKENS and JWT_SECRET (or dev mode). */
function createGuards(config: ServerConfig, hooks: SyncServerHooks, log: Logger): { authenticator: Authenticator; writes: WriteChecks } {
  checkHooks(hooks);
  const writes = createWriteChecks(hooks, config.authTimeoutMs, log);
  if (hooks.authenticate) {
    if (config.authTokens.size > 0 || config.jwtSecret) throw new Error('authenticate replaces authTokens and jwtSecret: give either the hook or those');
    return { authenticator: createHookAuthenticator(hooks.authenticate, config.authTimeoutMs, log), writes };
  }
  const authenticator = createAuthenticator(config);
  if (authenticator.mode === 'dev') {
    log.warn('dev mode: neither AUTH_TOKENS nor JWT_SECRET is set, so every connection is accepted as principal "dev" in namespace "default"; do not expose this server');
  }
  return { authenticator, writes };
}

/** Whether a request is refused for its Host: only while `onlyLoopbackHosts` (see namesLoopback). */
function createHostCheck(onlyLoopbackHosts: boolean, log: Logger): (request: IncomingMessage) => boolean {
  return (request) => {
    if (!onlyLoopbackHosts || namesLoopback(request.headers.host)) return false;
    log.warn('host refused', { host: request.headers.host, remoteAddress: request.socket.remoteAddress });
    return true;
  };
}

interface UpgradeParts {
  wss: WebSocketServer;
  sockets: Map<WebSocket, Connection>;
  context: ConnectionContext;
  config: ServerConfig;
  hostRefused: (request: IncomingMessage) => boolean;
  closing: () => boolean;
}

/** WebSocket upgrades at /sync: refused (path, shutdown, cap, host, origin) or made a Connection. */
function createUpgradeHandler({ wss, sockets, context, config, hostRefused, closing }: UpgradeParts) {
  const { log } = context;
  return (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path !== '/sync') return refuseUpgrade(socket, 404, 'Not Found');
    if (closing()) return refuseUpgrade(socket, 503, 'Service Unavailable');
    if (sockets.size >= config.maxConnections) {
      log.warn('connection cap reached', { maxConnections: config.maxConnections, remoteAddress: request.socket.remoteAddress });
      return refuseUpgrade(socket, 503, 'Service Unavailable');
    }
    if (hostRefused(request)) return refuseUpgrade(socket, 403, 'Forbidden');
    if (!originAllowed(request, config.allowedOrigins)) {
      log.warn('origin refused', { origin: request.headers.origin, remoteAddress: request.socket.remoteAddress });
      return wss.handleUpgrade(request, socket, head, (ws) => refuseOrigin(ws, request.headers.origin));
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      sockets.set(ws, new Connection(ws, context, request));
      ws.on('close', () => sockets.delete(ws));
    });
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * A development server (every connection accepted) on a loopback address answers only requests
 * that name a loopback host. Otherwise a page of another site whose name a DNS rebinding pointed
 * at this machine would be same-origin with it (its Origin names its own Host) and could read and
 * write the data. A request without Host (not a browser) is let through.
 */
function namesLoopback(host: string | undefined): boolean {
  if (host === undefined) return true;
  try {
    return isLoopback(new URL(`http://${host}`).hostname);
  } catch {
    return false;
  }
}

function isLoopback(hostname: string): boolean {
  const name = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return name === 'localhost' || name.endsWith('.localhost') || name === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/**
 * Browsers always send Origin, so checking it stops other sites' pages from using a visitor's
 * browser; clients without one (not browsers) are allowed, as they could send any Origin anyway.
 * Unset list: same origin only.
 */
function originAllowed(request: IncomingMessage, allowed: readonly string[] | undefined): boolean {
  const origin = request.headers.origin;
  if (origin === undefined || allowed?.includes('*')) return true;
  if (allowed) return allowed.includes(origin);
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

export function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  socket.on('error', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
