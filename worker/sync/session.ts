/**
 * One authenticated session on the connection: `auth` when the socket opens, then frames routed by
 * type, one at a time, in arrival order (those of a replaced socket are skipped): `auth_success`
 * starts the catch-up and the outbox, `auth_failed` goes to the credentials, `events` to the
 * remote applier, `ack` and refusals to the outbox.
 */
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../protocol/limits';
import { ErrorCode, type MessageOf, type ServerMessage } from '../../protocol/messages';
import type { Diagnostics } from '../../protocol/tab-api';
import type { Logger } from '../config';
import { Emitter } from '../emitter';
import { storageFailure } from '../errors';
import type { RemoteApplier } from '../local/remote';
import type { PendingOutbox } from '../outbox/pending';
import type { StatusStore } from '../runtime/status';
import type { CatchUp } from './catch-up';
import type { Connection, ServerFrame } from './connection';
import type { CredentialsKeeper } from './credentials';

/** Bounds on the `events` frames applied in one transaction (a catch-up's pages queue up
 *  while the previous transaction commits; each transaction has a fixed cost). */
const MAX_JOINED_EVENTS = 5000;
const MAX_JOINED_CHARS = 16 * 1024 * 1024;

/** Who the session was let go by, when the stall watchdog restarts it. */
export const STALL = 'stall';

export interface SessionParts {
  connection: Connection;
  credentials: CredentialsKeeper;
  catchUp: CatchUp;
  outbox: PendingOutbox;
  remote: RemoteApplier;
  status: StatusStore;
  log: Required<Logger>;
  /** The largest frame the server takes, as this client honours it (on every authentication). */
  serverTakes?: ((frameBytes: number) => void) | undefined;
  /** The server named the session's namespace: resolves true when the storage moved there. */
  namespaceNamed?: ((namespace: string) => Promise<boolean>) | undefined;
}

type EventsFrame = MessageOf<ServerMessage, 'events'>;
type EventsBatchFrame = MessageOf<ServerMessage, 'events_batch'>;

/** A batch's parts as the live `events` frames they stand for, one per repository. */
function eventsFrames(message: EventsFrame | EventsBatchFrame): EventsFrame[] {
  if (message.type === 'events') return [message];
  return message.repositories.map(({ repository, events }) => ({ type: 'events', repository, events }));
}

export class Session extends Emitter<{ changed: undefined }> {
  private authenticatedNow = false;
  private inbox: Promise<void> = Promise.resolve();
  /** The `events` frames last queued in the inbox, not yet handled: the next such frame joins them. */
  private joinable: { socket: number; frames: EventsFrame[]; events: number; chars: number } | undefined;
  private details: Pick<Diagnostics['connection'], 'connectionId' | 'principal' | 'namespace'> = {};

  constructor(private readonly parts: SessionParts) {
    super();
    const { connection, credentials, catchUp, outbox, status } = parts;
    connection.on('open', () => {
      status.update({ connected: true });
      credentials.socketOpened();
      connection.send(credentials.message());
    });
    connection.on('frame', ({ socket, message, chars }) => this.received(socket, message, chars));
    connection.on('closed', ({ by }) => this.ended(by === STALL));
    credentials.on('renewed', () => this.authenticate());
    catchUp.on('done', () => outbox.catchUpEnded(true));
  }

  get isAuthenticated(): boolean {
    return this.authenticatedNow;
  }

  private get authenticated(): boolean {
    return this.authenticatedNow;
  }

  /** The one place authentication changes; `changed` tells the connection's describer. */
  private set authenticated(value: boolean) {
    if (value === this.authenticatedNow) return;
    this.authenticatedNow = value;
    this.emit('changed', undefined);
  }

  /** Who the server says this session is; empty before auth_success. */
  describe(): Pick<Diagnostics['connection'], 'connectionId' | 'principal' | 'namespace'> {
    return this.details;
  }

  /** Settles once the frames received so far are handled. */
  idle(): Promise<void> {
    return this.inbox;
  }

  /** Uses the current credentials: on the open socket, or on a new one. */
  authenticate(): void {
    const { connection, credentials, outbox } = this.parts;
    if (connection.isHeld('stopped')) return;
    if (connection.phase === 'open') {
      // Nothing goes out until the server says whose session it is now: the outbox may belong to
      // another namespace than the new credentials.
      this.authenticated = false;
      outbox.unauthenticated();
      connection.send(credentials.message());
    } else connection.connectNow();
  }

  /** The socket is gone: the next one starts a new session. */
  private ended(keepStall: boolean): void {
    this.authenticated = false;
    this.details = {};
    this.parts.catchUp.stop();
    this.parts.outbox.sessionEnded(keepStall);
    this.parts.status.update({ connected: false, authenticated: false, syncing: false, progress: undefined });
  }

  private received(socket: number, message: ServerFrame, chars: number): void {
    // At once, not queued: the server closes right after it, and the backoff must know first.
    if (message.type === 'error' && message.code === ErrorCode.originRefused) return this.originRefused(message.message);
    if (message.type !== 'events' && message.type !== 'events_batch') return this.enqueue(socket, () => this.handle(message));
    this.joinEvents(socket, eventsFrames(message), chars);
  }

