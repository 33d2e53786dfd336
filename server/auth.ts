/**
 * Who a token belongs to: static tokens (AUTH_TOKENS), HS256 JWTs (JWT_SECRET), or, with
 * neither configured, an explicit dev mode where everyone is `dev` in namespace `default`.
 * An app's `authenticate` hook replaces all three.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { errors as joseErrors, jwtVerify } from 'jose';
import { identifierProblem } from '../protocol';
import type { ServerConfig } from './config';
import { callHook, type AuthenticateInput, type SyncServerHooks } from './hooks';
import type { Logger } from './log';

export interface Identity {
  principal: string;
  namespace: string;
  /** Epoch milliseconds after which the identity is no longer valid (a JWT's `exp`). */
  expiresAt?: number;
}

export type AuthResult = { ok: true; identity: Identity } | { ok: false; reason: string };

export interface Authenticator {
  /** `dev` when no credentials are configured: every token (or none) is accepted. */
  readonly mode: 'dev' | 'tokens' | 'jwt' | 'tokens+jwt' | 'hook';
  /** Never rejects: a failure is `{ ok: false }` with its reason. */
  authenticate(credentials: AuthenticateInput): Promise<AuthResult>;
}

const DEV_IDENTITY: Identity = { principal: 'dev', namespace: 'default' };

export function createAuthenticator(config: Pick<ServerConfig, 'authTokens' | 'jwtSecret'>): Authenticator {
  const { authTokens } = config;
  for (const namespace of authTokens.values()) {
    const problem = identifierProblem(namespace);
    // The message names the problem, never the token: configs end up in logs.
    if (problem) throw new Error(`AUTH_TOKENS: a namespace ${problem}`);
  }
  const jwtKey = config.jwtSecret ? new TextEncoder().encode(config.jwtSecret) : undefined;
  const mode = authTokens.size > 0 && jwtKey ? 'tokens+jwt' : authTokens.size > 0 ? 'tokens' : jwtKey ? 'jwt' : 'dev';

  return {
    mode,
    async authenticate({ token }) {
      if (mode === 'dev') return { ok: true, identity: DEV_IDENTITY };
      if (!token) return { ok: false, reason: 'no token' };
      const namespace = authTokens.get(token);
      if (namespace !== undefined) return { ok: true, identity: { principal: staticPrincipal(token), namespace } };
      if (jwtKey) return verifyJwt(token, jwtKey);
      return { ok: false, reason: 'invalid token' };
    },
  };
}

async function verifyJwt(token: string, key: Uint8Array): Promise<AuthResult> {
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'] });
    const namespace = payload['namespace'] ?? payload['ns'];
    if (namespace === undefined || namespace === '') return { ok: false, reason: 'token has no namespace claim' };
    if (payload.sub === undefined || payload.sub === '') return { ok: false, reason: 'token has no sub claim' };
    // Claims are any JSON: a number or an object must not become a principal or a namespace.
    const problem = fieldProblem("token's namespace claim", namespace) ?? fieldProblem("token's sub claim", payload.sub);
    if (problem !== undefined || typeof namespace !== 'string' || typeof payload.sub !== 'string') return { ok: false, reason: problem ?? 'invalid claims' };
    const identity: Identity = { principal: payload.sub, namespace };
    if (payload.exp !== undefined) identity.expiresAt = payload.exp * 1000;
    return { ok: true, identity };
  } catch (error) {
    return { ok: false, reason: error instanceof joseErrors.JWTExpired ? 'token expired' : 'invalid token' };
  }
}

/**
 * The app's `authenticate` as the Authenticator: bounded by `timeoutMs`, and its answer checked as
 * JWT claims are. A hook that throws, hangs or answers garbage fails the one authentication.
 */
export function createHookAuthenticator(hook: NonNullable<SyncServerHooks['authenticate']>, timeoutMs: number, log: Logger): Authenticator {
  return {
    mode: 'hook',
    async authenticate(credentials) {
      let answer: unknown;
      let result: AuthResult;
      try {
        answer = await callHook('authenticate', timeoutMs, () => hook(credentials));
        // Inside the try: reading the answer runs the app's code too (a getter, a proxy).
        result = answer === null ? { ok: false, reason: 'credentials refused' } : hookIdentity(answer);
      } catch (error) {
        // The app's error may name its internals: the log keeps it, the client learns only that it failed.
        log.warn('authenticate hook failed', { error });
        return { ok: false, reason: 'the server could not check these credentials (its authenticate hook failed)' };
      }
      if (!result.ok && answer !== null) log.warn('authenticate hook answered an invalid identity', { reason: result.reason });
      return result;
    },
  };
}

/** What `authenticate` answered, as an Identity: identifier strings and an expiry yet to come. */
function hookIdentity(answer: unknown): AuthResult {
  if (typeof answer !== 'object' || answer === null) return { ok: false, reason: 'authenticate answered neither an identity nor null' };
  const { principal, namespace, expiresAt } = answer as Record<string, unknown>;
  const problem = fieldProblem('principal', principal) ?? fieldProblem('namespace', namespace);
  if (problem !== undefined || typeof principal !== 'string' || typeof namespace !== 'string') return { ok: false, reason: `authenticate answered an identity whose ${problem ?? 'fields are invalid'}` };
  if (expiresAt === undefined) return { ok: true, identity: { principal, namespace } };
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) return { ok: false, reason: 'authenticate answered an expiresAt that is not a number of epoch milliseconds' };
  if (expiresAt <= Date.now()) return { ok: false, reason: 'the identity has expired' };
  return { ok: true, identity: { principal, namespace, expiresAt } };
}

/** Why `value`, named `name`, is no identifier, or undefined. */
function fieldProblem(name: string, value: unknown): string | undefined {
  const problem = identifierProblem(value);
  return problem === undefined ? undefined : `${name} ${problem}`;
}

/** A static token's principal: a fingerprint, so logs and limits can name it without revealing it. */
function staticPrincipal(token: string): string {
  return 'token:' + createHash('sha256').update(token).digest('hex').slice(0, 12);
}

/** What a socket's `auth` message authenticates with; the upgrade's `Authorization` is a fallback for non-browser clients. */
export function socketCredentials(credentials: { token?: string | undefined; headers?: Record<string, string> | undefined }, upgrade: IncomingMessage): AuthenticateInput {
  return { token: tokenOf(credentials) ?? bearerToken(upgrade.headers.authorization), headers: credentials.headers ?? {}, request: upgrade };
}

/** What a REST read authenticates with: its `Authorization: Bearer …` and its headers. */
export function requestCredentials(request: IncomingMessage): AuthenticateInput {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return { token: bearerToken(request.headers.authorization), headers, request };
}

/** The token of an `auth` message: `token`, else an `Authorization: Bearer …` header. */
export function tokenOf(credentials: { token?: string | undefined; headers?: Record<string, string> | undefined }): string | undefined {
  if (credentials.token) return credentials.token;
  const headers = credentials.headers ?? {};
  const name = Object.keys(headers).find((h) => h.toLowerCase() === 'authorization');
  return bearerToken(name === undefined ? undefined : headers[name]);
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}
