/**
 * One socket's state machine: unauthenticated → authenticated (in a namespace) → closed.
 * Frames are checked on arrival (rate, size, schema); `ping` is answered at once, everything
 * else runs in arrival order, one message at a time, so replies keep the order of requests.
 * Who the socket is lives in ConnectionAuth; what the app lets in, in WriteChecks.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import * as v from 'valibot';
import WebSocket, { type RawData } from 'ws';
import {
  ClientMessageSchema,
  decodeFrame,
  EVENTS_BATCH_FEATURE,
  PushedEventIdsSchema,
  type BatchPart,
  type ClientMessage,
  type ErrorCode,
  type ServerMessage,
} from '../protocol';
import type { Identity } from './auth';
import type { Subscriber } from './broadcast';
import { answerRequestAllEvents, answerRequestEvents, type CatchUp, type PacedSender } from './catch-up';
import { CloseCode } from './close-codes';
import type { ServerConfig } from './config';
import { ConnectionAuth, type AuthContext } from './connection-auth';
import { Outbound, type SendPool } from './outbound';
import { takeFromAll, TokenBucket } from './rate-limit';
import { ReadGate } from './read-gate';
import { AppendRefused, type EventStore } from './store/event-store';
import { pushRefusal, type WriteChecks } from './write-checks';

export { CloseCode } from './close-codes';

export interface ConnectionContext extends AuthContext {
  store: EventStore;
  config: AuthContext['config'] &
    Pick<ServerConfig, 'maxMessageBytes' | 'maxPageBytes' | 'rateLimit' | 'connectionByteRate' | 'namespaceQuotaBytes' | 'maxSendBufferBytes'>;
  /** The unsent bytes of every connection, against MAX_TOTAL_SEND_BUFFER_BYTES. */
  sendPool: SendPool;
  /** What the app lets into its event log (schemas, authorizeWrite). */
  writes: WriteChecks;
}

