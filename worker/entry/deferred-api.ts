/**
 * A tab's API before the runtime has opened: every call waits for it, so a tab may call at once
 * (a dedicated worker's global drops messages nobody listens to yet), and gets the reason as a
 * `storage_failed` error when the runtime could not start, instead of waiting forever.
 */
import type { SyncWorkerApi } from '../../protocol/tab-api';
import type { SyncCore } from '../runtime/compose';
import { describe, syncError } from '../errors';

/** A session of its own on the runtime, once it opened. */
export function deferredApi(core: Promise<SyncCore>): SyncWorkerApi {
  const api = core.then(
    (opened) => opened.openSession(),
    (error: unknown) => {
      throw syncError('storage_failed', `the sync runtime could not start: ${describe(error)}`);
    },
  );
  api.catch(() => {});
  return new Proxy({} as SyncWorkerApi, {
    get: (_, method) => (...args: unknown[]) =>
      api.then((opened) => (opened[method as keyof SyncWorkerApi] as (...args: unknown[]) => Promise<unknown>)(...args)),
  });
}
