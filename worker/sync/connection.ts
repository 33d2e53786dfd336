/**
 * The one WebSocket as a state machine: idle, connecting, open, waiting to retry, closed. Every
 * transition goes through `enter`, which clears what the old state held (its timers, its socket).
 * It owns the connect timeout, the heartbeat and its pong timeout, the backoff between attempts,
 * and emits `open`, `frame` and `closed`; what the frames mean (auth, outbox, catch-up) is the
 * session's business. Holds (stopped, standby, credentials…) keep it from opening a socket.
 */
import { decodeFrame } from '../../protocol/frame';
import { MAX_SERVER_FRAME_BYTES } from '../../protocol/limits';
import { ServerMessageSchema, type ClientMessage, type ServerMessage } from '../../protocol/messages';
import type { SyncErrorCode } from '../../protocol/tab-api';
import type { Clock, Timer } from '../clock';
import type { Logger } from '../config';
import { describe } from '../errors';
import { reconnectDelay } from './backoff';
import { Emitter } from '../emitter';
import { SOCKET_CLOSED, SOCKET_OPEN, type CreateSocket, type SocketLike } from './socket';

/** A backoff attempt far enough along that its delay is `maxReconnectDelay`. */
const LONGEST_BACKOFF_ATTEMPT = 30;
/** How long closing waits for the socket's close handshake before it lets go anyway. */
const CLOSE_WAIT_MS = 2000;

export interface ConnectionOptions {
  websocketUrl: string;
  createSocket: CreateSocket;
  reconnectDelay: number;
  maxReconnectDelay: number;
  heartbeatInterval: number;
  /** How long a ping waits for any frame before the socket counts as dead. */
  pongTimeout: number;
  /** How long a socket may take to open. */
  connectTimeout: number;
  clock: Clock;
  log: Required<Logger>;
  /** Jitter of the backoff; Math.random by default. */
  random?: () => number;
}

export type ConnectionPhase = 'idle' | 'connecting' | 'open' | 'waiting' | 'closed';

type State =
  | { phase: 'idle' }
  | { phase: 'connecting'; socket: SocketLike; id: number; openTimer: Timer }
  | { phase: 'open'; socket: SocketLike; id: number; heartbeat: Timer; pongTimer: Timer | undefined }
  | { phase: 'waiting'; retry: Timer; at: number }
  | { phase: 'closed' };

/** Server frames the connection passes on (it answers ping and swallows pong itself). */
export type ServerFrame = Exclude<ServerMessage, { type: 'ping' | 'pong' }>;

export interface ConnectionEvents extends Record<string, unknown> {
  /** The socket `socket` opened. */
  open: { socket: number };
  /** A well-formed frame from the current socket, of `chars` characters. */
  frame: { socket: number; message: ServerFrame; chars: number };
  /** The socket is gone (closed by the other side or let go here); `by` names who let it go. */
  closed: { by: string | undefined };
  /** Something the status should say (a failed attempt, an unanswered ping). */
  trouble: { code: SyncErrorCode; message: string };
  /** The phase or the holds changed. */
  changed: undefined;
}

export class Connection extends Emitter<ConnectionEvents> {
  private state: State = { phase: 'idle' };
  private sinceMs: number;
  private readonly holds = new Set<string>();
  private failedAttempts = 0;
  private socketsOpened = 0;
  /** Settles once the last socket let go (its close handshake ended, or it was given up on). */
  private socketReleased: Promise<void> = Promise.resolve();

  constructor(private readonly options: ConnectionOptions) {
    super();
    this.sinceMs = options.clock.now();
  }

  get phase(): ConnectionPhase {
    return this.state.phase;
  }

  /** When the phase last changed (epoch ms). */
  get since(): number {
    return this.sinceMs;
  }

  /** The current socket's number while there is one (frames of an older socket are stale). */
  get socket(): number | undefined {
    return 'id' in this.state ? this.state.id : undefined;
  }

