/**
 * Who one connection is, and until when: the auth handshake (credentials → identity, through the
 * Authenticator), the principal's slot (its connection count and byte budget), the namespace's
 * fan-out, and two clocks: a connection must authenticate in time, and an identity ends at its expiry.
 */
import type { IncomingMessage } from 'node:http';
import type { ClientMessage, ErrorCode, MessageOf, ServerMessage } from '../protocol';
import { socketCredentials, type Authenticator, type Identity } from './auth';
import type { Hub, Subscriber } from './broadcast';
import { CloseCode } from './close-codes';
import type { ServerConfig } from './config';
import type { Logger } from './log';
import type { PrincipalLimiter, PrincipalSlot } from './principal-limiter';
import type { TokenBucket } from './rate-limit';

export interface AuthContext {
  hub: Hub;
  authenticator: Authenticator;
  log: Logger;
  /** Connections and byte budget per principal, shared by every connection of the server. */
  principals: PrincipalLimiter;
  config: Pick<ServerConfig, 'authTimeoutMs' | 'maxMessageBytes'>;
}

/** What the handshake needs of its connection. */
export interface AuthHost {
  /** The connection, as the namespace's fan-out delivers to it. */
  readonly subscriber: Subscriber;
  /** The WebSocket upgrade request (its `Authorization` is a fallback for non-browser clients). */
  readonly upgrade: IncomingMessage;
  readonly remoteAddress: string | undefined;
  isClosed(): boolean;
  send(message: ServerMessage): void;
  close(code: number, reason: string): void;
}

/** setTimeout's ceiling; identities expiring later than this are not timed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class ConnectionAuth {
  private current: Identity | undefined;
  private slot: PrincipalSlot | undefined;
  private authTimer?: NodeJS.Timeout;
  private expiryTimer?: NodeJS.Timeout;

  constructor(
    private readonly host: AuthHost,
    private readonly context: AuthContext,
  ) {
    this.startAuthTimer();
  }

  /** Who the connection is now; undefined before `auth_success` and after a failed or expired one. */
  get identity(): Identity | undefined {
    return this.current;
  }

  /** The principal's byte budget, shared by its connections, while authenticated. */
  get principalBytes(): TokenBucket | undefined {
    return this.slot?.bytes;
  }

  /** An `auth` message: the first one, or a later one re-authenticating without reconnecting. */
  async authenticate(credentials: MessageOf<ClientMessage, 'auth'>): Promise<void> {
    const { authenticator, log } = this.context;
    const result = await authenticator.authenticate(socketCredentials(credentials, this.host.upgrade));
    if (this.host.isClosed()) return;
    if (!result.ok) {
      log.warn('auth failed', { connectionId: this.id, reason: result.reason, remoteAddress: this.host.remoteAddress });
      this.drop();
      this.sendError('auth_failed', `authentication failed: ${result.reason}`);
      return;
    }
    const identity = result.identity;
    const previous = this.current;
    if (previous?.principal !== identity.principal && !this.takeSlot(identity.principal)) return;
    this.current = identity;
    clearTimeout(this.authTimer);
    clearTimeout(this.expiryTimer);
    this.startExpiryTimer(identity);
    // Staying in the same namespace keeps the subscription, so no broadcast slips past meanwhile.
    if (previous?.namespace !== identity.namespace) {
      if (previous) this.context.hub.leave(previous.namespace, this.host.subscriber);
      try {
        await this.context.hub.join(identity.namespace, this.host.subscriber);
      } catch (error) {
        this.drop();
        throw error;
      }
      if (this.host.isClosed()) return;
    }
    log.info('authenticated', { connectionId: this.id, principal: identity.principal, namespace: identity.namespace });
    const { maxMessageBytes } = this.context.config;
    this.host.send({ type: 'auth_success', principal: identity.principal, namespace: identity.namespace, connectionId: this.id, maxMessageBytes });
  }

  /** The connection closed: its identity, its slot and its clocks end. */
  end(): void {
    clearTimeout(this.authTimer);
    this.drop();
  }

  private get id(): string {
    return this.host.subscriber.id;
  }

  /** Moves the connection to `principal`'s slot; false, closing the connection, when the principal holds all it may. */
  private takeSlot(principal: string): boolean {
    const { principals, log } = this.context;
    const slot = principals.admit(principal);
    if (!slot) {
      log.warn('too many connections', { connectionId: this.id, principal });
      this.sendError('rate_limited', `too many connections for this principal (at most ${principals.maxConnections})`);
      this.host.close(CloseCode.policyViolation, 'too many connections');
      return false;
    }
    this.slot?.release();
    this.slot = slot;
    return true;
  }

  private drop(): void {
    const identity = this.current;
    if (!identity) return;
    this.current = undefined;
    clearTimeout(this.expiryTimer);
    this.context.hub.leave(identity.namespace, this.host.subscriber);
    this.slot?.release();
    this.slot = undefined;
    if (!this.host.isClosed()) this.startAuthTimer();
  }

  private sendError(code: ErrorCode, message: string): void {
    this.host.send({ type: 'error', code, message });
  }

  private startAuthTimer(): void {
    clearTimeout(this.authTimer);
    this.authTimer = setTimeout(() => {
      if (this.current || this.host.isClosed()) return;
      this.context.log.info('auth timeout', { connectionId: this.id, remoteAddress: this.host.remoteAddress });
      this.sendError('unauthenticated', 'authentication timeout: no valid auth message in time');
      this.host.close(CloseCode.policyViolation, 'authentication timeout');
    }, this.context.config.authTimeoutMs);
  }

  /** An identity that expires while connected (a JWT's `exp`) stops authorizing the connection then. */
  private startExpiryTimer(identity: Identity): void {
    if (identity.expiresAt === undefined) return;
    const delay = identity.expiresAt - Date.now();
    if (delay > MAX_TIMER_MS) return;
    this.expiryTimer = setTimeout(() => {
      if (this.current !== identity) return;
      this.context.log.info('token expired', { connectionId: this.id, principal: identity.principal });
      this.drop();
      this.sendError('auth_failed', 'token expired: authenticate again');
    }, Math.max(0, delay));
  }
}
