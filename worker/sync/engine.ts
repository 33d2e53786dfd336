/**
 * The sync engine: the one WebSocket, authentication, catch-up by cursor, the outbox drain,
 * heartbeat and reconnection. Frames from the server are decoded defensively and handled one
 * at a time, in arrival order.
 */
import { decodeFrame } from '../../protocol/frame';
import { DEFAULT_MAX_MESSAGE_BYTES, MAX_SERVER_FRAME_BYTES } from '../../protocol/limits';
import { ErrorCode, ServerMessageSchema, type ClientMessage, type MessageOf, type ServerMessage, type SyncEvent } from '../../protocol/messages';
import type { ConnectionState, Credentials, Diagnostics, ServerErrorCode, SetAsideWrite } from '../../protocol/tab-api';
import { reconnectDelay } from './backoff';
import type { Logger } from '../config';
import { systemClock, type Clock, type Timer } from '../clock';
import { describe, storageFailure } from '../errors';
import { OutboxSender } from '../outbox/outbox';
import type { RemoteApplier, RemotePage } from '../local/remote';
import { SOCKET_CLOSED, SOCKET_OPEN, type CreateSocket, type SocketLike } from './socket';
import type { StatusStore } from '../runtime/status';
import type { OutboxEntry, SyncStorage } from '../storage/storage';

export interface EngineOptions {
  websocketUrl: string;
  createSocket: CreateSocket;
  reconnectDelay: number;
  maxReconnectDelay: number;
  heartbeatInterval: number;
  /** How long a ping waits for any frame before the socket counts as dead. */
  pongTimeout: number;
  /** How long a socket may take to open. */
  connectTimeout: number;
  /** How long the oldest pending write may wait for an ack before the session counts as stalled. */
  stallAfter: number;
  repositories: readonly string[];
  storage: SyncStorage;
  /** Other runtimes of the profile write to the same outbox (dedicated workers on one database). */
  sharedOutbox?: boolean;
  status: StatusStore;
  remote: RemoteApplier;
  /** The largest frame the server takes, as this client honours it (on every authentication). */
  serverTakes?(frameBytes: number): void;
  /** Asks the tabs for credentials after the server refused the current ones. */
  askForCredentials(): Promise<Credentials | null>;
  /** The server authenticated the session into `namespace`: resolves once the storage holds that
   *  namespace's data, with true when it moved there (another outbox and other cursors). */
  namespaceNamed?(namespace: string): Promise<boolean>;
  log: Required<Logger>;
  /** Time and timers (backoff, heartbeat, timeouts, the stall watchdog); `systemClock` by default. */
  clock?: Clock;
}

/** One catch-up: repositories are requested one after the other from their stored cursor. */
interface CatchUp {
  current: string | undefined;
  waiting: string[];
  received: number;
  /** Highest sequence broadcast per repository while it was catching up: its cursor may move
   *  there only once its own pages are all applied. */
  broadcastSeen: Map<string, number>;
}

type Handled = Exclude<ServerMessage['type'], 'ping' | 'pong'>;

/** Bounds on the `events` frames applied in one transaction (a catch-up's pages queue up
 *  while the previous transaction commits; each transaction has a fixed cost). */
const MAX_JOINED_EVENTS = 5000;
const MAX_JOINED_CHARS = 16 * 1024 * 1024;

/** Set-aside writes that diagnostics remember. */
const SET_ASIDE_KEPT = 20;

/** A backoff attempt far enough along that its delay is `maxReconnectDelay`. */
const LONGEST_BACKOFF_ATTEMPT = 30;

/** How long closing waits for the socket's close handshake before it lets go anyway. */
const CLOSE_WAIT_MS = 2000;

