/**
 * Who may open the socket. Only the holder of the Web Lock `connectionLockName(database)` does, so two
 * runtimes of one browser profile never hold two sockets: a new deployment's worker waits until
 * the old one stepped aside, and of the dedicated workers (one per tab where SharedWorker is
 * missing) only the leader connects. Dedicated workers first elect that leader with
 * `leaderLockName(database)`: the others wait in the lock's queue, and the next one takes over as soon
 * as the leader's tab closes (its worker ends, and the browser releases its locks).
 */
import { connectionLockName, leaderLockName } from '../../protocol/tab-api';
import type { Election } from './coordination';
import { webLocks } from './tab-liveness';

/** The SharedWorker's: the connection lock. */
export function connectionElection(databaseName: string, locks = webLocks()): Election {
  return (lead) => elect(locks, [connectionLockName(databaseName)], lead);
}

/** A dedicated worker's: the leader lock, then the connection lock. */
export function peerElection(databaseName: string, locks = webLocks()): Election {
  return (lead) => elect(locks, [leaderLockName(databaseName), connectionLockName(databaseName)], lead);
}

/** Holds each lock in turn, then calls `lead`; returns the function that lets go. */
function elect(locks: LockManager | undefined, names: readonly string[], lead: () => void): () => void {
  // Without Web Locks (an insecure context) there is no way to agree: every runtime connects.
  if (!locks) {
    lead();
    return () => {};
  }
  const releases: (() => void)[] = [];
  let resigned = false;
  const hold = (index: number) => {
    const name = names[index];
    if (name === undefined) return lead();
    releases.push(holdLock(locks, name, () => resigned || hold(index + 1)));
  };
  hold(0);
  return () => {
    resigned = true;
    for (const release of releases) release();
  };
}

/** Requests the lock and keeps it until the returned function is called (which also withdraws
 *  a request still waiting). */
function holdLock(locks: LockManager, name: string, granted: () => void): () => void {
  const controller = new AbortController();
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  locks
    .request(name, { signal: controller.signal }, () => {
      granted();
      return held;
    })
    .catch(() => {
      // Withdrawn before it was granted.
    });
  return () => {
    controller.abort();
    release();
  };
}
