/**
 * One socket's state machine: unauthenticated → authenticated (in a namespace) → closed.
 * Frames are checked on arrival (rate, size, schema); `ping` is answered at once, everything
 * else runs in arrival order, one message at a time, so replies keep the order of requests.
 */
import { randomUUID } from 'node:crypto';
import * as v from 'valibot';
import WebSocket, { type RawData } from 'ws';
import {
  ClientMessageSchema,
  decodeFrame,
  PushedEventIdsSchema,
  type ClientMessage,
  type ErrorCode,
  type MessageOf,
  type ServerMessage,
  type SyncEvent,
} from '../protocol';
import { bearerToken, tokenOf, type Authenticator, type Identity } from './auth';
import type { Hub, Subscriber } from './broadcast';
import { answerRequestAllEvents, answerRequestEvents } from './catch-up';
import type { ServerConfig } from './config';
import type { Logger } from './log';
import { SharedBuckets, takeFromAll, TokenBucket } from './rate-limit';
import { AppendRefused, type EventStore } from './store/event-store';

export interface ConnectionContext {
  store: EventStore;
  hub: Hub;
  authenticator: Authenticator;
  log: Logger;
  config: Pick<
    ServerConfig,
    'maxMessageBytes' | 'maxPageBytes' | 'rateLimit' | 'authTimeoutMs' | 'maxConnectionsPerPrincipal' | 'connectionByteRate' | 'namespaceQuotaBytes'
  >;
  /** Authenticated connections per principal, shared by every connection of the server. */
  principals: Map<string, number>;
  /** The bytes each principal may still send (RATE_LIMIT_PRINCIPAL_BYTES), shared by its connections. */
  principalBytes: SharedBuckets;
}

/** Close codes (RFC 6455 and its registry). */
export const CloseCode = { goingAway: 1001, policyViolation: 1008, tooLarge: 1009, tryAgainLater: 1013 } as const;

