/**
 * The app's hooks on the sync server (`createSyncServer`): who a connection is (`authenticate`),
 * whether it may write what it pushes (`authorizeWrite`), and what a record must look like
 * (`schemas`). Each call is bounded in time, and a hook that throws or hangs fails its one
 * request, never the process.
 */
import type { IncomingMessage } from 'node:http';
import type * as v from 'valibot';
import { REPOSITORY_NAME, type SyncEvent } from '../protocol';

/** What `authenticate` is given. */
export interface AuthenticateInput {
  /** The bearer token: the auth message's `token`, else a `Bearer` value of its `Authorization` header, else of the HTTP request's. */
  token: string | undefined;
  /** The `headers` of the auth message (a browser cannot set the upgrade's); for a REST read, the request's. */
  headers: Readonly<Record<string, string>>;
  /** The HTTP request: the WebSocket upgrade (cookies, address), or the REST read. */
  request: IncomingMessage;
}

/** Who the credentials belong to: identifiers as a JWT's claims are (1–256 characters, no lone surrogates or U+0000). */
export interface AuthenticatedAs {
  principal: string;
  namespace: string;
  /** Epoch milliseconds after which the connection is no longer authorized and must authenticate again. */
  expiresAt?: number;
}

/** One push, as `authorizeWrite` is asked about it: a `push_batch` is asked once per repository
 *  part, in its order, and a refusal of any part refuses the whole batch. */
export interface WriteRequest {
  principal: string;
  namespace: string;
  repository: string;
  /** The push's events, as they will be stored: read them, do not change them. */
  events: readonly SyncEvent[];
}

/** `authorizeWrite`'s answer: refusing names why, and the client is told so. */
export type WriteVerdict = { allow: true } | { allow: false; reason: string };

/** A record schema of the app (the one its worker validates with). */
export type RecordSchema = v.GenericSchema | v.GenericSchemaAsync;

export interface SyncServerHooks {
  /** Maps credentials to `{ principal, namespace }`, or `null` to refuse them; replaces `authTokens` and `jwtSecret`. */
  authenticate?: ((input: AuthenticateInput) => AuthenticatedAs | null | PromiseLike<AuthenticatedAs | null>) | undefined;
  /** Allows or refuses each push (all its events or none; a batch part by part, all or none); a refused push is not stored and its events are named. */
  authorizeWrite?: ((write: WriteRequest) => WriteVerdict | PromiseLike<WriteVerdict>) | undefined;
  /** Repository → record schema: a pushed insert or update whose data fails it is refused (`invalid_record`). */
  schemas?: Readonly<Record<string, RecordSchema>> | undefined;
}

/** Hooks that are not what they must be fail the start, with a message naming them, not the first connection. */
export function checkHooks(hooks: SyncServerHooks): void {
  for (const name of ['authenticate', 'authorizeWrite'] as const) {
    if (hooks[name] !== undefined && typeof hooks[name] !== 'function') throw new Error(`${name} must be a function`);
  }
  const { schemas } = hooks;
  if (schemas === undefined) return;
  if (typeof schemas !== 'object' || schemas === null) throw new Error('schemas must be an object: repository name → valibot schema');
  for (const [repository, schema] of Object.entries(schemas)) {
    if (!REPOSITORY_NAME.test(repository)) throw new Error(`schemas: ${JSON.stringify(repository)} is not a repository name (^[A-Za-z0-9_-]{1,64}$)`);
    if (typeof schema !== 'object' || schema === null || (schema as { kind?: unknown }).kind !== 'schema') throw new Error(`schemas.${repository} must be a valibot schema`);
  }
}

/** A hook that threw, answered too late, or answered something it may not. */
export class HookFailed extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HookFailed';
  }
}

/** Runs one call of a hook: its answer, or HookFailed when it throws or has not answered within `timeoutMs`. */
export async function callHook<T>(name: string, timeoutMs: number, call: () => T | PromiseLike<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HookFailed(`${name} did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    // Promise.race keeps a handler on the call, so one that rejects after its timeout is no unhandled rejection.
    return await Promise.race([Promise.resolve().then(call), late]);
  } catch (error) {
    if (error instanceof HookFailed) throw error;
    throw new HookFailed(`${name} threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}
