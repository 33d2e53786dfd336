/** The only module that touches the SharedWorker global: one comlink endpoint per tab port. */
import { expose } from 'comlink';
import type { Logger } from './config';
import type { SyncCore } from './core';
import { describe, syncError } from './errors';

/** The parts of SharedWorkerGlobalScope used here (typed locally so that the DOM and
 *  WebWorker libs both accept this file). */
interface SharedWorkerScope {
  onconnect: ((event: MessageEvent) => void) | null;
  addEventListener(type: 'online', listener: () => void): void;
}

export function serveTabs(core: Promise<SyncCore>, log: Logger): void {
  const scope = globalThis as unknown as SharedWorkerScope;
  scope.onconnect = (event) => {
    const [port] = event.ports;
    if (!port) return;
    // A port queues the tab's calls until comlink starts it, so none is lost while the core opens.
    core.then(
      (opened) => expose(opened.api, port),
      (error: unknown) => expose(unavailable(error), port),
    );
  };
  scope.addEventListener('online', () => {
    core.then((opened) => opened.networkOnline(), () => {});
  });
  core.catch((error: unknown) => log.warn(`the sync runtime could not start: ${describe(error)}`));
}

/** Answers every call with the reason the runtime could not start, so tabs get an error
 *  instead of waiting forever. */
function unavailable(error: unknown): object {
  const failure = syncError('storage_failed', `the sync runtime could not start: ${describe(error)}`);
  return new Proxy({}, { get: () => () => Promise.reject(failure) });
}
