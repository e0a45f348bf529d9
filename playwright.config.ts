/**
 * End-to-end tests (e2e/). The browser project drives the real UI and engine through the web
 * bridge (`inversion-studio serve`, started per spec file by e2e/support/server.ts) in Debian's
 * Chromium (`apt-get install -y chromium`; override with CHROMIUM_PATH). The electron project uses
 * `_electron.launch` and skips itself where no Electron binary exists.
 */
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: 'e2e',
  globalSetup: './scripts/ensure-web-build.js',
  outputDir: 'test-results',
  // The demo engine runs on CPU on small CI machines: generous per-test time, one worker.
  timeout: 600_000,
  expect: { timeout: 30_000 },
  workers: 1,
  fullyParallel: false,
  retries: 0,
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  use: {
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    video: 'off',
  },
  projects: [
    {
      name: 'browser',
      testIgnore: /electron\.spec\.ts$/,
      use: {
        browserName: 'chromium',
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
          args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
        },
      },
    },
    {
      name: 'electron',
      testMatch: /electron\.spec\.ts$/,
    },
  ],
});
