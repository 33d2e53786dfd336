/**
 * The only module that touches a dedicated worker's global: where SharedWorker is missing, each
 * tab starts the worker script as its own `Worker` and talks to it through comlink on the
 * worker itself: one tab, one session. The API is exposed at once (the global drops messages
 * nobody listens to).
 */
import { expose, type Endpoint } from 'comlink';
import type { Logger } from '../config';
import type { SyncCore } from '../runtime/compose';
import { deferredApi } from './deferred-api';
import { describe } from '../errors';

export function serveTab(core: Promise<SyncCore>, log: Logger): void {
  expose(deferredApi(core), globalThis as unknown as Endpoint);
  addEventListener('online', () => {
    core.then((opened) => opened.networkOnline(), () => {});
  });
  core.catch((error: unknown) => log.warn(`the sync runtime could not start: ${describe(error)}`));
}
