/**
 * `tabsync-server`: the sync server for an app's own Node HTTP server. The options mirror the
 * bin's environment in camelCase and pass through the same checks and defaults (config.ts), plus
 * the app's hooks (hooks.ts: authenticate, authorizeWrite, schemas), which the bin has not;
 * `attach` adds the WebSocket endpoint and the REST reads and leaves every other request to the
 * app's own handler.
 *
 *   const sync = await createSyncServer({ databaseUrl: './data/sync.db', authTokens: { t: 'team' } });
 *   sync.attach(httpServer, { path: '/sync', restPrefix: '/api' });
 */
import type { IncomingMessage, RequestListener, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { SequencedEvent } from '../protocol';
import type { StoredRecord } from '../protocol/tab-api';
import { refuseUpgrade, startServer, type RunningServer } from './app';
import { ChangeFeed, type CommittedListener } from './change-feed';
import { loadConfig, type ServerConfig } from './config';
import type { SyncServerHooks } from './hooks';
import type { LogLevel } from './log';
import { createServerWrites } from './server-writes';
import { createWriteChecks } from './write-checks';

export { ServerWriteRefused } from './server-writes';
export { AppendRefused, type LoggedEvent } from './store/event-store';
export type { CommittedEvents, CommittedListener } from './change-feed';

export type { AuthenticatedAs, AuthenticateInput, RecordSchema, SyncServerHooks, WriteRequest, WriteVerdict } from './hooks';

/** The bin's environment in camelCase, and the app's hooks (SyncServerHooks: `authenticate`, `authorizeWrite`, `schemas`). */
export interface SyncServerOptions extends SyncServerHooks {
  /** `DATABASE_URL`: a file path → SQLite (created if absent), `postgres://…` → PostgreSQL. Default `./data/sync.db`. */
  databaseUrl?: string;
  /** `PG_POOL_SIZE`, default 10. */
  pgPoolSize?: number;
  /** `AUTH_TOKENS`: static bearer tokens, token → namespace. */
  authTokens?: Readonly<Record<string, string>>;
  /** `JWT_SECRET`: HS256 bearer JWTs (namespace from `namespace` or `ns`, principal from `sub`). */
  jwtSecret?: string;
  /** `ALLOWED_ORIGINS`: origins allowed to open the WebSocket (`['*']` = any); default same origin. */
  allowedOrigins?: readonly string[];
  /** `MAX_MESSAGE_BYTES`, default 1 MiB. */
  maxMessageBytes?: number;
  /** `MAX_PAGE_BYTES`, default 8 MiB. */
  maxPageBytes?: number;
  /** `RATE_LIMIT`: messages per second per connection, default 500. */
  rateLimit?: number;
  /** `RATE_LIMIT_BURST`, default twice `rateLimit`. */
  rateLimitBurst?: number;
  /** `MAX_CONNECTIONS_PER_PRINCIPAL`, default 200. */
  maxConnectionsPerPrincipal?: number;
  /** `RATE_LIMIT_BYTES`: bytes per second per connection, default 4 MiB/s (burst twice that). */
  rateLimitBytes?: number;
  /** `RATE_LIMIT_PRINCIPAL_BYTES`: bytes per second per principal over all its connections, default 16 MiB/s. */
  rateLimitPrincipalBytes?: number;
  /** `NAMESPACE_QUOTA_BYTES`: storage per namespace, default 1 GiB; 0 = none. */
  namespaceQuotaBytes?: number;
  /** `MAX_CONNECTIONS`: sockets of the whole server, default 5000. */
  maxConnections?: number;
  /** `MAX_SEND_BUFFER_BYTES`: unsent bytes per connection before it is closed, default 16 MiB. */
  maxSendBufferBytes?: number;
  /** `MAX_TOTAL_SEND_BUFFER_BYTES`: unsent bytes of every connection together, default 256 MiB. */
  maxTotalSendBufferBytes?: number;
  /** `AUTH_TIMEOUT_MS`, default 10 s. */
  authTimeoutMs?: number;
  /** `HEARTBEAT_INTERVAL_MS`, default 30 s. */
  heartbeatIntervalMs?: number;
  /** `LOG_LEVEL`, default `info`. */
  logLevel?: LogLevel;
  /** Where log lines go (default stdout). */
  logSink?: (line: string) => void;
}

export interface AttachOptions {
  /** The WebSocket endpoint, default `/sync`. */
  path?: string;
  /** Where the REST reads answer (`<prefix>/health`, `/repositories`, `/events/:repository`), default `/api`; `false`: nowhere. */
  restPrefix?: string | false;
}

export interface SyncServer {
  /** Call after the app has given `httpServer` its own request handler: that handler keeps every other request. */
  attach(httpServer: Server, options?: AttachOptions): void;
  /** Closes every sync socket with 1001, then the database; the app's server stays up. */
  close(): Promise<void>;
  /**
   * Server-side writes (a job, a webhook): inserts or replaces `records` (`{ id, ...fields }`) in
   * one atomic commit, with server-assigned eventIds and timestamps that win the LWW order over
   * what the server holds; every client gets them like any other event. Checked as a client's
   * push is; rejects with ServerWriteRefused or AppendRefused, storing nothing. Resolves with
   * the stored events (eventIds, serverSequences).
   */
  append(namespace: string, repository: string, records: readonly StoredRecord[]): Promise<SequencedEvent[]>;
  /** Deletes the records of `ids` as server-side writes (a tombstone each); as `append`. */
  remove(namespace: string, repository: string, ids: readonly string[]): Promise<SequencedEvent[]>;
  /** A change feed of committed events (see ChangeFeed); returns the unsubscribe function. */
  onCommitted(listener: CommittedListener): () => void;
}

/** The bin's routes: a chosen path or prefix is mapped onto them. */
const BIN_SYNC_PATH = '/sync';
const BIN_REST_PREFIX = '/api';

export async function createSyncServer(options: SyncServerOptions = {}): Promise<SyncServer> {
  const { authenticate, authorizeWrite, schemas } = options;
  const config = configFrom(options);
  const running = await startServer(config, { logSink: options.logSink, listen: false, hooks: { authenticate, authorizeWrite, schemas } });
  // Server writes meet the app's schemas as pushes do (authorizeWrite is for clients).
  const writes = createServerWrites(running.store, config, schemas && createWriteChecks({ schemas }, config.authTimeoutMs, running.log));
  const feed = new ChangeFeed(running.store, running.log);
  return {
    attach(httpServer, { path = BIN_SYNC_PATH, restPrefix = BIN_REST_PREFIX } = {}) {
      checkPath('path', path);
      if (restPrefix !== false) {
        checkPath('restPrefix', restPrefix);
        claimRequests(httpServer, restPrefix, running);
      }
      claimUpgrades(httpServer, path, running);
    },
    close: async () => {
      await running.close();
      feed.close();
    },
    append: (namespace, repository, records) => writes.append(namespace, repository, records),
    remove: (namespace, repository, ids) => writes.remove(namespace, repository, ids),
    onCommitted: (listener) => feed.subscribe(listener),
  };
}

/** The options as the environment the bin reads, so both get the same checks and defaults. */
function configFrom(options: SyncServerOptions): ServerConfig {
  const { authTokens = {}, allowedOrigins, logSink: _logSink, authenticate: _a, authorizeWrite: _w, schemas: _s, ...scalars } = options;
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(scalars)) {
    if (value !== undefined) env[environmentName(name)] = String(value);
  }
  if (allowedOrigins) env.ALLOWED_ORIGINS = allowedOrigins.join(',');
  // Tokens may hold the separators of AUTH_TOKENS, so they skip its parsing.
  return { ...loadConfig(env, []), authTokens: new Map(Object.entries(authTokens)) };
}

