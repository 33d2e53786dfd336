/**
 * This runtime among the other runtimes of the profile on the same database (peers.ts): whether
 * it leads (holds the connection) or follows, what status its tabs see, and what it tells the
 * others and does with what they tell. Without peers (a lone runtime) it just leads or waits.
 */
import type { Credentials, SyncStatus } from '../../protocol/tab-api';
import type { Logger } from '../config';
import type { SyncEngine } from '../sync/engine';
import { describe } from '../errors';
import type { TabHub } from '../runtime/hub';
import type { PeerMessage, Peers } from './peers';
import type { StatusStore } from '../runtime/status';
import type { RecordRow, SyncStorage } from '../storage/storage';

/** How long a tab's attach waits for the leader's status before it gets this runtime's own. */
const LEADER_STATUS_WAIT_MS = 500;

export interface RoleParts {
  peers: Peers | undefined;
  hub: TabHub;
  engine: SyncEngine;
  status: StatusStore;
  storage: SyncStorage;
  log: Logger;
  /** What another runtime did to the data that this one must follow. */
  follow?: { namespace(namespace: string): void; cleared(): void };
}

export class Role {
  private leading: boolean;
  /** What a follower shows its tabs: the leader's last status, with the outbox size counted
   *  here (the outbox is shared, and a write counts the moment it commits). */
  private leaderStatus: SyncStatus | undefined;
  /** Settles once there is a status worth showing: this runtime leads, or the leader's came. */
  private statusKnown = () => {};
  private readonly statusSettled = new Promise<void>((resolve) => (this.statusKnown = resolve));
  private peerChanges = Promise.resolve();
  private closed = false;

  constructor(
    private readonly parts: RoleParts,
    leading: boolean,
  ) {
    this.leading = leading;
    if (leading) this.statusKnown();
    else parts.engine.block('standby');
    parts.peers?.listen((message) => this.heard(message));
    parts.peers?.post({ type: 'hello' });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** The status this runtime's tabs see. */
  shown(): SyncStatus {
    const own = this.parts.status.get();
    return this.leading || !this.leaderStatus ? own : { ...this.leaderStatus, pending: own.pending };
  }

  /** Waits (briefly) until `shown()` is the shared status, so a new tab does not see a
   *  transition (disconnected → connected) that never happened. */
  settled(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, LEADER_STATUS_WAIT_MS);
      void this.statusSettled.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** The local status changed: the leader's goes to every runtime, and each shows its tabs. */
  statusChanged(snapshot: SyncStatus): void {
    if (this.leading) this.parts.peers?.post({ type: 'status', status: snapshot });
    this.parts.hub.broadcastStatus(this.shown());
  }

  /** This runtime committed rows: `written` local writes in the outbox, or remote events applied. */
  committed(rows: readonly RecordRow[], written: number): void {
    if (rows.length > 0) this.parts.peers?.post({ type: 'changed', records: rows.map((row) => [row.repository, row.id]), written });
  }

  /** A tab asked to start or stop the shared sync. */
  started(started: boolean): void {
    this.parts.peers?.post({ type: started ? 'start' : 'stop' });
  }

  credentialsUpdated(credentials: Credentials): void {
    this.parts.peers?.post({ type: 'credentials', credentials });
  }

  /** The server refused the credentials and this runtime's tabs had none better: the tabs of the
   *  other runtimes may; one that does sends `credentials`. */
  credentialsNotFound(): void {
    this.parts.peers?.post({ type: 'credentials_needed' });
  }

  /** The session's namespace is another one now: the other runtimes move to its database too. */
  namespaceMoved(namespace: string): void {
    this.parts.peers?.post({ type: 'namespace', namespace });
  }

  /** The shown namespace's local data was cleared here. */
  cleared(): void {
    this.parts.peers?.post({ type: 'cleared' });
  }

  /** This runtime now holds the connection: it opens the socket (once started) and its status
   *  becomes every tab's. */
  async lead(): Promise<void> {
    if (this.leading || this.closed) return;
    const { engine, status, hub, peers } = this.parts;
    this.leading = true;
    this.leaderStatus = undefined;
    this.statusKnown();
    // Followers wrote to the outbox without this runtime counting.
    await engine.countPending();
    engine.unblock('standby');
    const current = status.get();
    hub.broadcastStatus(current);
    peers?.post({ type: 'status', status: current });
  }

  close(): void {
    this.closed = true;
    this.parts.peers?.close();
  }

  private heard(message: PeerMessage): void {
    const { engine, hub, peers, status } = this.parts;
    switch (message.type) {
      case 'hello':
        if (this.leading) peers?.post({ type: 'status', status: status.get() });
        return;
      case 'status':
        if (this.leading) return;
        this.leaderStatus = message.status;
        this.statusKnown();
        hub.broadcastStatus(this.shown());
        // The leader may have removed acknowledged entries: count again.
        engine.outboxChanged();
        return;
      case 'changed':
        this.reload(message.records);
        if (message.written > 0) engine.outboxChanged();
        return;
      case 'start':
        return engine.start();
      case 'stop':
        return engine.stop();
      case 'credentials':
        return engine.updateCredentials(message.credentials);
      case 'credentials_needed':
        if (!this.leading) void this.offerCredentials();
        return;
      case 'namespace':
        return this.parts.follow?.namespace(message.namespace);
      case 'cleared':
        return this.parts.follow?.cleared();
    }
  }

  /** Another runtime committed these records: re-read them here (messages of different runtimes
   *  may cross; the database holds the latest) and tell the watchers, in arrival order. */
  private reload(records: [string, string][]): void {
    const { hub, storage, log } = this.parts;
    this.peerChanges = this.peerChanges
      .then(async () => {
        const rows = await Promise.all(records.map(([repository, id]) => storage.getRecord(repository, id)));
        hub.changed(rows.filter((row): row is RecordRow => row !== undefined));
      })
      .catch((error: unknown) => log.warn(`could not read records another worker changed: ${describe(error)}`));
  }

  private async offerCredentials(): Promise<void> {
    const offered = await this.parts.hub.requestCredentials();
    if (!offered || this.closed) return;
    this.parts.engine.updateCredentials(offered);
    this.credentialsUpdated(offered);
  }
}
