/**
 * How this runtime stands among the other runtimes of the browser profile: one interface, three
 * strategies, chosen once at start (`chooseCoordination`); nothing else in the worker asks which.
 *
 * - Lone: by itself (a dedicated worker whose data is in memory shares nothing): leads at once.
 * - SharedLeader: the SharedWorker of every tab; leads once it holds the connection lock (a new
 *   deployment's worker waits for the old one), hearing the other deployments' workers meanwhile.
 * - Peer: one dedicated worker per tab where SharedWorker is missing, on one database with the
 *   others: the elected leader holds the socket, the followers show its status and pass on what
 *   their tabs ask of the shared sync.
 */
import type { Credentials, Diagnostics, StorageMode, SyncStatus } from '../../protocol/tab-api';
import type { Clock } from '../clock';
import type { Emitter } from '../events';
import type { Logger } from '../config';
import type { TabWatcher } from '../runtime/hub';
import type { RecordRow, SyncStorage } from '../storage/storage';
import { Lone } from './lone';
import type { Peers } from './peers';
import { Peer, SharedLeader } from './peer';
import type { WriteCall } from './write-forwarding';

export type WorkerMode = Diagnostics['worker']['mode'];

/** Asks for the connection; calls `lead` once this runtime holds it. Returns the function that
 *  lets go (and withdraws a request still waiting). */
export type Election = (lead: () => void) => () => void;

/** What the runtime is, as its entry knows it. */
export type CoordinationPlan =
  /** The one SharedWorker of every tab (the default, and a runtime by itself in Node). `peers`:
   *  other deployments' workers on the database. Without `elect` it leads from the start. */
  | { strategy: 'shared'; peers?: Peers | undefined; elect?: Election | undefined; watchTab?: TabWatcher | undefined }
  /** A dedicated worker per tab, beside the others on one database. Without `elect` it follows
   *  until `lead()` (tests). */
  | { strategy: 'peer'; peers: Peers; elect?: Election | undefined };

/** What coordination tells the rest of the runtime; compose wires who listens. */
export interface CoordinationEvents extends Record<string, unknown> {
  /** This runtime holds the connection now: listeners count the outbox (others wrote it) and
   *  let the socket open. Awaited before the status is announced. */
  leading: undefined;
  /** The status this runtime's tabs see changed. */
  shown: SyncStatus;
  /** Another runtime committed these records (read again from the shared database). */
  peerRecords: readonly RecordRow[];
  /** The shared outbox may have changed (an older leader acknowledged from it): count it again. */
  outboxChanged: undefined;
  /** Another runtime wrote to the shared outbox: listeners count it (and push what waits, when
   *  leading); awaited until that count is done. */
  peerWrote: undefined;
  /** A tab of another runtime asked to start or stop the shared sync, or set credentials. */
  start: undefined;
  stop: undefined;
  credentials: Credentials;
  /** The leader's tabs had no better credentials: this runtime's tabs are asked. */
  credentialsNeeded: undefined;
  /** The leader's session moved to this namespace: the data shown follows. */
  namespace: string;
  /** Another runtime cleared the shown namespace's local data. */
  cleared: undefined;
}

export interface Coordination {
  readonly events: Emitter<CoordinationEvents>;
  /** Other runtimes write this runtime's outbox too: what it holds of it in memory is partial. */
  readonly sharesOutbox: boolean;
  /** The runtime may outlive its tabs (a SharedWorker): it lets go of the socket after the last. */
  readonly outlivesTabs: boolean;
  /** What diagnostics call this runtime. */
  mode(): WorkerMode;
  /** Holds the connection (leads) now; otherwise the socket stays closed. */
  leading(): boolean;
  /** The status this runtime's tabs see. */
  shown(): SyncStatus;
  /** Settles (briefly) once `shown()` is the shared status, so a new tab sees no transition
   *  that never happened. */
  settled(): Promise<void>;
  /** Starts hearing the others and asks for the connection. */
  begin(): void;
  /** This runtime now holds the connection. */
  lead(): Promise<void>;
  /** A tab's write (or clear): committed by this runtime when it is the database's writer (it
   *  leads), else forwarded to the writer and answered with the writer's answer. */
  write(call: WriteCall): Promise<void>;
  /** How this runtime commits a write itself (given once, by compose). */
  writeWith(run: (call: WriteCall) => Promise<void>): void;
  /** What this runtime tells the others. */
  statusChanged(snapshot: SyncStatus): void;
  committed(rows: readonly RecordRow[], written: number): void;
  started(started: boolean): void;
  credentialsUpdated(credentials: Credentials): void;
  credentialsNotFound(): void;
  namespaceMoved(namespace: string): void;
  cleared(): void;
  /** Stops hearing and telling the others (the runtime is closing). */
  close(): void;
  /** Lets go of the connection: after the socket closed, so that two never overlap. */
  release(): void;
}

/** What the strategies read: the runtime's own status, and the shared records. */
export interface CoordinationParts {
  /** This runtime's id, as other runtimes hear it. */
  id: string;
  status: { get(): SyncStatus };
  storage: Pick<SyncStorage, 'getRecord'>;
  log: Logger;
  clock: Clock;
}

/** The strategy for this plan, once the storage opened: dedicated workers in memory share
 *  nothing, so such a one is alone. */
export function chooseCoordination(plan: CoordinationPlan, storage: StorageMode, parts: CoordinationParts): Coordination {
  if (plan.strategy === 'shared') return new SharedLeader(parts, plan.peers, plan.elect);
  if (storage === 'memory') {
    plan.peers.close();
    return new Lone(parts.status);
  }
  return new Peer(parts, plan.peers, plan.elect);
}
