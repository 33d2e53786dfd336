/**
 * The sync engine: the composition of the sync parts behind the methods the runtime calls. The
 * connection (the socket as a state machine), the credentials, the catch-up, the pending outbox
 * and the session that routes frames between them; here only their wiring and the connection's
 * state as diagnostics show it.
 */
import type { ConnectionState, Credentials, Diagnostics, SetAsideWrite } from '../../protocol/tab-api';
import { systemClock, type Clock } from '../clock';
import type { Logger } from '../config';
import type { RemoteApplier } from '../local/remote';
import { PendingOutbox } from '../outbox/pending';
import type { StatusStore } from '../runtime/status';
import type { OutboxEntry, SyncStorage } from '../storage/storage';
import { CatchUp } from './catch-up';
import { Connection, type ConnectionOptions } from './connection';
import { ASKING, CredentialsKeeper, UNAUTHORIZED } from './credentials';
import { Session, STALL } from './session';

/** The connection's options (url, socket factory, backoff, heartbeat, timeouts), and the rest. */
export interface EngineOptions extends Omit<ConnectionOptions, 'clock' | 'log' | 'random'> {
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

/** Holds of the connection: before `start`, after `close`, and the callers' blockers (prefixed). */
const STOPPED = 'stopped';
const CLOSED = 'closed';
const BLOCKED = 'blocked:';

export class SyncEngine {
  private readonly connection: Connection;
  private readonly credentials: CredentialsKeeper;
  private readonly catchUp: CatchUp;
  private readonly outbox: PendingOutbox;
  private readonly session: Session;
  private readonly clock: Clock;
  private state: ConnectionState = 'stopped';
  private stateSince: string;

  constructor(private readonly options: EngineOptions) {
    const { storage, status, log } = options;
    const clock = (this.clock = options.clock ?? systemClock);
    this.stateSince = this.isoNow();
    const connection = (this.connection = new Connection({ ...options, clock }));
    connection.pause(STOPPED);
    const send = connection.send.bind(connection);
    this.outbox = new PendingOutbox({ storage, send, sharedOutbox: options.sharedOutbox, stallAfter: options.stallAfter, status, log, clock });
    this.catchUp = new CatchUp({ repositories: options.repositories, storage, status, send, clock, log });
    this.credentials = new CredentialsKeeper(connection, status, options.askForCredentials, log);
    this.session = new Session({
      connection,
      credentials: this.credentials,
      catchUp: this.catchUp,
      outbox: this.outbox,
      remote: options.remote,
      status,
      log,
      serverTakes: options.serverTakes,
      namespaceNamed: options.namespaceNamed,
    });
    connection.on('trouble', ({ code, message }) => status.error(code, message));
    connection.on('changed', () => this.noteState());
    this.session.on('changed', () => this.noteState());
    this.outbox.on('stalled', () => connection.restart(STALL));
  }

  start(): void {
    if (!this.connection.isHeld(STOPPED)) return;
    this.options.status.update({ started: true });
    this.connection.release(STOPPED, true);
  }

  /** Closes the socket and stops reconnecting; local writes keep working. */
  stop(): void {
    this.connection.block(STOPPED);
    this.options.status.update({ started: false });
  }

  /** Stops for good; resolves once the socket is released, so that whoever opens the next one
   *  never overlaps with it. */
  async close(): Promise<void> {
    this.stop();
    this.connection.pause(CLOSED);
    await Promise.all([this.session.idle(), this.connection.close()]);
  }

  /** Keeps the socket closed while `reason` holds (started or not); reasons add up. */
  block(reason: string): void {
    this.connection.block(BLOCKED + reason);
  }

  /** `reason` no longer holds: connects at once when nothing else blocks. */
  unblock(reason: string): void {
    this.connection.release(BLOCKED + reason, true);
  }

  /** The connection as support pages and tests see it. */
  connectionInfo(): Diagnostics['connection'] {
    const { lastError } = this.options.status.get();
    const retryAt = this.connection.retryAt;
    return {
      state: this.state,
      since: this.stateSince,
      reconnects: this.connection.reconnects,
      ...(this.connection.socket !== undefined ? this.session.describe() : {}),
      ...(lastError ? { lastError } : {}),
      ...(retryAt !== undefined ? { reconnectAt: new Date(retryAt).toISOString() } : {}),
    };
  }

  /** The writes this runtime took out of the outbox as unsendable, newest last. */
  setAsideLately(): readonly SetAsideWrite[] {
    return this.outbox.setAsideLately();
  }

  /** When each repository last finished a catch-up, if it did since the storage opened. */
  lastSyncs(): ReadonlyMap<string, string> {
    return this.catchUp.lastSyncs();
  }

  /** The storage was replaced by an empty one: what was synced into the old one is not there. */
  storageReplaced(): void {
    this.catchUp.storageReplaced();
    this.outbox.storageReplaced();
  }

  /** Present fields replace the current ones; an open socket re-authenticates in place. */
  updateCredentials(credentials: Credentials): void {
    this.credentials.update(credentials);
  }

  /** A tab's initial credentials, taken only while the runtime has none. */
  offerCredentials(credentials: Credentials): void {
    this.credentials.offer(credentials);
  }

  /** The browser is back online: no reason to wait for the backoff. */
  networkOnline(): void {
    if (!this.connection.isHeld(STOPPED)) this.connection.retryNow();
  }

  /** Reads the outbox size (left by an earlier run, or written by another runtime); calls
   *  during a count share the next one, so the last count always follows the last change. */
  countPending(): Promise<void> {
    return this.outbox.count();
  }

  /** Another runtime of this profile wrote to or acknowledged from the shared outbox: count it,
   *  and push what waits if this runtime holds the connection. */
  outboxChanged(): void {
    this.outbox.changed();
  }

  /** Local writes were committed: count them and push them if the server is reachable; `queued`,
   *  the entries the commit returned, go out without being read back. */
  outboxGrew(events: number, queued?: readonly OutboxEntry[]): void {
    this.outbox.grew(events, queued);
  }

  /** Records a change of the connection's state as diagnostics show it, with its time. */
  private noteState(): void {
    const state = this.describeState();
    if (state === this.state) return;
    this.state = state;
    this.stateSince = this.isoNow();
  }

  private describeState(): ConnectionState {
    const connection = this.connection;
    if (connection.phase === 'closed' || connection.isHeld(CLOSED)) return 'closed';
    if (connection.isHeld(STOPPED)) return 'stopped';
    if ([...connection.heldBy()].some((reason) => reason.startsWith(BLOCKED))) return 'standby';
    if (connection.isHeld(UNAUTHORIZED)) return 'unauthorized';
    if (connection.phase === 'open') return this.session.isAuthenticated ? 'connected' : 'authenticating';
    if (connection.phase === 'connecting') return 'connecting';
    return connection.isHeld(ASKING) ? 'authenticating' : 'retrying';
  }

  private isoNow(): string {
    return new Date(this.clock.now()).toISOString();
  }
}