  /** Pages that arrive while the last one waits its turn join it: one transaction for all. A
   *  batch's frames always go together, so a batch is applied as one change. */
  private joinEvents(socket: number, incoming: readonly EventsFrame[], chars: number): void {
    const events = incoming.reduce((count, frame) => count + frame.events.length, 0);
    const joinable = this.joinable;
    if (joinable && joinable.socket === socket && joinable.events < MAX_JOINED_EVENTS && joinable.chars < MAX_JOINED_CHARS) {
      joinable.frames.push(...incoming);
      joinable.events += events;
      joinable.chars += chars;
      return;
    }
    const frames = { socket, frames: [...incoming], events, chars };
    this.enqueue(socket, () => {
      if (this.joinable === frames) this.joinable = undefined;
      return this.parts.remote.apply(this.parts.catchUp.pages(frames.frames));
    });
    this.joinable = frames;
  }

  /** Handles frames one at a time, in arrival order; those of a replaced socket are skipped. */
  private enqueue(socket: number, handle: () => Promise<void>): void {
    this.joinable = undefined;
    this.inbox = this.inbox
      .then(() => (socket === this.parts.connection.socket ? handle() : undefined))
      .catch((error: unknown) => this.handlingFailed(socket, error));
  }

  private async handle(message: Exclude<ServerFrame, EventsFrame | EventsBatchFrame>): Promise<void> {
    switch (message.type) {
      case 'auth_success': {
        // Credentials replaced meanwhile: their own answer follows, and only it counts.
        if (this.parts.credentials.answered()) return;
        const { connectionId, principal, namespace } = message;
        this.details = { connectionId, principal, namespace };
        this.serverTakes(message.maxMessageBytes);
        const socket = this.parts.connection.socket;
        // Another namespace's data: this session starts over on its outbox and cursors.
        if (namespace !== undefined && (await this.parts.namespaceNamed?.(namespace))) this.authenticated = false;
        if (socket !== this.parts.connection.socket) return;
        return this.authSucceeded();
      }
      case 'error':
        return this.serverError(message);
      case 'sync_complete':
        return this.parts.catchUp.completed(message.repository);
      case 'ack':
        return this.parts.outbox.acknowledged(message.eventIds);
    }
  }

  private async serverError(message: MessageOf<ServerMessage, 'error'>): Promise<void> {
    const { credentials, outbox, status, log, connection } = this.parts;
    if (message.code === 'auth_failed') {
      // A refusal of credentials already replaced on this socket: the newer ones' answer follows.
      if (!credentials.answered()) this.authFailed(message.message);
      return;
    }
    // A message that crossed the server's auth_failed on the wire: that loss is reported
    // already, and what was refused goes out again once the new credentials are in.
    if (message.code === 'unauthenticated' && credentials.asking) return;
    if (message.eventIds && (await outbox.refused(message.eventIds, message.code ?? 'invalid_message', message.message))) return;
    log.warn(`server error ${message.code ?? ''}: ${message.message}`);
    status.error(message.code ?? 'server_error', message.message);
    // The server dropped one of our messages (which one, it does not say): start over on a new
    // socket. The outbox is sent again and catch-up resumes from the stored cursors.
    if (message.code === 'rate_limited' || message.code === 'internal') connection.restart();
  }

  private authFailed(message: string): void {
    const { catchUp, outbox, status, credentials } = this.parts;
    this.authenticated = false;
    outbox.unauthenticated();
    catchUp.stop();
    outbox.catchUpEnded(false);
    status.update({ authenticated: false, syncing: false, progress: undefined });
    status.error('auth_failed', message);
    void credentials.refused();
  }

  private async authSucceeded(): Promise<void> {
    const { connection, catchUp, outbox, status } = this.parts;
    // A re-authentication in place keeps what is in flight (the server handles messages in
    // order); after a refusal or on a new socket, everything unacknowledged goes again.
    outbox.authenticatedAs(!this.authenticated);
    this.authenticated = true;
    connection.succeeded();
    status.update({ authenticated: true, unauthorized: false });
    // Catch up even after an in-place re-authentication: the server may not have broadcast
    // to this connection while it switched identities.
    outbox.catchUpStarted();
    await catchUp.start();
  }

  /** The server takes no pages of this origin. Said in the status; retried only at the longest
   *  backoff, as the fix (the server's ALLOWED_ORIGINS) is nothing a tab can signal: no storm. */
  private originRefused(message: string): void {
    this.parts.log.warn(`origin refused: ${message}`);
    this.parts.status.error(ErrorCode.originRefused, message);
    this.parts.connection.backOffLongest();
  }

  /** Applying failed (storage): reconnect, so catch-up resumes from the last stored cursor. */
  private handlingFailed(socket: number, error: unknown): void {
    const failure = storageFailure(error);
    this.parts.log.warn(`could not handle a server message: ${failure.message}`);
    this.parts.status.error(failure.code, failure.message);
    if (socket === this.parts.connection.socket) this.parts.connection.restart();
  }

  /** What the server said it takes (`auth_success.maxMessageBytes`, the default when it names
   *  none), never above the default: what is written offline stays sendable to any server with
   *  default limits. */
  private serverTakes(maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES): void {
    const frameBytes = Math.min(DEFAULT_MAX_MESSAGE_BYTES, maxMessageBytes);
    this.parts.outbox.serverTakes(frameBytes);
    this.parts.serverTakes?.(frameBytes);
  }
}