export class SyncEngine {
  private started = false;
  /** Held in memory only: never written to storage. */
  private credentials: Credentials = {};
  /** Bumped whenever credentials change, so an older credentials request knows it is stale. */
  private credentialsVersion = 0;
  private askingCredentials = false;
  private unauthorized = false;
  private socket: SocketLike | null = null;
  private authenticated = false;
  private catchUp: CatchUp | null = null;
  private failedAttempts = 0;
  private reconnectTimer: Timer | undefined;
  /** When `reconnectTimer` fires (epoch ms). */
  private reconnectAt = 0;
  private openTimer: Timer | undefined;
  private heartbeatTimer: Timer | undefined;
  private pongTimer: Timer | undefined;
  private stallTimer: Timer | undefined;
  /** Since when the oldest pending write waits for an ack: its write, the session's start or the
   *  last ack, whichever came last. */
  private waitingSince: number | undefined;
  /** The watchdog already reconnected for the current stall: it does not again until an ack. */
  private stallReconnected = false;
  /** Why the socket may not be open now, e.g. another runtime holds the connection. */
  private readonly blockers = new Set<string>();
  private closed = false;
  /** Settles once the last socket let go (its close handshake ended, or it was given up on). */
  private socketReleased: Promise<void> = Promise.resolve();
  private inbox: Promise<void> = Promise.resolve();
  private readonly setAsideWrites: SetAsideWrite[] = [];
  /** The `events` frames last queued in the inbox, not yet handled: the next such frame joins them. */
  private joinableEvents: { socket: SocketLike; frames: MessageOf<ServerMessage, 'events'>[]; events: number; chars: number } | undefined;
  private readonly outbox: OutboxSender;
  /** Outbox entries not yet acknowledged: counted up and down here, recounted when other
   *  runtimes of the profile (dedicated workers) wrote to the same outbox. */
  private pending = 0;
  private counting: Promise<void> | null = null;
  private countAgain = false;
  private socketsOpened = 0;
  /** Per repository, the end of its last complete catch-up (ISO-8601). */
  private readonly syncedAt = new Map<string, string>();
  private session: Pick<Diagnostics['connection'], 'connectionId' | 'principal' | 'namespace'> = {};
  private state: ConnectionState = 'stopped';
  private stateSince: string;
  private readonly clock: Clock;

  constructor(private readonly options: EngineOptions) {
    this.clock = options.clock ?? systemClock;
    this.stateSince = this.isoNow();
    this.outbox = new OutboxSender(
      options.storage,
      (message) => this.authenticated && this.send(message),
      options.sharedOutbox,
      (entry, maxBatchBytes) => void this.dropUnsendable(entry, maxBatchBytes),
    );
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.failedAttempts = 0;
    this.options.status.update({ started: true });
    this.connect();
    this.noteState();
  }

