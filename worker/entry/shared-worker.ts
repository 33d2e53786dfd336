/** The only module that touches the SharedWorker global: one comlink endpoint, and one tab
 *  session, per tab port. */
import { expose } from 'comlink';
import type { Logger } from '../config';
import type { SyncCore } from '../runtime/compose';
import { deferredApi } from './deferred-api';
import { describe } from '../errors';

/** The parts of SharedWorkerGlobalScope used here (typed locally so that the DOM and
 *  WebWorker libs both accept this file). */
interface SharedWorkerScope {
  onconnect: ((event: MessageEvent) => void) | null;
  addEventListener(type: 'online', listener: () => void): void;
}

/** True inside a SharedWorker, false inside a dedicated worker. */
export function isSharedWorkerScope(): boolean {
  return 'onconnect' in globalThis;
}

export function serveTabs(core: Promise<SyncCore>, log: Logger): void {
  const scope = globalThis as unknown as SharedWorkerScope;
  // Each port is one tab: a session of its own.
  scope.onconnect = (event) => {
    const [port] = event.ports;
    if (port) expose(deferredApi(core), port);
  };
  scope.addEventListener('online', () => {
    core.then((opened) => opened.networkOnline(), () => {});
  });
  core.catch((error: unknown) => log.warn(`the sync runtime could not start: ${describe(error)}`));
}