  /** When the next attempt starts, while waiting for it (epoch ms). */
  get retryAt(): number | undefined {
    return this.state.phase === 'waiting' ? this.state.at : undefined;
  }

  /** Sockets opened after the first one. */
  get reconnects(): number {
    return Math.max(0, this.socketsOpened - 1);
  }

  /** Settles once the last socket is let go. */
  released(): Promise<void> {
    return this.socketReleased;
  }

  isHeld(reason: string): boolean {
    return this.holds.has(reason);
  }

  heldBy(): ReadonlySet<string> {
    return this.holds;
  }

  /** Keeps the socket closed while `reason` holds; closes the current one. False when it held already. */
  block(reason: string): boolean {
    if (this.holds.has(reason)) return false;
    this.holds.add(reason);
    this.drop();
    return true;
  }

  /** No new socket while `reason` holds; the current one stays. */
  pause(reason: string): void {
    if (this.holds.has(reason)) return;
    this.holds.add(reason);
    this.emit('changed', undefined);
  }

  /** `reason` no longer holds: connects at once when nothing else does (`fresh`: from the first backoff step). */
  release(reason: string, fresh = false): boolean {
    if (!this.holds.delete(reason)) return false;
    if (fresh) this.failedAttempts = 0;
    this.connect();
    this.emit('changed', undefined);
    return true;
  }

  /** Connects at once unless a socket is there or something holds. */
  connectNow(): void {
    this.connect();
  }

  /** The network is back: no reason to wait for the backoff. */
  retryNow(): void {
    if (this.socket !== undefined) return;
    this.failedAttempts = 0;
    this.connect();
  }

  /** Lets the socket go and tries again after the backoff. */
  restart(by?: string): void {
    this.drop(by);
    this.scheduleRetry();
  }

  /** Forgets the current socket at once: its late events are ignored. */
  drop(by?: string): void {
    this.enter(this.state.phase === 'closed' ? { phase: 'closed' } : { phase: 'idle' });
    this.emit('closed', { by });
  }

  /** Closed for good; resolves once the socket is released. */
  close(): Promise<void> {
    this.holds.add('closed');
    this.drop();
    this.enter({ phase: 'closed' });
    return this.socketReleased;
  }

  /** The next attempts wait the longest backoff (a refusal nothing here can fix). */
  backOffLongest(): void {
    this.failedAttempts = Math.max(this.failedAttempts, LONGEST_BACKOFF_ATTEMPT);
  }

  /** The session got going: the backoff starts over. */
  succeeded(): void {
    this.failedAttempts = 0;
  }

  /** Sends on the open socket; false when there is none. */
  send(message: ClientMessage): boolean {
    const socket = 'socket' in this.state ? this.state.socket : undefined;
    if (!socket || socket.readyState !== SOCKET_OPEN) return false;
    try {
      socket.send(JSON.stringify(message));
      return true;
    } catch (error) {
      this.options.log.warn(`could not send ${message.type}: ${describe(error)}`);
      return false;
    }
  }

  /** The one place the state changes: what the old state held goes with it. */
  private enter(next: State): void {
    const previous = this.state;
    const { clock } = this.options;
    if (previous.phase === 'connecting') clock.clear(previous.openTimer);
    if (previous.phase === 'open') {
      clock.clear(previous.heartbeat);
      clock.clear(previous.pongTimer);
    }
    if (previous.phase === 'waiting') clock.clear(previous.retry);
    if ('socket' in previous && !('socket' in next && next.socket === previous.socket)) this.let(previous.socket);
    this.state = next;
    if (next.phase !== previous.phase) this.sinceMs = clock.now();
    this.emit('changed', undefined);
  }

  private let(socket: SocketLike): void {
    this.socketReleased = released(socket, this.options.clock);
    try {
      socket.close();
    } catch {
      // Closing a socket that never opened may throw; it is gone either way.
    }
  }