export class Connection implements Subscriber {
  readonly id = randomUUID();
  /** Set by each `auth` message's `features` (EVENTS_BATCH_FEATURE); none named, none taken. */
  takesBatches = false;
  private readonly auth: ConnectionAuth;
  private readonly bucket: TokenBucket;
  private readonly bytes: TokenBucket;
  private readonly outbound: Outbound;
  private readonly gate: ReadGate;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private heardFrom = true;
  private pinged = false;
  private closed = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly context: ConnectionContext,
    upgrade: IncomingMessage,
  ) {
    const remoteAddress = upgrade.socket.remoteAddress;
    this.bucket = new TokenBucket(context.config.rateLimit.perSecond, context.config.rateLimit.burst);
    this.bytes = new TokenBucket(context.config.connectionByteRate.perSecond, context.config.connectionByteRate.burst);
    this.outbound = new Outbound(socket, context.sendPool, context.config.maxSendBufferBytes, {
      overflow: (reason) => {
        context.log.warn('slow consumer closed', { connectionId: this.id, principal: this.auth.identity?.principal, reason });
        this.close(CloseCode.tryAgainLater, 'too far behind; reconnect and catch up');
      },
      drained: () => this.drained(),
    });
    this.auth = new ConnectionAuth(
      { subscriber: this, upgrade, remoteAddress, isClosed: () => this.closed, send: (message) => this.send(message), close: (code, reason) => this.close(code, reason) },
      context,
    );
    this.gate = new ReadGate(socket, this.outbound, context.config.rateLimit.perSecond, () => this.queued);
    socket.on('message', (data, isBinary) => this.receive(data, isBinary));
    socket.on('close', (code) => this.closedWith(code));
    socket.on('error', (error) => context.log.warn('socket error', { connectionId: this.id, error }));
    context.log.info('connection opened', { connectionId: this.id, remoteAddress });
  }

  /** Called every heartbeat interval: ping a silent client, terminate one that stayed silent. */
  heartbeat(): void {
    if (this.heardFrom) {
      this.heardFrom = false;
      this.pinged = false;
    } else if (this.pinged) {
      this.context.log.info('heartbeat timeout', { connectionId: this.id, principal: this.auth.identity?.principal });
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
    this.gate.stop();
  }

  /** A fan-out message for this connection's namespace (bounded like every send: see Outbound). */
  deliver(frame: Buffer): void {
    if (this.auth.identity) this.outbound.send(frame);
  }

  /**
   * A sender for one catch-up: it sends only while the connection is still authenticated as
   * `identity` (a token that expires mid-stream ends the stream) and, after each frame, waits
   * until the peer has read nearly everything and the process has send buffer to spare.
   */
  private catchUpFor(identity: Identity): CatchUp {
    const out: PacedSender = {
      sendPaced: async (frame) => {
        if (this.auth.identity !== identity || !this.outbound.send(frame)) return false;
        return (await this.outbound.whenReady()) && this.auth.identity === identity;
      },
    };
    return { store: this.context.store, namespace: identity.namespace, out, maxPageBytes: this.context.config.maxPageBytes };
  }

  private send(message: ServerMessage): void {
    this.outbound.send(JSON.stringify(message));
  }

  private sendError(code: ErrorCode, message: string, eventIds?: string[]): void {
    this.send({ type: 'error', code, message, ...(eventIds ? { eventIds } : {}) });
  }

  /** The reply to a frame refused on arrival, unless the peer is flooding (see ReadGate). */
  private refuse(code: ErrorCode, message: string, eventIds?: string[]): void {
    if (!this.gate.mayReply()) return;
    this.tellDropped();
    this.sendError(code, message, eventIds);
  }

  private tellDropped(): void {
    const dropped = this.gate.takeDropped();
    if (dropped > 0) this.sendError('rate_limited', `${dropped} replies to refused frames were dropped: this connection sent too fast`);
  }

  private drained(): void {
    if (!this.closed) this.tellDropped();
    this.gate.update();
  }

  private receive(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    this.heardFrom = true;
    if (!this.bucket.take()) {
      this.refuse('rate_limited', 'too many messages: this one was dropped, slow down and send it again');
      return this.gate.rest();
    }
    if (isBinary) {
      this.refuse('invalid_message', 'binary frames are not supported: send JSON text frames');
      return this.gate.update();
    }
    const { maxMessageBytes } = this.context.config;
    const frame = data as Buffer; // binaryType is ws's default, 'nodebuffer'
    // Counted before parsing, so that a dropped frame costs no more than its bytes.
    if (frame.byteLength <= maxMessageBytes && !takeFromAll([this.bytes, this.auth.principalBytes], frame.byteLength)) {
      this.refuse('rate_limited', 'too many bytes: this frame was dropped, slow down and send it again');
      return this.gate.rest();
    }
    const decoded =
      frame.byteLength > maxMessageBytes
        ? ({ ok: false, code: 'too_large', error: `frame exceeds ${maxMessageBytes} bytes` } as const)
        : decodeFrame(frame.toString('utf8'), ClientMessageSchema, maxMessageBytes);
    if (!decoded.ok) {
      this.refuse(decoded.code, decoded.error, 'parsed' in decoded ? refusedEventIds(decoded.parsed) : undefined);
      if (decoded.code === 'too_large') this.close(CloseCode.tooLarge, 'message too large');
      return this.gate.update();
    }
    const message = decoded.message;
    if (message.type === 'ping') this.send({ type: 'pong' });
    else if (message.type !== 'pong') this.enqueue(message);
    this.gate.update();
  }

  private enqueue(message: ClientMessage): void {
    this.queued++;
    this.queue = this.queue
      .then(() => (this.closed ? undefined : this.handle(message)))
      .catch((error: unknown) => {
        this.context.log.error('message failed', { connectionId: this.id, type: message.type, error });
        this.sendError('internal', 'the server could not process this message; send it again');
      })
      .finally(() => {
        this.queued--;
        this.gate.update();
      });
  }

  private async handle(message: ClientMessage): Promise<void> {
    if (message.type === 'auth') {
      this.takesBatches = message.features?.includes(EVENTS_BATCH_FEATURE) ?? false;
      return this.auth.authenticate(message);
    }
    const identity = this.auth.identity;
    if (identity === undefined) {
      this.refuse('unauthenticated', `authenticate first: send {"type":"auth"} before ${message.type}`);
      return;
    }
    switch (message.type) {
      case 'push_event':
        return this.push(identity, [{ repository: message.repository, events: [message.event] }]);
      case 'push_events_batch':
        return this.push(identity, [{ repository: message.repository, events: message.events }]);
      case 'push_batch':
        return this.push(identity, message.repositories);
      case 'request_events':
        return answerRequestEvents(this.catchUpFor(identity), message);
      case 'request_all_events':
        return answerRequestAllEvents(this.catchUpFor(identity), message);
      case 'events_received':
        return;
    }
  }

  /** A push passes the app's checks (schemas, authorizeWrite) before it is stored; a refused one is answered and not stored. */
  private async push(identity: Identity, parts: readonly BatchPart[]): Promise<void> {
    const { namespace } = identity;
    const refusal = await pushRefusal(this.context.writes, identity, parts);
    if (refusal) {
      this.context.log.info('push refused', { connectionId: this.id, namespace, code: refusal.code, reason: refusal.message });
      return this.sendError(refusal.code, refusal.message, refusal.eventIds);
    }
    // The identity ended (expired, or re-authenticated) while the app checked: the push is its, not the next one's.
    if (this.auth.identity !== identity) return this.sendError('unauthenticated', 'the connection was no longer authenticated when this push was checked: nothing of it was stored');
    return this.append(namespace, parts);
  }

  private async append(namespace: string, parts: readonly BatchPart[]): Promise<void> {
    const { store } = this.context;
    const eventIds = parts.flatMap((part) => part.events.map((e) => e.eventId));
    try {
      // The origin travels with the commit: the fan-out does not send these back to this connection.
      const options = { quotaBytes: this.context.config.namespaceQuotaBytes, origin: this.id };
      const [only] = parts;
      await (parts.length === 1 && only ? store.append(namespace, only.repository, only.events, options) : store.appendBatch(namespace, parts, options));
    } catch (error) {
      if (!(error instanceof AppendRefused)) throw error;
      // Refused whole for what it holds: named, so that the client sets these writes aside.
      this.context.log.info('push refused', { connectionId: this.id, namespace, code: error.code, reason: error.message });
      this.sendError(error.code, error.message, eventIds);
      return;
    }
    const repositories = Object.fromEntries(parts.map((part) => [part.repository, part.events.map((e) => e.eventId)]));
    this.send({ type: 'ack', eventIds, repositories });
  }

  private closedWith(code: number): void {
    this.closed = true;
    this.outbound.release();
    this.gate.stop();
    const principal = this.auth.identity?.principal;
    this.auth.end();
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
  const ids = pushedEvents(parsed).map((e: unknown) => (typeof e === 'object' && e !== null ? (e as { eventId?: unknown }).eventId : undefined));
  // A batch that gives an eventId twice is refused again as sent: its events, each named once.
  const named = (parsed as { type?: unknown }).type === 'push_batch' ? [...new Set(ids)] : ids;
  // What the client's own decoder accepts as `error.eventIds`, each event named once.
  return named.length > 0 && v.is(PushedEventIdsSchema, named) && new Set(named).size === named.length ? named : undefined;
}

/** The events a push frame holds, as far as its shape says: none when it is not one. */
function pushedEvents(parsed: object): unknown[] {
  const { type, event, events, repositories } = parsed as { type?: unknown; event?: unknown; events?: unknown; repositories?: unknown };
  if (type === 'push_event') return [event];
  if (type === 'push_events_batch') return Array.isArray(events) ? events : [];
  if (type !== 'push_batch' || !Array.isArray(repositories)) return [];
  const parts = repositories.map((part: unknown) => (typeof part === 'object' && part !== null ? (part as { events?: unknown }).events : undefined));
  // A part that is not a list of events: the batch's events are not all known, none is named.
  return parts.every(Array.isArray) ? parts.flat() : [undefined];
}
