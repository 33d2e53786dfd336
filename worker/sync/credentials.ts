/**
 * The credentials the `auth` message carries: held in memory only, never written to storage.
 * After a refusal (`auth_failed`) the tabs are asked for better ones; meanwhile no new socket
 * opens (the `credentials` hold), and without better ones the connection stays closed
 * (`unauthorized`) until `update` brings some. Emits `renewed` when the session should
 * authenticate with new credentials.
 */
import { EVENTS_BATCH_FEATURE, type ClientMessage } from '../../protocol/messages';
import type { Credentials } from '../../protocol/tab-api';
import type { Logger } from '../config';
import { Emitter } from '../emitter';
import { describe } from '../errors';
import type { StatusStore } from '../runtime/status';
import type { Connection } from './connection';

/** Holds of the connection this part sets. */
export const ASKING = 'credentials';
export const UNAUTHORIZED = 'unauthorized';

export class CredentialsKeeper extends Emitter<{ renewed: undefined }> {
  private credentials: Credentials = {};
  /** Bumped whenever credentials change, so an older credentials request knows it is stale. */
  private version = 0;
  /** `auth` messages sent on the current socket and not yet answered: the server answers them
   *  in order, so each answer belongs to the oldest. */
  private unanswered = 0;

  constructor(
    private readonly connection: Connection,
    private readonly status: StatusStore,
    private readonly askForCredentials: () => Promise<Credentials | null>,
    private readonly log: Required<Logger>,
  ) {
    super();
  }

  get asking(): boolean {
    return this.connection.isHeld(ASKING);
  }

  /** The `auth` message of the current credentials, counted as sent on the current socket. */
  message(): ClientMessage {
    this.unanswered++;
    const { authToken, headers } = this.credentials;
    // Batches committed together come as one frame, applied as one change.
    return { type: 'auth', token: authToken, headers, features: [EVENTS_BATCH_FEATURE] };
  }

  /** The server answered the oldest `auth` in flight. True when a later one is still in flight:
   *  then this answer is about credentials already replaced, and the next answer decides. */
  answered(): boolean {
    this.unanswered = Math.max(0, this.unanswered - 1);
    return this.unanswered > 0;
  }

  /** A new socket: nothing is owed on it (what the last one owed went with it). */
  socketOpened(): void {
    this.unanswered = 0;
  }

  /** Present fields replace the current ones. */
  update(credentials: Credentials): void {
    this.credentials = { ...this.credentials, ...credentials };
    this.version++;
    if (this.connection.isHeld(UNAUTHORIZED)) {
      this.status.update({ unauthorized: false });
      this.connection.release(UNAUTHORIZED);
    }
    this.emit('renewed', undefined);
  }

  /** A tab's initial credentials, taken only while there are none. */
  offer(credentials: Credentials): void {
    if (this.credentials.authToken === undefined && this.credentials.headers === undefined) this.update(credentials);
  }

  /** The server refused the current credentials: asks the tabs for others (once at a time). */
  async refused(): Promise<void> {
    if (this.asking) return;
    const version = this.version;
    const failed = this.credentials;
    this.connection.pause(ASKING);
    let offered: Credentials | null = null;
    try {
      offered = await this.askForCredentials();
    } catch (error) {
      this.log.warn(`asking tabs for credentials failed: ${describe(error)}`);
    }
    // update ran meanwhile: it re-sent auth on an open socket; a closed one could not reconnect
    // while the tabs were being asked, and does now.
    if (version !== this.version) {
      this.connection.release(ASKING);
      return;
    }
    const next = offered ? { ...failed, ...offered } : null;
    if (next && !sameCredentials(next, failed)) {
      this.credentials = next;
      this.version++;
      this.connection.release(ASKING);
      this.emit('renewed', undefined);
      return;
    }
    // No better credentials: wait for update instead of retrying in a loop.
    this.status.update({ unauthorized: true });
    this.connection.block(UNAUTHORIZED);
    this.connection.release(ASKING);
  }
}

function sameCredentials(a: Credentials, b: Credentials): boolean {
  return a.authToken === b.authToken && JSON.stringify(sortedEntries(a.headers)) === JSON.stringify(sortedEntries(b.headers));
}

function sortedEntries(headers: Record<string, string> | undefined): [string, string][] {
  return Object.entries(headers ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
