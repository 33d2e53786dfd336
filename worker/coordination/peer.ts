/**
 * The strategies that share a database with other runtimes of the profile (peers.ts): whether
 * this one leads (holds the connection) or follows, what status its tabs see, what it tells the
 * others, and what it makes of what they tell (as events, see CoordinationEvents).
 *
 * - SharedLeader: the SharedWorker. Its peers, if any, are other deployments' workers on the
 *   same database; it shows the leader's status while it waits for the connection lock.
 * - Peer: a dedicated worker per tab, elected leader or follower of the others.
 */
import type { Credentials, SyncStatus } from '../../protocol/tab-api';
import { describe } from '../errors';
import { Emitter } from '../events';
import type { RecordRow } from '../storage/storage';
import type { Coordination, CoordinationEvents, CoordinationParts, Election, WorkerMode } from './coordination';
import type { PeerMessage, Peers } from './peers';

/** How long a tab's attach waits for the leader's status before it gets this runtime's own. */
const LEADER_STATUS_WAIT_MS = 500;

abstract class SharedDatabase implements Coordination {
  readonly events = new Emitter<CoordinationEvents>();
  abstract readonly sharesOutbox: boolean;
  abstract readonly outlivesTabs: boolean;
  private isLeading: boolean;
  /** What a follower shows its tabs: the leader's last status, with the outbox size counted
   *  here (the outbox is shared, and a write counts the moment it commits). */
  private leaderStatus: SyncStatus | undefined;
  /** Settles once there is a status worth showing: this runtime leads, or the leader's came. */
  private statusKnown = () => {};
  private readonly statusSettled = new Promise<void>((resolve) => (this.statusKnown = resolve));
  private peerChanges = Promise.resolve();
  private closed = false;
  private resign = () => {};

  constructor(
    private readonly parts: CoordinationParts,
    private readonly peers: Peers | undefined,
    private readonly elect: Election | undefined,
    leading: boolean,
  ) {
    this.isLeading = leading;
    if (leading) this.statusKnown();
  }

  abstract mode(): WorkerMode;

  leading(): boolean {
    return this.isLeading;
  }

  shown(): SyncStatus {
    const own = this.parts.status.get();
    return this.isLeading || !this.leaderStatus ? own : { ...this.leaderStatus, pending: own.pending };
  }

  settled(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, LEADER_STATUS_WAIT_MS);
      void this.statusSettled.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  begin(): void {
    this.peers?.listen((message) => this.heard(message));
    this.peers?.post({ type: 'hello' });
    if (this.elect) this.resign = this.elect(() => void this.lead());
  }

  async lead(): Promise<void> {
    if (this.isLeading || this.closed) return;
    this.isLeading = true;
    this.leaderStatus = undefined;
    this.statusKnown();
    await this.events.settle('leading');
    const current = this.parts.status.get();
    this.events.emit('shown', current);
    this.postStatus(current);
  }

  /** The local status changed: the leader's goes to every runtime, and each shows its tabs. */
  statusChanged(snapshot: SyncStatus): void {
    if (this.isLeading) this.postStatus(snapshot);
    this.events.emit('shown', this.shown());
  }

  /** This runtime committed rows: `written` local writes in the outbox, or remote events applied. */
  committed(rows: readonly RecordRow[], written: number): void {
    if (rows.length > 0) this.peers?.post({ type: 'changed', records: rows.map((row) => [row.repository, row.id]), written });
  }

  started(started: boolean): void {
    this.peers?.post({ type: started ? 'start' : 'stop' });
  }

  credentialsUpdated(credentials: Credentials): void {
    this.peers?.post({ type: 'credentials', credentials });
  }

  /** The server refused the credentials and this runtime's tabs had none better: the tabs of the
   *  other runtimes may; one that does sends `credentials`. */
  credentialsNotFound(): void {
    this.peers?.post({ type: 'credentials_needed' });
  }

  namespaceMoved(namespace: string): void {
    this.peers?.post({ type: 'namespace', namespace });
  }

  cleared(): void {
    this.peers?.post({ type: 'cleared' });
  }

  close(): void {
    this.closed = true;
    this.peers?.close();
  }

  release(): void {
    this.resign();
  }

  private heard(message: PeerMessage): void {
    switch (message.type) {
      case 'hello':
        if (this.isLeading) this.postStatus();
        return;
      case 'status':
        if (this.isLeading) return;
        this.leaderStatus = message.status;
        this.statusKnown();
        this.events.emit('shown', this.shown());
        // The leader may have removed acknowledged entries: count again.
        this.events.emit('outboxChanged');
        return;
      case 'changed':
        this.reload(message.records);
        if (message.written > 0) this.events.emit('outboxChanged');
        return;
      case 'credentials_needed':
        if (!this.isLeading && !this.closed) this.events.emit('credentialsNeeded');
        return;
      case 'credentials':
        return this.events.emit('credentials', message.credentials);
      case 'namespace':
        return this.events.emit('namespace', message.namespace);
      default:
        return this.events.emit(message.type);
    }
  }

  private postStatus(status = this.parts.status.get()): void {
    this.peers?.post({ type: 'status', status });
  }

  /** Another runtime committed these records: re-read them here (messages of different runtimes
   *  may cross; the database holds the latest) and tell the watchers, in arrival order. */
  private reload(records: [string, string][]): void {
    const { storage, log } = this.parts;
    this.peerChanges = this.peerChanges
      .then(async () => {
        const rows = await Promise.all(records.map(([repository, id]) => storage.getRecord(repository, id)));
        this.events.emit('peerRecords', rows.filter((row): row is RecordRow => row !== undefined));
      })
      .catch((error: unknown) => log.warn(`could not read records another worker changed: ${describe(error)}`));
  }
}

/** The SharedWorker: leads once it holds the connection (from the start, without an election). */
export class SharedLeader extends SharedDatabase {
  readonly sharesOutbox: boolean;
  readonly outlivesTabs = true;

  constructor(parts: CoordinationParts, peers: Peers | undefined, elect: Election | undefined) {
    super(parts, peers, elect, elect === undefined);
    this.sharesOutbox = peers !== undefined;
  }

  mode(): WorkerMode {
    return 'shared';
  }
}

/** A dedicated worker beside the others of the profile: follows until elected. */
export class Peer extends SharedDatabase {
  readonly sharesOutbox = true;
  readonly outlivesTabs = false;

  constructor(parts: CoordinationParts, peers: Peers, elect: Election | undefined) {
    super(parts, peers, elect, false);
  }

  mode(): WorkerMode {
    return this.leading() ? 'leader' : 'follower';
  }
}