/** `maxMessageBytes` → `MAX_MESSAGE_BYTES`. */
function environmentName(option: string): string {
  return option.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase();
}

function checkPath(name: string, path: string): void {
  if (!/^\/[^?#]*[^/?#]$/.test(path)) throw new Error(`${name} must start with "/" and not end with one, got "${path}"`);
}

/** The request's path and query with `prefix` replaced by `replacement`, or undefined when it is not under `prefix`. */
function mapPrefix(url: string | undefined, prefix: string, replacement: string, exact: boolean): string | undefined {
  const target = url ?? '/';
  if (!target.startsWith(prefix)) return undefined;
  const rest = target.slice(prefix.length);
  if (exact ? rest !== '' && !rest.startsWith('?') : !rest.startsWith('/')) return undefined;
  return replacement + rest;
}

/** Requests under `prefix` go to the sync server; the app's own listeners keep every other one. */
function claimRequests(httpServer: Server, prefix: string, running: RunningServer): void {
  const appListeners = httpServer.listeners('request') as RequestListener[];
  httpServer.removeAllListeners('request');
  httpServer.on('request', (request: IncomingMessage, response) => {
    const mapped = mapPrefix(request.url, prefix, BIN_REST_PREFIX, false);
    if (mapped === undefined) {
      for (const listener of appListeners) listener.call(httpServer, request, response);
      return;
    }
    request.url = mapped;
    running.handleRequest(request, response);
  });
}

/** Upgrades at `path` open sync sockets; others are left to the app's upgrade listeners, or refused when it has none. */
function claimUpgrades(httpServer: Server, path: string, running: RunningServer): void {
  httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const mapped = mapPrefix(request.url, path, BIN_SYNC_PATH, true);
    if (mapped !== undefined) {
      request.url = mapped;
      running.handleUpgrade(request, socket, head);
    } else if (httpServer.listenerCount('upgrade') === 1) {
      refuseUpgrade(socket, 404, 'Not Found');
    }
  });
}