  /** Closes the socket and stops reconnecting; local writes keep working. */
  stop(): void {
    this.started = false;
    this.clock.clear(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.disconnect();
    this.options.status.update({ started: false });
    this.noteState();
  }

  /** Stops for good; resolves once the socket is released, so that whoever opens the next one
   *  never overlaps with it. */
  async close(): Promise<void> {
    this.stop();
    this.closed = true;
    this.noteState();
    await Promise.all([this.inbox, this.socketReleased]);
  }

  /** Keeps the socket closed while `reason` holds (started or not); reasons add up. */
  block(reason: string): void {
    if (this.blockers.has(reason)) return;
    this.blockers.add(reason);
    this.clock.clear(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.disconnect();
    this.noteState();
  }

  /** `reason` no longer holds: connects at once when nothing else blocks. */
  unblock(reason: string): void {
    if (!this.blockers.delete(reason)) return;
    this.failedAttempts = 0;
    this.connect();
    this.noteState();
  }

  /** The connection as support pages and tests see it. */
  connectionInfo(): Diagnostics['connection'] {
    const { lastError } = this.options.status.get();
    return {
      state: this.state,
      since: this.stateSince,
      reconnects: Math.max(0, this.socketsOpened - 1),
      ...(this.socket ? this.session : {}),
      ...(lastError ? { lastError } : {}),
      ...(this.reconnectTimer ? { reconnectAt: new Date(this.reconnectAt).toISOString() } : {}),
    };
  }

  /** The writes this runtime took out of the outbox as unsendable, newest last. */
  setAsideLately(): readonly SetAsideWrite[] {
    return this.setAsideWrites;
  }

  /** When each repository last finished a catch-up, if it did since the storage opened. */
  lastSyncs(): ReadonlyMap<string, string> {
    return this.syncedAt;
  }

  /** The storage was replaced by an empty one: what was synced into the old one is not there. */
  storageReplaced(): void {
    this.syncedAt.clear();
  }

  /** Present fields replace the current ones; an open socket re-authenticates in place. */
  updateCredentials(credentials: Credentials): void {
    this.credentials = { ...this.credentials, ...credentials };
    this.credentialsVersion++;
    if (this.unauthorized) {
      this.unauthorized = false;
      this.options.status.update({ unauthorized: false });
    }
    this.authenticate();
  }

  /** A tab's initial credentials, taken only while the runtime has none. */
  offerCredentials(credentials: Credentials): void {
    if (this.credentials.authToken === undefined && this.credentials.headers === undefined) this.updateCredentials(credentials);
  }

  /** The browser is back online: no reason to wait for the backoff. */
  networkOnline(): void {
    if (!this.started || this.socket) return;
    this.failedAttempts = 0;
    this.connect();
    this.noteState();
  }

  /** Reads the outbox size (left by an earlier run, or written by another runtime); calls
   *  during a count share the next one, so the last count always follows the last change. */
  countPending(): Promise<void> {
    if (this.counting) {
      this.countAgain = true;
      return this.counting;
    }
    const count = async () => {
      try {
        do {
          this.countAgain = false;
          this.pending = await this.options.storage.outboxSize();
          this.waitingSince = this.pending > 0 ? (this.waitingSince ?? this.clock.now()) : undefined;
          this.options.status.update({ pending: this.pending });
        } while (this.countAgain);
      } finally {
        this.counting = null;
      }
    };
    this.counting = count();
    return this.counting;
  }

  /** Another runtime of this profile wrote to or acknowledged from the shared outbox: count it,
   *  and push what waits if this runtime holds the connection. */
  outboxChanged(): void {
    this.outbox.queued();
    this.countPending().then(
      () => {
        if (this.authenticated && !this.catchUp) this.drainOutbox();
      },
      (error: unknown) => this.options.log.warn(`could not count the outbox: ${describe(error)}`),
    );
  }

  /** Local writes were committed: count them and push them if the server is reachable. */
  outboxGrew(events: number): void {
    this.outbox.queued();
    this.pending += events;
    this.waitingSince ??= this.clock.now();
    this.options.status.update({ pending: this.pending });
    if (this.authenticated && !this.catchUp) this.drainOutbox();
  }

  // ── connection ──

  private connect(): void {
    this.clock.clear(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (!this.started || this.closed || this.blockers.size > 0 || this.socket || this.unauthorized || this.askingCredentials) return;
    let socket: SocketLike;
    try {
      socket = this.options.createSocket(this.options.websocketUrl);
    } catch (error) {
      this.options.status.error('connection_failed', describe(error));
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.socketsOpened++;
    this.session = {};
    // A handshake that never completes (a black-holed network) must not wait forever.
    this.openTimer = this.clock.setTimeout(() => {
      if (socket !== this.socket) return;
      this.options.status.error('connection_failed', `no answer from ${this.options.websocketUrl} within ${this.options.connectTimeout} ms`);
      this.restartSession();
    }, this.options.connectTimeout);
    socket.addEventListener('open', () => {
      if (socket === this.socket) this.opened();
    });
    socket.addEventListener('message', (event) => {
      if (socket === this.socket) this.received(socket, event.data);
    });
    socket.addEventListener('error', () => {
      if (socket === this.socket) this.options.status.error('connection_failed', `WebSocket error on ${this.options.websocketUrl}`);
    });
    socket.addEventListener('close', () => {
      if (socket !== this.socket) return;
      this.disconnect();
      this.scheduleReconnect();
    });
  }

  private opened(): void {
    this.clock.clear(this.openTimer);
    this.options.status.update({ connected: true });
    this.sendAuth();
    this.heartbeatTimer = this.clock.setInterval(() => this.heartbeat(), this.options.heartbeatInterval);
    this.noteState();
  }

  /** Forgets the current socket at once: its late events are ignored, its frames not handled.
   *  A stall outlives only the watchdog's own reconnect. */
  private disconnect(keepStall = false): void {
    const socket = this.socket;
    this.clock.clear(this.stallTimer);
    this.stallTimer = undefined;
    if (!keepStall) this.endStall();
    this.socket = null;
    this.authenticated = false;
    this.catchUp = null;
    this.clock.clear(this.openTimer);
    this.clock.clear(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.clock.clear(this.pongTimer);
    this.pongTimer = undefined;
    if (socket) {
      this.socketReleased = released(socket, this.clock);
      try {
        socket.close();
      } catch {
        // Closing a socket that never opened may throw; it is gone either way.
      }
    }
    this.options.status.update({ connected: false, authenticated: false, syncing: false, progress: undefined });
    this.noteState();
  }

  private scheduleReconnect(): void {
    if (!this.started || this.closed || this.blockers.size > 0 || this.socket || this.unauthorized || this.askingCredentials || this.reconnectTimer) return;
    const { reconnectDelay: base, maxReconnectDelay: cap } = this.options;
    const delay = reconnectDelay(this.failedAttempts++, base, cap, Math.random);
    this.reconnectAt = this.clock.now() + delay;
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.connect();
      this.noteState();
    }, delay);
    this.noteState();
  }

  /** Pings, unless the last ping is still unanswered; any frame counts as the answer. */
  private heartbeat(): void {
    if (this.pongTimer) return;
    this.send({ type: 'ping' });
    this.pongTimer = this.clock.setTimeout(() => {
      this.pongTimer = undefined;
      // Nothing came back: a dead server or a half-open socket the OS would keep for minutes.
      this.options.log.warn('no answer to ping: reconnecting');
      this.options.status.error('heartbeat_timeout', `the server did not answer a ping within ${this.options.pongTimeout} ms`);
      this.restartSession();
    }, this.options.pongTimeout);
  }

  private send(message: ClientMessage): boolean {
    const socket = this.socket;
    if (!socket || socket.readyState !== SOCKET_OPEN) return false;
    try {
      socket.send(JSON.stringify(message));
      return true;
    } catch (error) {
      this.options.log.warn(`could not send ${message.type}: ${describe(error)}`);
      return false;
    }
  }

  // ── authentication ──

  private sendAuth(): void {
    const { authToken, headers } = this.credentials;
    this.send({ type: 'auth', token: authToken, headers });
  }

  /** Uses the current credentials: on the open socket, or on a new one. */
  private authenticate(): void {
    if (!this.started) return;
    if (this.socket?.readyState === SOCKET_OPEN) {
      // Nothing goes out until the server says whose session it is now: the outbox may belong to
      // another namespace than the new credentials.
      this.authenticated = false;
      this.sendAuth();
    } else if (!this.socket) this.connect();
    this.noteState();
  }

  private async authFailed(message: string): Promise<void> {
    this.authenticated = false;
    this.catchUp = null;
    this.options.status.update({ authenticated: false, syncing: false, progress: undefined });
    this.options.status.error('auth_failed', message);
    this.noteState();
    if (this.askingCredentials) return;
    const version = this.credentialsVersion;
    const failed = this.credentials;
    this.askingCredentials = true;
    this.noteState();
    let offered: Credentials | null = null;
    try {
      offered = await this.options.askForCredentials();
    } catch (error) {
      this.options.log.warn(`asking tabs for credentials failed: ${describe(error)}`);
    }
    this.askingCredentials = false;
    this.noteState();
    // updateCredentials ran meanwhile: it re-sent auth on an open socket; a closed one
    // could not reconnect while the tabs were being asked.
    if (version !== this.credentialsVersion) {
      if (!this.socket) this.connect();
      this.noteState();
      return;
    }
    const next = offered ? { ...failed, ...offered } : null;
    if (next && !sameCredentials(next, failed)) {
      this.credentials = next;
      this.credentialsVersion++;
      this.authenticate();
      return;
    }
    // No better credentials: wait for updateCredentials instead of retrying in a loop.
    this.unauthorized = true;
    this.options.status.update({ unauthorized: true });
    this.disconnect();
  }

  /** Records a change of the connection's state, with its time. */
  private noteState(): void {
    const state = this.currentState();
    if (state === this.state) return;
    this.state = state;
    this.stateSince = this.isoNow();
  }

  private currentState(): ConnectionState {
    if (this.closed) return 'closed';
    if (!this.started) return 'stopped';
    if (this.blockers.size > 0) return 'standby';
    if (this.unauthorized) return 'unauthorized';
    if (this.socket?.readyState === SOCKET_OPEN) return this.authenticated ? 'connected' : 'authenticating';
    if (this.socket) return 'connecting';
    return this.askingCredentials ? 'authenticating' : 'retrying';
  }

  // ── stall watchdog ──

  /** Pending writes that got no ack for `stallAfter` on an authenticated socket: the server (or a
   *  proxy) swallows them. Shown in the status; one reconnect per stall sends them again. */
  private checkStall(): void {
    if (!this.authenticated || this.catchUp) {
      // Writes wait for the catch-up (or the credentials): that time is not the server's stall.
      if (!this.stallReconnected && this.pending > 0) this.waitingSince = this.clock.now();
      return;
    }
    const waited = this.pending > 0 && this.waitingSince !== undefined ? this.clock.now() - this.waitingSince : 0;
    if (waited < this.options.stallAfter) {
      if (this.pending === 0) this.endStall();
      return;
    }
    this.options.status.update({ stalled: true, stalledForMs: waited });
    if (this.stallReconnected) return;
    this.stallReconnected = true;
    this.options.log.warn(`no ack for ${waited} ms: reconnecting`);
    this.options.status.error('stalled', `${this.pending} writes got no ack within ${this.options.stallAfter} ms`);
    this.disconnect(true);
    this.scheduleReconnect();
  }

  private endStall(): void {
    this.stallReconnected = false;
    this.options.status.update({ stalled: undefined, stalledForMs: undefined });
  }

  // ── frames from the server ──

  private received(socket: SocketLike, data: unknown): void {
    this.clock.clear(this.pongTimer);
    this.pongTimer = undefined;
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
    // At once, not queued: the server closes right after it, and the backoff must know first.
    if (message.type === 'error' && message.code === ErrorCode.originRefused) return this.originRefused(message.message);
    if (message.type === 'ping') {
      this.send({ type: 'pong' });
      return;
    }
    if (message.type === 'pong') return;
    if (message.type === 'events') {
      // Pages that arrive while the last one waits its turn join it: one transaction for all.
      const joinable = this.joinableEvents;
      if (joinable && joinable.socket === socket && joinable.events < MAX_JOINED_EVENTS && joinable.chars < MAX_JOINED_CHARS) {
        joinable.frames.push(message);
        joinable.events += message.events.length;
        joinable.chars += data.length;
        return;
      }
      const frames = { socket, frames: [message], events: message.events.length, chars: data.length };
      this.enqueue(socket, () => {
        if (this.joinableEvents === frames) this.joinableEvents = undefined;
        return this.eventsReceived(frames.frames);
      });
      this.joinableEvents = frames;
      return;
    }
    this.enqueue(socket, () => this.handle(message));
  }

  /** Handles frames one at a time, in arrival order; those of a replaced socket are skipped. */
  private enqueue(socket: SocketLike, handle: () => Promise<void>): void {
    this.joinableEvents = undefined;
    this.inbox = this.inbox
      .then(() => (socket === this.socket ? handle() : undefined))
      .catch((error: unknown) => this.handlingFailed(socket, error));
  }

  private async handle(message: MessageOf<ServerMessage, Exclude<Handled, 'events'>>): Promise<void> {
    switch (message.type) {
      case 'auth_success': {
        const { connectionId, principal, namespace } = message;
        this.session = { connectionId, principal, namespace };
        this.serverTakes(message.maxMessageBytes);
        const socket = this.socket;
        // Another namespace's data: this session starts over on its outbox and cursors.
        if (namespace !== undefined && (await this.options.namespaceNamed?.(namespace))) this.authenticated = false;
        if (socket !== this.socket) return;
        return this.authSucceeded();
      }
      case 'error':
        if (message.code === 'auth_failed') {
          void this.authFailed(message.message);
          return;
        }
        // A message that crossed the server's auth_failed on the wire: that loss is reported
        // already, and what was refused goes out again once the new credentials are in.
        if (message.code === 'unauthenticated' && this.askingCredentials) return;
        if (message.eventIds) {
          const refused = this.outbox.refused(message.eventIds);
          if (refused) {
            await this.setAside(refused, message.code ?? 'invalid_message', `the server refused ${message.eventIds.length === 1 ? 'a write' : `${message.eventIds.length} writes`} (${message.message})`);
            if (!this.catchUp) this.drainOutbox();
            return;
          }
        }
        this.options.log.warn(`server error ${message.code ?? ''}: ${message.message}`);
        this.options.status.error(message.code ?? 'server_error', message.message);
        if (message.code === 'rate_limited' || message.code === 'internal') this.restartSession();
        return;
      case 'sync_complete':
        return this.syncCompleted(message.repository);
      case 'ack': {
        // Read after the await: writes counted meanwhile must not be lost.
        const removed = await this.outbox.acknowledge(message.eventIds);
        this.pending = Math.max(0, this.pending - removed);
        this.options.status.update({ pending: this.pending });
        if (removed > 0) {
          this.waitingSince = this.pending > 0 ? this.clock.now() : undefined;
          this.endStall();
        }
        if (!this.catchUp) this.drainOutbox();
        return;
      }
    }
  }

  /** The server takes no pages of this origin. Said in the status; retried only at the longest
   *  backoff, as the fix (the server's ALLOWED_ORIGINS) is nothing a tab can signal: no storm. */
  private originRefused(message: string): void {
    this.options.log.warn(`origin refused: ${message}`);
    this.options.status.error(ErrorCode.originRefused, message);
    this.failedAttempts = Math.max(this.failedAttempts, LONGEST_BACKOFF_ATTEMPT);
  }

  /** Applying failed (storage): reconnect, so catch-up resumes from the last stored cursor. */
  private handlingFailed(socket: SocketLike, error: unknown): void {
    const failure = storageFailure(error);
    this.options.log.warn(`could not handle a server message: ${failure.message}`);
    this.options.status.error(failure.code, failure.message);
    if (socket === this.socket) this.restartSession();
  }

  /** The server dropped one of our messages (which one, it does not say), or we could not
   *  apply one of its: start over on a new socket. The outbox is sent again and catch-up
   *  resumes from the stored cursors, so nothing is lost. */
  private restartSession(): void {
    this.disconnect();
    this.scheduleReconnect();
  }

  private async authSucceeded(): Promise<void> {
    // A re-authentication in place keeps what is in flight (the server handles messages in
    // order); after a refusal or on a new socket, everything unacknowledged goes again.
    if (!this.authenticated) {
      this.outbox.reset();
      // The stall clock restarts with the session, unless the watchdog itself reconnected.
      if (!this.stallReconnected) this.waitingSince = this.pending > 0 ? this.clock.now() : undefined;
      this.clock.clear(this.stallTimer);
      this.stallTimer = this.clock.setInterval(() => this.checkStall(), Math.max(10, Math.min(1000, this.options.stallAfter / 4)));
    }
    this.authenticated = true;
    this.failedAttempts = 0;
    this.options.status.update({ authenticated: true, unauthorized: false });
    this.noteState();
    // Catch up even after an in-place re-authentication: the server may not have broadcast
    // to this connection while it switched identities.
    this.catchUp = { current: undefined, waiting: [...this.options.repositories], received: 0, broadcastSeen: new Map() };
    this.options.status.update({ syncing: true });
    await this.requestNextRepository(this.catchUp);
  }

  private async requestNextRepository(catchUp: CatchUp): Promise<void> {
    const repository = catchUp.waiting.shift();
    catchUp.current = repository;
    catchUp.received = 0;
    if (repository === undefined) {
      this.catchUp = null;
      this.options.status.update({ syncing: false, progress: undefined, lastSyncAt: this.isoNow() });
      this.drainOutbox();
      return;
    }
    const afterSequence = await this.options.storage.getCursor(repository);
    if (catchUp !== this.catchUp) return;
    this.send({ type: 'request_events', repository, afterSequence });
    this.options.status.update({ progress: { repository, received: 0 } });
  }

  /** Applies consecutive `events` frames in one transaction, each as it would be alone. */
  private async eventsReceived(frames: readonly MessageOf<ServerMessage, 'events'>[]): Promise<void> {
    const pages: RemotePage[] = [];
    for (const { repository, events, hasMore } of frames) {
      if (!this.options.repositories.includes(repository)) {
        this.options.log.warn(`dropped events of unknown repository ${repository}`);
        continue;
      }
      const highest = highestSequence(events);
      const catchUp = this.catchUp;
      let cursor: number | undefined = highest;
      if (catchUp && (catchUp.current === repository || catchUp.waiting.includes(repository))) {
        const isPage = hasMore !== undefined && catchUp.current === repository;
        if (isPage) {
          catchUp.received += events.length;
          this.options.status.update({ progress: { repository, received: catchUp.received } });
        } else {
          if (highest !== undefined) catchUp.broadcastSeen.set(repository, Math.max(highest, catchUp.broadcastSeen.get(repository) ?? 0));
          cursor = undefined;
        }
      }
      pages.push({ repository, events, cursor });
    }
    await this.options.remote.apply(pages);
  }

  private async syncCompleted(repository: string | undefined): Promise<void> {
    const catchUp = this.catchUp;
    const current = catchUp?.current;
    if (!catchUp || current === undefined || (repository !== undefined && repository !== current)) return;
    const seen = catchUp.broadcastSeen.get(current);
    if (seen !== undefined) await this.options.storage.commit([], new Map([[current, seen]]));
    if (catchUp === this.catchUp) this.syncedAt.set(current, this.isoNow());
    await this.requestNextRepository(catchUp);
  }

  /** What the server said it takes (`auth_success.maxMessageBytes`, the default when it names
   *  none), never above the default: what is written offline stays sendable to any server with
   *  default limits. */
  private serverTakes(maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES): void {
    const frameBytes = Math.min(DEFAULT_MAX_MESSAGE_BYTES, maxMessageBytes);
    this.outbox.serverTakes(frameBytes);
    this.options.serverTakes?.(frameBytes);
  }

  /** A write this server will never take (larger than its frame cap, which is lower than the
   *  one it was written under). */
  private async dropUnsendable(entry: OutboxEntry, maxBatchBytes: number): Promise<void> {
    const { repository, event } = entry;
    await this.setAside([entry], 'too_large', `${repository} record ${event.dataId} (event ${event.eventId}) is larger than this server takes (${maxBatchBytes} bytes of events per frame)`);
  }

  /**
   * Writes the server will refuse again as they are: out of the outbox, so that they hold up
   * neither the writes after them nor the stall watchdog, and said loudly. The local records
   * keep them.
   */
  private async setAside(entries: readonly OutboxEntry[], code: ServerErrorCode, why: string): Promise<void> {
    const message = `${why}: ${entries.length === 1 ? 'it' : `these ${entries.length} writes`} will not sync; the local copy stays`;
    this.options.log.error(message);
    this.options.status.error(code, message);
    const at = this.isoNow();
    for (const { repository, event } of entries) this.setAsideWrites.push({ repository, id: event.dataId, eventId: event.eventId, code, reason: why, at });
    this.setAsideWrites.splice(0, this.setAsideWrites.length - SET_ASIDE_KEPT);
    try {
      await this.options.storage.removeOutbox(entries.map((entry) => entry.key));
      this.pending = Math.max(0, this.pending - entries.length);
      this.options.status.update({ pending: this.pending });
    } catch (error) {
      // Still in the outbox: the next session finds them again, and tries again.
      this.options.log.warn(`could not take the refused writes out of the outbox: ${describe(error)}`);
    }
  }

  private isoNow(): string {
    return new Date(this.clock.now()).toISOString();
  }

  private drainOutbox(): void {
    this.outbox.drain().catch((error: unknown) => {
      const failure = storageFailure(error);
      this.options.log.warn(`could not send the outbox: ${failure.message}`);
      this.options.status.error(failure.code, failure.message);
    });
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

function highestSequence(events: readonly SyncEvent[]): number | undefined {
  let highest: number | undefined;
  for (const { serverSequence } of events) {
    if (serverSequence !== undefined && (highest === undefined || serverSequence > highest)) highest = serverSequence;
  }
  return highest;
}

function sameCredentials(a: Credentials, b: Credentials): boolean {
  return a.authToken === b.authToken && JSON.stringify(sortedEntries(a.headers)) === JSON.stringify(sortedEntries(b.headers));
}

function sortedEntries(headers: Record<string, string> | undefined): [string, string][] {
  return Object.entries(headers ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
