/**
 * Functions run inside a page of the app's origin (by Playwright's `page.evaluate` or the WebKit
 * suite's `run`): only their source is sent, so they use nothing but the page's globals.
 */

/** How many workers of the page's profile run: each holds the Web Lock `tabsync-worker-<id>`
 *  while it lives (worker/coordination/tab-liveness.ts), and any page of the origin sees the profile's locks. */
export async function workerLocksHeld(): Promise<number> {
  const { held = [] } = await navigator.locks.query();
  return held.filter((lock) => lock.name?.startsWith('tabsync-worker-')).length;
}
