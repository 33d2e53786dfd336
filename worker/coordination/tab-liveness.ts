import { tabLockName, workerLockName } from '../../protocol/tab-api';

/**
 * Noticing a tab that is gone, even one that crashed or was killed and never said goodbye: each
 * tab holds the Web Lock `tabLockName(tabId)` for as long as its document lives (the facade
 * takes it before attaching). The worker asks for the same lock; it is granted only once the tab
 * is gone, and then released at once.
 */
export function watchTabLock(locks: LockManager, tabId: string, gone: () => void): () => void {
  const controller = new AbortController();
  locks.request(tabLockName(tabId), { signal: controller.signal }, () => gone()).catch(() => {
    // Aborted: the tab detached itself, nothing left to watch.
  });
  return () => controller.abort();
}

/**
 * The mirror image, for tabs to notice a worker that is gone (killed, crashed): the worker takes
 * `workerLockName(workerId)` at start and never lets go; a tab that asks for it is granted it
 * only once the worker ended. Resolves once the lock is held.
 */
export function holdWorkerLock(locks: LockManager, workerId: string): Promise<void> {
  return new Promise((held) => {
    void locks.request(workerLockName(workerId), () => {
      held();
      return new Promise<never>(() => {});
    });
  });
}

/** The Web Locks API, where the browser has it (secure contexts only). */
export function webLocks(): LockManager | undefined {
  return (globalThis.navigator as { locks?: LockManager } | undefined)?.locks;
}