  private connect(): void {
    const phase = this.state.phase;
    if (this.holds.size > 0 || phase === 'connecting' || phase === 'open' || phase === 'closed') return;
    const { createSocket, websocketUrl, connectTimeout, clock } = this.options;
    let socket: SocketLike;
    try {
      socket = createSocket(websocketUrl);
    } catch (error) {
      this.enter({ phase: 'idle' });
      this.emit('trouble', { code: 'connection_failed', message: describe(error) });
      this.scheduleRetry();
      return;
    }
    const id = ++this.socketsOpened;
    const current = () => this.socket === id;
    // A handshake that never completes (a black-holed network) must not wait forever.
    const openTimer = clock.setTimeout(() => {
      this.emit('trouble', { code: 'connection_failed', message: `no answer from ${websocketUrl} within ${connectTimeout} ms` });
      this.restart();
    }, connectTimeout);
    this.enter({ phase: 'connecting', socket, id, openTimer });
    socket.addEventListener('open', () => {
      if (current()) this.opened(socket, id);
    });
    socket.addEventListener('message', (event) => {
      if (current()) this.received(id, event.data);
    });
    socket.addEventListener('error', () => {
      if (current()) this.emit('trouble', { code: 'connection_failed', message: `WebSocket error on ${websocketUrl}` });
    });
    socket.addEventListener('close', () => {
      if (current()) this.restart();
    });
  }

  private opened(socket: SocketLike, id: number): void {
    const heartbeat = this.options.clock.setInterval(() => this.heartbeat(), this.options.heartbeatInterval);
    this.enter({ phase: 'open', socket, id, heartbeat, pongTimer: undefined });
    this.emit('open', { socket: id });
  }

  private scheduleRetry(): void {
    if (this.holds.size > 0 || this.state.phase !== 'idle') return;
    const { reconnectDelay: base, maxReconnectDelay: cap, clock, random = Math.random } = this.options;
    const delay = reconnectDelay(this.failedAttempts++, base, cap, random);
    const retry = clock.setTimeout(() => {
      this.enter({ phase: 'idle' });
      this.connect();
    }, delay);
    this.enter({ phase: 'waiting', retry, at: clock.now() + delay });
  }

  /** Pings, unless the last ping is still unanswered; any frame counts as the answer. */
  private heartbeat(): void {
    const state = this.state;
    if (state.phase !== 'open' || state.pongTimer) return;
    this.send({ type: 'ping' });
    state.pongTimer = this.options.clock.setTimeout(() => {
      state.pongTimer = undefined;
      // Nothing came back: a dead server or a half-open socket the OS would keep for minutes.
      this.options.log.warn('no answer to ping: reconnecting');
      this.emit('trouble', { code: 'heartbeat_timeout', message: `the server did not answer a ping within ${this.options.pongTimeout} ms` });
      this.restart();
    }, this.options.pongTimeout);
  }

  private received(id: number, data: unknown): void {
    const state = this.state;
    if (state.phase === 'open') {
      this.options.clock.clear(state.pongTimer);
      state.pongTimer = undefined;
    }
    if (typeof data !== 'string') {
      this.options.log.warn('dropped a binary frame from the server');
      return;
    }
    const decoded = decodeFrame(data, ServerMessageSchema, MAX_SERVER_FRAME_BYTES);
    if (!decoded.ok) {
      this.options.log.warn(`dropped a bad frame from the server (${decoded.code}): ${decoded.error.slice(0, 200)}`);
      return;
    }
    const message = decoded.message;
    if (message.type === 'ping') {
      this.send({ type: 'pong' });
      return;
    }
    if (message.type === 'pong') return;
    this.emit('frame', { socket: id, message, chars: data.length });
  }
}

/** Settles once the socket closed, or after CLOSE_WAIT_MS (a dead network never finishes the handshake). */
function released(socket: SocketLike, clock: Clock): Promise<void> {
  if (socket.readyState === SOCKET_CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = clock.setTimeout(resolve, CLOSE_WAIT_MS);
    socket.addEventListener('close', () => {
      clock.clear(timer);
      resolve();
    });
  });
}
