import { defineConfig } from '@playwright/test';

/**
 * Browser tests against the built dist/ (`npm test` builds first): real Chromium, a real
 * SharedWorker and IndexedDB, and a real server process per test (see test-e2e/fixtures.ts).
 */
export default defineConfig({
  testDir: 'test-e2e',
  workers: 1,
  fullyParallel: false,
  forbidOnly: true,
  reporter: 'list',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  use: {
    browserName: 'chromium',
    headless: true,
    actionTimeout: 10_000,
    navigationTimeout: 15_000,
    launchOptions: {
      executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
});
