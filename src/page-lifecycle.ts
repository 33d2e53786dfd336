/**
 * The page's life as the facade follows it: the tab lock held while the document lives, and
 * leaving and coming back (pagehide, freeze, pageshow, resume). Where a global is missing (an
 * insecure context has no Web Locks, Node has no page) the part that needs it does nothing.
 */
import { tabLockName } from '../protocol/tab-api';
import { ignore } from './errors';

/** Asks for a Web Lock where the page has the Web Locks API; `undefined` where it has none. */
export const requestLock = (name: string, granted: (lock: Lock | null) => unknown): Promise<unknown> | undefined =>
  globalThis.navigator?.locks?.request(name, granted);

/** Holds `tabLockName(tabId)` while this document lives: the worker is granted it once the tab is
 *  gone, even crashed. Resolves once it is held (at once without Web Locks), so that a worker
 *  watching it never finds it free too early, with the function that lets go of it. */
export const holdTabLock = (tabId: string): Promise<() => void> =>
  new Promise((held) => requestLock(tabLockName(tabId), () => new Promise<void>((release) => held(release))) ?? held(ignore));

/**
 * Calls `away` when the page is left or frozen, `back` when it returns (back/forward cache,
 * resume): once each, as Chrome fires both pairs. Returns the function that stops watching.
 */
export function watchPage(away: () => void, back: () => void): () => void {
  let gone = false;
  const hide = () => {
    if (!gone) away();
    gone = true;
  };
  const show = () => {
    if (gone) back();
    gone = false;
  };
  // Capturing: `freeze` and `resume` fire on the document and do not bubble.
  const events = Object.entries({ pagehide: hide, freeze: hide, pageshow: show, resume: show });
  for (const [type, handler] of events) globalThis.addEventListener?.(type, handler, true);
  return () => {
    for (const [type, handler] of events) globalThis.removeEventListener?.(type, handler, true);
  };
}
