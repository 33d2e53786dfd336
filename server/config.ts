/**
 * Server configuration from the environment. Every variable can also be given as a flag:
 * `--port 9000`, `--database-url=postgres://…` (the variable's name in kebab case).
 */
import { DEFAULT_MAX_MESSAGE_BYTES, MAX_PAGE_BYTES, MAX_SERVER_FRAME_BYTES } from '../protocol';
import { isLogLevel, type LogLevel } from './log';

export interface ServerConfig {
  port: number;
  host: string;
  /** A file path (SQLite) or a `postgres://` / `postgresql://` URL. */
  databaseUrl: string;
  pgPoolSize: number;
  /** Static tokens: token → namespace. */
  authTokens: ReadonlyMap<string, string>;
  /** HS256 secret for bearer JWTs. */
  jwtSecret?: string | undefined;
  /** Origins allowed to open a WebSocket; `['*']` = any; undefined = same origin (or none) only. */
  allowedOrigins?: readonly string[] | undefined;
  maxMessageBytes: number;
  /** Most bytes of one catch-up page (a page of large records is cut short, never refused by the client). */
  maxPageBytes: number;
  /** Messages per second per connection (token bucket refill rate) and the bucket size. */
  rateLimit: { perSecond: number; burst: number };
  maxConnectionsPerPrincipal: number;
  // --- Budgets and exact storage (issue 14): bytes in, bytes kept. ---
  /** Bytes per second one connection may send (every frame counts its size), and its burst. */
  connectionByteRate: { perSecond: number; burst: number };
  /** Bytes per second one principal may send over all its connections together, and its burst. */
  principalByteRate: { perSecond: number; burst: number };
  /** Most bytes a namespace may store (event-store.ts storedBytes); undefined = no quota. */
  namespaceQuotaBytes: number | undefined;
  // --- end of budgets ---
  authTimeoutMs: number;
  heartbeatIntervalMs: number;
  publicDir: string;
  logLevel: LogLevel;
  /** Most WebSocket connections the process holds (authenticated or not); more are refused with 503. */
  maxConnections: number;
  /** Most bytes one connection may have sent and its peer not read; past it the connection is closed. */
  maxSendBufferBytes: number;
  /** Most such bytes of all connections together; past it lagging connections are closed, catch-ups wait. */
  maxTotalSendBufferBytes: number;
  /** Serve `.map` files from publicDir (development only: they expose the sources). */
  serveSourceMaps: boolean;
}

type Source = Record<string, string | undefined>;

export function loadConfig(env: Source = process.env, argv: readonly string[] = process.argv.slice(2)): ServerConfig {
  const source: Source = { ...env, ...parseFlags(argv) };
  const text = (name: string) => {
    const value = source[name]?.trim();
    return value ? value : undefined;
  };
  const integer = (name: string, fallback: number, min: number) => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
    return value;
  };

  const logLevel = text('LOG_LEVEL') ?? 'info';
  if (!isLogLevel(logLevel)) throw new Error(`LOG_LEVEL must be debug, info, warn, error or silent, got "${logLevel}"`);
  const perSecond = integer('RATE_LIMIT', 500, 1);
  const origins = text('ALLOWED_ORIGINS');
  const maxMessageBytes = integer('MAX_MESSAGE_BYTES', DEFAULT_MAX_MESSAGE_BYTES, 1024);

  return {
    port: integer('PORT', 8080, 0),
    host: text('HOST') ?? 'localhost',
    databaseUrl: text('DATABASE_URL') ?? './data/sync.db',
    pgPoolSize: integer('PG_POOL_SIZE', 10, 1),
    authTokens: parseAuthTokens(text('AUTH_TOKENS')),
    jwtSecret: text('JWT_SECRET'),
    allowedOrigins: origins?.split(',').map((o) => o.trim()).filter(Boolean),
    maxMessageBytes,
    maxPageBytes: Math.min(integer('MAX_PAGE_BYTES', MAX_PAGE_BYTES, 1024), MAX_SERVER_FRAME_BYTES),
    rateLimit: { perSecond, burst: integer('RATE_LIMIT_BURST', perSecond * 2, 1) },
    maxConnectionsPerPrincipal: integer('MAX_CONNECTIONS_PER_PRINCIPAL', 200, 1),
    ...budgets(integer, maxMessageBytes),
    authTimeoutMs: integer('AUTH_TIMEOUT_MS', 10_000, 1),
    heartbeatIntervalMs: integer('HEARTBEAT_INTERVAL_MS', 30_000, 1),
    publicDir: text('PUBLIC_DIR') ?? 'dist/public',
    logLevel,
    maxConnections: integer('MAX_CONNECTIONS', 5000, 1),
    maxSendBufferBytes: integer('MAX_SEND_BUFFER_BYTES', 16 * 1024 * 1024, 64 * 1024),
    maxTotalSendBufferBytes: integer('MAX_TOTAL_SEND_BUFFER_BYTES', 256 * 1024 * 1024, 1024 * 1024),
    serveSourceMaps: text('SERVE_SOURCE_MAPS') === 'true',
  };
}

