/**
 * This tab's link to the sync worker: starting it (from a URL, the app's factory, or the app's
 * one instance), attaching to it, noticing that it is gone, and starting a new one in its place.
 * The tab API's calls about this tab itself (attach, detach, watch, unwatch) all live here.
 */
import { proxy, releaseProxy, wrap, type Endpoint, type Remote } from 'comlink';
import { workerLockName, type Credentials, type SyncStatus, type SyncWorkerApi, type TabListener } from '../protocol/tab-api';
import { createCall, unavailable, type Link, type WorkerCall } from './calls';
import { ignore, report } from './errors';
import { holdTabLock, requestLock, watchPage } from './page-lifecycle';
import { randomId } from './repository';
import type { ConnectOptions } from './client';

export interface WorkerLink {
  /** Runs a call on the worker in use (calls.ts). */
  call: WorkerCall;
  /** What a new worker learns from this tab as it attaches. */
  credentials: Credentials;
  started: boolean;
  /** Asks the worker for a repository's records (its first watcher here), or to stop sending them. */
  watch(repository: string): void;
  unwatch(repository: string): void;
  /** Detaches this tab and lets go of the worker, the tab lock and the page's events, for good:
   *  every later call rejects with code `closed`. */
  close(): Promise<void>;
}

/** What the link tells this tab's listener part (tab-listener.ts). */
export interface TabFeed {
  listener: TabListener;
  /** Called as an `attach` is sent; the function it returns takes the reply's status, which a
   *  status broadcast heard in between makes stale. */
  attaching(): (status: SyncStatus) => void;
}

/** Starts a worker: again after one died, unless the app handed over a single instance. Where
 *  SharedWorker is missing (e.g. Chrome on Android), each tab runs the worker script itself.
 *  (A `type` left undefined is the browser's default, `classic`: the cast only tells TypeScript.) */
function spawner({ worker, mode, workerType }: ConnectOptions): (() => SharedWorker | Worker | MessagePort) | undefined {
  return typeof worker === 'function'
    ? worker
    : worker instanceof EventTarget
      ? undefined
      : () => new (mode !== 'dedicated' && typeof SharedWorker === 'function' ? SharedWorker : Worker)(worker, { type: workerType } as WorkerOptions);
}

/** `rewatch` sends this tab's watches (records and queries) to a worker it attaches to again. */
export function openWorkerLink(options: ConnectOptions, feed: TabFeed, rewatch: (api: Remote<SyncWorkerApi>) => Promise<unknown>): WorkerLink {
  const given = options.worker;
  const spawn = spawner(options);
  const tabId = randomId();
  const locked = holdTabLock(tabId);
  let closed = false;
  let closing: Promise<void> | undefined;

  const attach = async (used: Link, again?: boolean) => {
    await locked;
    const settle = feed.attaching();
    const { status, workerId } = await Promise.race([used.api.attach(proxy(feed.listener), link.credentials, tabId), used.lost]);
    settle(status);
    if (again) await rewatch(used.api);
    return workerId;
  };

  /** Starts (or, for an app-built worker, takes) a worker and attaches to it; `again` for one
   *  that takes another's place, which learns this tab's watches. */
  const open = (again?: boolean): Link => {
    const worker = spawn ? spawn() : (given as SharedWorker | Worker);
    const api = wrap<SyncWorkerApi>(('port' in worker ? worker.port : worker) as Endpoint);
    let lose!: (error: Error) => void;
    const lost = new Promise<never>((_, reject) => (lose = reject));
    // A script that fails to load fires a plain `error` Event; an ErrorEvent is an exception inside a running worker.
    worker.addEventListener('error', (event) => event instanceof ErrorEvent || lose(unavailable()));
    const next = { worker, api, lost, calls: new Set() } as Link;
    lost.catch((error: unknown) => next.calls.forEach((fail) => fail(error)));
    next.ready = attach(next, again).then<unknown>((workerId) => {
      // The worker holds this lock while it lives: granted to this tab, it says the worker ended.
      void requestLock(workerLockName(workerId), () => ended(lose));
      // A new worker does not know the sync was started: every tab that started it says so.
      return link.started && api.start();
    });
    return next;
  };

  /** A worker ended: its calls fail, and run again on the new one that takes its place (with
   *  this tab's watches, credentials and started state), unless the app gave its one instance. */
  const ended = (lose: (error: Error) => void) => {
    if (closed) return;
    lose(unavailable());
    if (spawn) current = open(true);
  };

  let current = open();
  // Leaving the page, or the browser freezing it, detaches it: the worker spends nothing on it.
  // Coming back attaches it again and re-watches: the tab gets the current state in one
  // notification per repository.
  const stopWatchingPage = watchPage(
    () => void current.api.detach().catch(ignore),
    () => (current.ready = attach(current, true)),
  );
  const call = createCall(() => current, () => closed, options.callTimeout);
  const background = (method: Parameters<WorkerCall>[0]) => void call(method).catch(report);

  const link: WorkerLink = {
    call,
    credentials: { authToken: options.authToken, headers: options.headers },
    started: options.autoStart !== false,
    watch: (repository) => background((api) => api.watch(repository)),
    unwatch: (repository) => background((api) => api.unwatch(repository)),
    close: () =>
      (closing ??= call((api) => api.detach())
        .catch(ignore)
        .then(() => {
          closed = true;
          stopWatchingPage();
          current.api[releaseProxy]();
          void locked.then((release) => release());
          // A SharedWorker has no terminate: the browser ends it once no tab holds it.
          (current.worker as Partial<Worker>).terminate?.();
        })),
  };
  return link;
}
