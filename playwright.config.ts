import { defineConfig } from '@playwright/test';
import { CHROMIUM_LAUNCH, CHROMIUM_ONLY } from './test-e2e/engines';

/**
 * Browser tests against the built dist/ (`npm test` builds first): real Chromium and Firefox, a
 * real SharedWorker and IndexedDB, and a real server process per test (see test-e2e/fixtures.ts).
 * One engine alone: `npx playwright test --project=chromium` (or `firefox`). WebKit cannot be
 * driven by Playwright here: its suite is test-webkit/ (`npm run test:webkit`).
 */
export default defineConfig({
  testDir: 'test-e2e',
  workers: 1,
  fullyParallel: false,
  forbidOnly: true,
  // One retry on CI, and every test that needed it is named at the end of `npm test`.
  retries: process.env['CI'] ? 1 : 0,
  reporter: 'list',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  use: {
    headless: true,
    actionTimeout: 10_000,
    navigationTimeout: 15_000,
  },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        launchOptions: CHROMIUM_LAUNCH,
      },
    },
    {
      // Debian's Firefox ESR over WebDriver BiDi (no geckodriver, no download): see browsers.md.
      name: 'firefox',
      grepInvert: CHROMIUM_ONLY,
      use: {
        browserName: 'firefox',
        channel: 'moz-firefox',
        launchOptions: { executablePath: process.env['FIREFOX_PATH'] ?? '/usr/bin/firefox-esr' },
      },
    },
  ],
});
