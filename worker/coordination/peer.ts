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
import { FollowedPending } from './followed-pending';
import type { PeerMessage, Peers } from './peers';
import { WriteForwarding, type WriteCall } from './write-forwarding';

/** How long a tab's attach waits for the leader's status before it gets this runtime's own. */
const LEADER_STATUS_WAIT_MS = 500;

abstract class SharedDatabase implements Coordination {
  readonly events = new Emitter<CoordinationEvents>();
  abstract readonly sharesOutbox: boolean;
  abstract readonly outlivesTabs: boolean;
  private isLeading: boolean;
  /** What a follower shows its tabs: the leader's last status, its pending count with this
   *  runtime's writes it did not count yet (a write counts the moment it commits). */
  private leaderStatus: SyncStatus | undefined;
  /** What that status said it counted; absent from an older runtime, whose followers count the
   *  shared outbox themselves. */
  private leaderCounted: { counted: Readonly<Record<string, number>>; since: number | undefined } | undefined;
  /** When this runtime began to lead. */
  private leadingSince: number | undefined;
  private readonly pending: FollowedPending;
  private readonly forwarding: WriteForwarding;
  /** Settles once there is a status worth showing: this runtime leads, or the leader's came. */
  private statusKnown = () => {};
  private readonly statusSettled = new Promise<void>((resolve) => (this.statusKnown = resolve));
  private peerChanges = Promise.resolve();
  private closed = false;
  /** Lets go of the connection, or withdraws the request for it, once asked for. */
  private resign: (() => void) | undefined;

  constructor(
    private readonly parts: CoordinationParts,
    private readonly peers: Peers | undefined,
    private readonly elect: Election | undefined,
    leading: boolean,
  ) {
    this.isLeading = leading;
    this.pending = new FollowedPending(parts.id);
    this.forwarding = new WriteForwarding(parts.id, (message) => this.peers?.post(message));
    if (leading) {
      this.statusKnown();
      this.leadingSince = parts.clock.now();
      this.forwarding.writerIs(parts.id);
    }
  }

  abstract mode(): WorkerMode;

  leading(): boolean {
    return this.isLeading;
  }

  shown(): SyncStatus {
    const own = this.parts.status.get();
    if (this.isLeading || !this.leaderStatus) return own;
    const counted = this.leaderCounted;
    const pending = counted ? this.pending.follow(this.leaderStatus.pending, counted.counted, counted.since) : own.pending;
    return { ...this.leaderStatus, pending };
  }

  settled(): Promise<void> {
    return new Promise((resolve) => {
      const { clock } = this.parts;
      const timer = clock.setTimeout(resolve, LEADER_STATUS_WAIT_MS);
      void this.statusSettled.then(() => {
        clock.clear(timer);
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
    this.leadingSince = this.parts.clock.now();
    this.leaderStatus = undefined;
    this.statusKnown();
    await this.events.settle('leading');
    // The writes that waited for a writer's answer are this runtime's to commit now.
    this.forwarding.writerIs(this.parts.id);
    const current = this.parts.status.get();
    this.events.emit('shown', current);
    this.postStatus(current);
  }

  write(call: WriteCall): Promise<void> {
    return this.forwarding.write(call);
  }

  writeWith(run: (call: WriteCall) => Promise<void>): void {
    this.forwarding.runWith(run);
  }

  /** The local status changed: the leader's goes to every runtime, and each shows its tabs. */
  statusChanged(snapshot: SyncStatus): void {
    if (this.isLeading) this.postStatus(snapshot);
    this.events.emit('shown', this.shown());
  }

  /** This runtime committed rows: `written` local writes in the outbox, or remote events applied. */
  committed(rows: readonly RecordRow[], written: number): void {
    if (rows.length === 0) return;
    const records = rows.map((row): [string, string] => [row.repository, row.id]);
    // A leader's own writes are in its own count at once.
    const seq = written > 0 && !this.isLeading ? this.pending.wrote(written, this.parts.clock.now()) : undefined;
    this.peers?.post({ type: 'changed', records, written, ...(seq === undefined ? {} : { from: this.parts.id, seq }) });
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
    this.forwarding.close();
    this.peers?.close();
  }

  release(): void {
    this.resign?.();
  }

  private heard(message: PeerMessage): void {
    switch (message.type) {
      case 'hello':
        if (this.isLeading) this.postStatus();
        return;
      case 'status':
        if (this.isLeading) return;
        this.leaderStatus = message.status;
        this.leaderCounted = message.counted && { counted: message.counted, since: message.leadingSince };
        // An older leader takes no forwarded writes: this runtime then writes the database itself.
        this.forwarding.writerIs(message.writer ?? this.parts.id);
        this.statusKnown();
        this.events.emit('shown', this.shown());
        // An older leader says nothing of what it counted: count again (it may have removed entries).
        if (!message.counted) this.events.emit('outboxChanged');
        return;
      case 'changed':
        this.reload(message.records);
        if (message.written > 0) void this.countWrites(message.from, message.seq);
        return;
      case 'write':
        // This leader's status, which counts the write, leaves before the answer: the writing
        // tab never sees a count without it.
        if (this.isLeading && !this.closed) void this.forwarding.serve(message, () => this.postStatus());
        return;
      case 'written':
        // The writer announced the commit before it answered: its records reach this runtime's
        // watchers first, as a write committed here would.
        void this.peerChanges.then(() => this.forwarding.answered(message));
        return;
      case 'credentials_needed':
        if (!this.isLeading && !this.closed) this.events.emit('credentialsNeeded');
        return;
      case 'credentials':
        return this.events.emit('credentials', message.credentials);
      case 'namespace':
        return this.events.emit('namespace', message.namespace);
      case 'cleared':
        // In line with the records announced around it: a forwarded clear is answered after it.
        this.peerChanges = this.peerChanges.then(() => this.events.settle('cleared')).catch((error: unknown) => this.parts.log.warn(`could not follow a clear of another worker: ${describe(error)}`));
        return;
      default:
        return this.events.emit(message.type);
    }
  }

  /** Another runtime wrote to the outbox: count it, and say so once counted if this one leads. */
  private async countWrites(from: string | undefined, seq: number | undefined): Promise<void> {
    try {
      await this.events.settle('peerWrote');
    } catch {
      return; // the count failed, and said so
    }
    if (from === undefined || seq === undefined || this.closed) return;
    this.pending.countedWrite(from, seq);
    if (this.isLeading) this.postStatus();
  }

  private postStatus(status = this.parts.status.get()): void {
    const since = this.leadingSince === undefined ? {} : { leadingSince: this.leadingSince };
    this.peers?.post({ type: 'status', status, counted: this.pending.counted(), writer: this.parts.id, ...since });
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