export const DEFAULT_CONNECTION_BYTES_PER_SECOND = 4 * 1024 * 1024;
export const DEFAULT_PRINCIPAL_BYTES_PER_SECOND = 16 * 1024 * 1024;
export const DEFAULT_NAMESPACE_QUOTA_BYTES = 1024 * 1024 * 1024;

type IntegerOf = (name: string, fallback: number, min: number) => number;

/** The byte budgets. A burst is twice the rate, and never less than one frame of the largest
 *  size the server takes (a smaller one would refuse that frame forever). */
function budgets(integer: IntegerOf, maxMessageBytes: number): Pick<ServerConfig, 'connectionByteRate' | 'principalByteRate' | 'namespaceQuotaBytes'> {
  const rate = (name: string, fallback: number) => {
    const perSecond = integer(name, fallback, 1024);
    return { perSecond, burst: Math.max(integer(`${name}_BURST`, perSecond * 2, 1024), maxMessageBytes) };
  };
  const quota = integer('NAMESPACE_QUOTA_BYTES', DEFAULT_NAMESPACE_QUOTA_BYTES, 0);
  return {
    connectionByteRate: rate('RATE_LIMIT_BYTES', DEFAULT_CONNECTION_BYTES_PER_SECOND),
    principalByteRate: rate('RATE_LIMIT_PRINCIPAL_BYTES', DEFAULT_PRINCIPAL_BYTES_PER_SECOND),
    // 0 turns the quota off.
    namespaceQuotaBytes: quota === 0 ? undefined : quota,
  };
}

/** `token=namespace,token2=namespace2`. */
function parseAuthTokens(value: string | undefined): Map<string, string> {
  const tokens = new Map<string, string>();
  if (!value) return tokens;
  for (const entry of value.split(',')) {
    const trimmed = entry.trim();
    if (!trimmed) continue;
    const separator = trimmed.lastIndexOf('=');
    const token = trimmed.slice(0, separator).trim();
    const namespace = trimmed.slice(separator + 1).trim();
    // The message names the position, never the token itself: configs end up in logs.
    if (separator <= 0 || !namespace) throw new Error(`AUTH_TOKENS entry ${tokens.size + 1} must be token=namespace`);
    tokens.set(token, namespace);
  }
  return tokens;
}

/** `--port 9000` / `--port=9000` → `{ PORT: '9000' }`. */
function parseFlags(argv: readonly string[]): Source {
  const flags: Source = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg?.startsWith('--')) continue;
    const [name = '', inline] = arg.slice(2).split(/=(.*)/s, 2);
    const key = name.replace(/-/g, '_').toUpperCase();
    if (inline !== undefined) flags[key] = inline;
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) flags[key] = argv[++i];
    else flags[key] = 'true';
  }
  return flags;
}
