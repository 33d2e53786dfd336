/**
 * Functions run inside a page of the app's origin (by Playwright's `page.evaluate` or the WebKit
 * suite's `run`): only their source is sent, so they use nothing but the page's globals.
 */

/** Whether a worker of the page's profile still runs: each holds the Web Lock
 *  `tabsync-worker-<id>` while it lives (worker/tab-liveness.ts). Any page of the origin sees it. */
export async function workerLockHeld(): Promise<boolean> {
  const { held = [] } = await navigator.locks.query();
  return held.some((lock) => lock.name?.startsWith('tabsync-worker-'));
}
