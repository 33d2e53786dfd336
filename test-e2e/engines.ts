/**
 * The one list of browser tests that run in Chromium only, each with the reason. Everything else
 * in test-e2e/ runs on Chromium and Firefox (playwright.config.ts drops these from the Firefox
 * project by title). Each needs the Chrome DevTools Protocol for something neither WebDriver BiDi
 * (as Playwright drives Firefox) nor the page itself can do.
 */
const CHROMIUM_ONLY_TESTS: Record<string, string> = {
  'a worker ended while idle is replaced: the next write resolves and every tab and profile sees it':
    'ends the SharedWorker (CDP Target.closeTarget); no page-side or BiDi means kills a worker',
  'a worker ended with writes in flight: no call hangs, nothing is applied twice, the next write resolves':
    'ends the SharedWorker (CDP Target.closeTarget) mid-write',
  'a tab that crashed is noticed and its handle and watchers are freed':
    'crashes a renderer (CDP Page.crash); closing a page in Firefox detaches it cleanly, which is another test',
  'a full disk fails the write in the tab with quota_exceeded; earlier records stay, the failed one is absent':
    "shrinks the origin's quota at run time (CDP Storage.overrideQuotaForOrigin)",
  'a frozen tab is detached, and on resume its watcher fires once with every record':
    'freezes a page (CDP Page.setWebLifecycleState); page lifecycle freeze is a Chromium feature',
  'a cleared IndexedDB is re-synced from the server; a new write reaches the other profile, nothing twice':
    "clears the origin's IndexedDB under the open worker (CDP Storage.clearDataForOrigin); a page's deleteDatabase() is a version change, not a loss",
  'a write still waiting for the server when IndexedDB is cleared is re-queued and reaches the other profile, once':
    "clears the origin's IndexedDB (CDP Storage.clearDataForOrigin)",
  'the first load says Loading… alone, then what is true':
    "holds the worker script back with context.route; Playwright's BiDi Firefox does not route a SharedWorker's script request, so the worker loads at once",
  'a catch-up cut short by the clear starts over in the fresh database and ends with every record, up to the last sequence':
    "clears the origin's IndexedDB (CDP Storage.clearDataForOrigin)",
};

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Matches the titles above; the Firefox project's `grepInvert`. */
export const CHROMIUM_ONLY = new RegExp(Object.keys(CHROMIUM_ONLY_TESTS).map(escapeRegExp).join('|'));

/** Debian's Chromium as every suite launches it (no download; flags for a headless CI machine). */
export const CHROMIUM_LAUNCH = {
  executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
};
