/**
 * Noticing a tab that is gone, even one that crashed or was killed and never said goodbye: each
 * tab holds the Web Lock `tabsync-tab-<tabId>` for as long as its document lives (the facade
 * takes it before attaching). The worker asks for the same lock; it is granted only once the tab
 * is gone, and then released at once.
 */
export function watchTabLock(locks: LockManager, tabId: string, gone: () => void): () => void {
  const controller = new AbortController();
  locks.request(`tabsync-tab-${tabId}`, { signal: controller.signal }, () => gone()).catch(() => {
    // Aborted: the tab detached itself, nothing left to watch.
  });
  return () => controller.abort();
}

/** The Web Locks API, where the browser has it (secure contexts only). */
export function webLocks(): LockManager | undefined {
  return (globalThis.navigator as { locks?: LockManager } | undefined)?.locks;
}
