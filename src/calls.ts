/**
 * Calls to the worker. Each runs on the link in use once this tab is attached; one lost with its
 * worker runs again on the worker that took its place (a write keeps its eventId, so the worker
 * applies it once), until the deadline (`callTimeout`) gives up with `worker_unavailable`.
 */
import type { Remote } from 'comlink';
import type { SyncWorkerApi } from '../protocol/tab-api';
import { SyncError, toError } from './errors';

/** One worker instance as this tab uses it. */
export interface Link {
  worker: SharedWorker | Worker | MessagePort;
  api: Remote<SyncWorkerApi>;
  /** Resolves once this tab is attached (and the worker started, if this tab started it). */
  ready: Promise<unknown>;
  /** Rejects once the worker is gone or failed to start. */
  lost: Promise<never>;
  /** The calls waiting on this worker: each is failed once it is lost. (Not a race against
   *  `lost` per call: a promise that stays pending keeps every racer's result alive.) */
  calls: Set<(error: unknown) => unknown>;
}

/** A call's work on one worker; `retried` when the worker that ran it first was lost. */
export type WorkerMethod<R> = (api: Remote<SyncWorkerApi>, retried?: boolean) => Promise<R>;

/** Runs one call against the worker, with the worker's errors made `Error`s. */
export type WorkerCall = <R>(method: WorkerMethod<R>) => Promise<R>;

/** The worker is gone, failed to start, or did not answer in time. */
export const unavailable = (): SyncError => new SyncError('worker_unavailable', 'the sync worker is not answering');

/** Calls on `current()`, the link in use at each attempt, until `closed()`. */
export const createCall =
  (current: () => Link, closed: () => boolean, timeout = 1e4): WorkerCall =>
  (method) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return new Promise<Awaited<ReturnType<typeof method>>>((resolve, reject) => {
      if (closed()) throw new SyncError('closed', 'the sync client is closed');
      timer = setTimeout(() => reject(unavailable()), timeout);
      const run = (used: Link, retried?: boolean): unknown => {
        // Fails once, whichever comes first: the call's own failure or the worker's loss.
        const fail = (error: unknown) => used.calls.delete(fail) && (used !== current() ? run(current(), true) : reject(toError(error)));
        used.calls.add(fail);
        return used.ready.then(() => method(used.api, retried)).then((value) => (used.calls.delete(fail), resolve(value as Awaited<typeof value>)), fail);
      };
      run(current());
    }).finally(() => clearTimeout(timer));
  };