/** Above this many queued messages the socket stops reading until the queue drains. */
const QUEUE_HIGH_WATER = 64;
/** A catch-up page waits for the socket to flush once more than this is buffered. */
const SEND_HIGH_WATER = 1024 * 1024;
/** A live broadcast to a client that has this much unread is pointless: close, it catches up later. */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
/** setTimeout's ceiling; identities expiring later than this are not timed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Connection implements Subscriber {
  readonly id = randomUUID();
  private identity?: Identity;
  private readonly bucket: TokenBucket;
  private readonly bytes: TokenBucket;
  /** The principal's shared byte bucket, while authenticated. */
  private principalBytes?: TokenBucket;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private heardFrom = true;
  private pinged = false;
  private closed = false;
  private authTimer?: NodeJS.Timeout;
  private expiryTimer?: NodeJS.Timeout;

  constructor(
    private readonly socket: WebSocket,
    private readonly context: ConnectionContext,
    /** The upgrade request's `Authorization` header: a fallback for non-browser clients. */
    private readonly upgradeAuthorization: string | undefined,
    private readonly remoteAddress: string | undefined,
  ) {
    this.bucket = new TokenBucket(context.config.rateLimit.perSecond, context.config.rateLimit.burst);
    this.bytes = new TokenBucket(context.config.connectionByteRate.perSecond, context.config.connectionByteRate.burst);
    socket.on('message', (data, isBinary) => this.receive(data, isBinary));
    socket.on('close', (code) => this.closedWith(code));
    socket.on('error', (error) => context.log.warn('socket error', { connectionId: this.id, error }));
    this.startAuthTimer();
    context.log.info('connection opened', { connectionId: this.id, remoteAddress });
  }

  /** Called every heartbeat interval: ping a silent client, terminate one that stayed silent. */
  heartbeat(): void {
    if (this.heardFrom) {
      this.heardFrom = false;
      this.pinged = false;
    } else if (this.pinged) {
      this.context.log.info('heartbeat timeout', { connectionId: this.id, principal: this.identity?.principal });
      this.socket.terminate();
    } else {
      this.pinged = true;
      this.send({ type: 'ping' });
    }
  }

  /** Resolves when the message being processed (if any) is done: shutdown waits for it. */
  settled(): Promise<void> {
    return this.queue;
  }

  close(code: number, reason: string): void {
    this.closed = true;
    this.socket.close(code, reason);
  }

  /** A fan-out message for this connection's namespace. */
  deliver(text: string): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.context.log.warn('slow consumer closed', { connectionId: this.id, principal: this.identity?.principal });
      this.close(CloseCode.tryAgainLater, 'too far behind; reconnect and catch up');
      return;
    }
    this.socket.send(text);
  }

  /** Sends a message; when the socket is backed up, resolves only after it flushed this one. */
  sendPaced(frame: string): Promise<boolean> {
    if (this.socket.readyState !== WebSocket.OPEN) return Promise.resolve(false);
    return new Promise((resolve) => {
      let waiting = false;
      // ws calls back asynchronously, once the frame is written (or the socket failed).
      this.socket.send(frame, (error) => {
        if (waiting) resolve(!error);
      });
      if (this.socket.bufferedAmount > SEND_HIGH_WATER) waiting = true;
      else resolve(true);
    });
  }

  private send(message: ServerMessage): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private sendError(code: ErrorCode, message: string, eventIds?: string[]): void {
    this.send({ type: 'error', code, message, ...(eventIds ? { eventIds } : {}) });
  }

  private receive(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    this.heardFrom = true;
    if (!this.bucket.take()) {
      this.sendError('rate_limited', 'too many messages: this one was dropped, slow down and send it again');
      return;
    }
    if (isBinary) {
      this.sendError('invalid_message', 'binary frames are not supported: send JSON text frames');
      return;
    }
    const { maxMessageBytes } = this.context.config;
    const frame = data as Buffer; // binaryType is ws's default, 'nodebuffer'
    // Counted before parsing, so that a dropped frame costs no more than its bytes.
    if (frame.byteLength <= maxMessageBytes && !takeFromAll([this.bytes, this.principalBytes], frame.byteLength)) {
      this.sendError('rate_limited', 'too many bytes: this frame was dropped, slow down and send it again');
      return;
    }
    const decoded =
      frame.byteLength > maxMessageBytes
        ? ({ ok: false, code: 'too_large', error: `frame exceeds ${maxMessageBytes} bytes` } as const)
        : decodeFrame(frame.toString('utf8'), ClientMessageSchema, maxMessageBytes);
    if (!decoded.ok) {
      this.sendError(decoded.code, decoded.error, 'parsed' in decoded ? refusedEventIds(decoded.parsed) : undefined);
      if (decoded.code === 'too_large') this.close(CloseCode.tooLarge, 'message too large');
      return;
    }
    const message = decoded.message;
    if (message.type === 'ping') this.send({ type: 'pong' });
    else if (message.type !== 'pong') this.enqueue(message);
  }

  private enqueue(message: ClientMessage): void {
    if (++this.queued > QUEUE_HIGH_WATER && !this.socket.isPaused) this.socket.pause();
    this.queue = this.queue
      .then(() => (this.closed ? undefined : this.handle(message)))
      .catch((error: unknown) => {
        this.context.log.error('message failed', { connectionId: this.id, type: message.type, error });
        this.sendError('internal', 'the server could not process this message; send it again');
      })
      .finally(() => {
        if (--this.queued <= QUEUE_HIGH_WATER / 2 && this.socket.isPaused && !this.closed) this.socket.resume();
      });
  }

  private async handle(message: ClientMessage): Promise<void> {
    if (message.type === 'auth') return this.authenticate(message);
    const namespace = this.identity?.namespace;
    if (namespace === undefined) {
      this.sendError('unauthenticated', `authenticate first: send {"type":"auth"} before ${message.type}`);
      return;
    }
    const { store } = this.context;
    switch (message.type) {
      case 'push_event':
        return this.append(namespace, message.repository, [message.event]);
      case 'push_events_batch':
        return this.append(namespace, message.repository, message.events);
      case 'request_events':
        return answerRequestEvents(store, namespace, this, message, this.context.config.maxPageBytes);
      case 'request_all_events':
        return answerRequestAllEvents(store, namespace, this, message, this.context.config.maxPageBytes);
      case 'events_received':
        return;
    }
  }

  private async append(namespace: string, repository: string, events: readonly SyncEvent[]): Promise<void> {
    const { hub, store } = this.context;
    const eventIds = events.map((e) => e.eventId);
    hub.markOrigin(namespace, eventIds, this.id);
    let results;
    try {
      results = await store.append(namespace, repository, events, { quotaBytes: this.context.config.namespaceQuotaBytes });
    } catch (error) {
      hub.forgetOrigin(namespace, eventIds);
      if (!(error instanceof AppendRefused)) throw error;
      // Refused whole for what it holds: named, so that the client sets these writes aside.
      this.context.log.info('push refused', { connectionId: this.id, namespace, code: error.code, reason: error.message });
      this.sendError(error.code, error.message, eventIds);
      return;
    }
    hub.forgetOrigin(namespace, results.filter((r) => r.duplicate).map((r) => r.event.eventId));
    this.send({ type: 'ack', eventIds, repositories: { [repository]: eventIds } });
  }

  private async authenticate(credentials: MessageOf<ClientMessage, 'auth'>): Promise<void> {
    const { authenticator, log, config, principals } = this.context;
    const result = await authenticator.authenticate(tokenOf(credentials) ?? bearerToken(this.upgradeAuthorization));
    if (this.closed) return;
    if (!result.ok) {
      log.warn('auth failed', { connectionId: this.id, reason: result.reason, remoteAddress: this.remoteAddress });
      this.dropIdentity();
      this.sendError('auth_failed', `authentication failed: ${result.reason}`);
      return;
    }
    const identity = result.identity;
    const previous = this.identity;
    if (previous?.principal !== identity.principal && (principals.get(identity.principal) ?? 0) >= config.maxConnectionsPerPrincipal) {
      log.warn('too many connections', { connectionId: this.id, principal: identity.principal });
      this.sendError('rate_limited', `too many connections for this principal (at most ${config.maxConnectionsPerPrincipal})`);
      this.close(CloseCode.policyViolation, 'too many connections');
      return;
    }
    this.identity = identity;
    clearTimeout(this.authTimer);
    clearTimeout(this.expiryTimer);
    this.startExpiryTimer(identity);
    if (previous?.principal !== identity.principal) {
      if (previous) this.releasePrincipal(previous.principal);
      principals.set(identity.principal, (principals.get(identity.principal) ?? 0) + 1);
      this.principalBytes = this.context.principalBytes.acquire(identity.principal);
    }
    // Staying in the same namespace keeps the subscription, so no broadcast slips past meanwhile.
    if (previous?.namespace !== identity.namespace) {
      if (previous) this.context.hub.leave(previous.namespace, this);
      try {
        await this.context.hub.join(identity.namespace, this);
      } catch (error) {
        this.dropIdentity();
        throw error;
      }
      if (this.closed) return;
    }
    log.info('authenticated', { connectionId: this.id, principal: identity.principal, namespace: identity.namespace });
    const { maxMessageBytes } = this.context.config;
    this.send({ type: 'auth_success', principal: identity.principal, namespace: identity.namespace, connectionId: this.id, maxMessageBytes });
  }

  private dropIdentity(): void {
    const identity = this.identity;
    if (!identity) return;
    this.identity = undefined;
    clearTimeout(this.expiryTimer);
    this.context.hub.leave(identity.namespace, this);
    this.releasePrincipal(identity.principal);
    if (!this.closed) this.startAuthTimer();
  }

  private releasePrincipal(principal: string): void {
    const { principals } = this.context;
    this.context.principalBytes.release(principal);
    this.principalBytes = undefined;
    const count = (principals.get(principal) ?? 1) - 1;
    if (count > 0) principals.set(principal, count);
    else principals.delete(principal);
  }

  private startAuthTimer(): void {
    clearTimeout(this.authTimer);
    this.authTimer = setTimeout(() => {
      if (this.identity || this.closed) return;
      this.context.log.info('auth timeout', { connectionId: this.id, remoteAddress: this.remoteAddress });
      this.sendError('unauthenticated', 'authentication timeout: no valid auth message in time');
      this.close(CloseCode.policyViolation, 'authentication timeout');
    }, this.context.config.authTimeoutMs);
  }

  /** A JWT that expires while connected stops authorizing the connection at its `exp`. */
  private startExpiryTimer(identity: Identity): void {
    if (identity.expiresAt === undefined) return;
    const delay = identity.expiresAt - Date.now();
    if (delay > MAX_TIMER_MS) return;
    this.expiryTimer = setTimeout(() => {
      if (this.identity !== identity) return;
      this.context.log.info('token expired', { connectionId: this.id, principal: identity.principal });
      this.dropIdentity();
      this.sendError('auth_failed', 'token expired: authenticate again');
    }, Math.max(0, delay));
  }

  private closedWith(code: number): void {
    this.closed = true;
    clearTimeout(this.authTimer);
    const principal = this.identity?.principal;
    this.dropIdentity();
    this.context.log.info('connection closed', { connectionId: this.id, principal, code });
  }
}

/**
 * The event ids of a push the schema refused, when it names them all: the client then knows which
 * of its writes will be refused again as they are, and sets exactly those aside. Anything less
 * certain names none (the client then keeps them).
 */
function refusedEventIds(parsed: unknown): string[] | undefined {
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { type, event, events } = parsed as { type?: unknown; event?: unknown; events?: unknown };
  const pushed = type === 'push_event' ? [event] : type === 'push_events_batch' && Array.isArray(events) ? events : [];
  const ids = pushed.map((e: unknown) => (typeof e === 'object' && e !== null ? (e as { eventId?: unknown }).eventId : undefined));
  // What the client's own decoder accepts as `error.eventIds`, each event named once.
  return ids.length > 0 && v.is(PushedEventIdsSchema, ids) && new Set(ids).size === ids.length ? ids : undefined;
}
