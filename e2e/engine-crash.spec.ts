/**
 * Engine crash, seen from the UI: the bridge's engine worker is killed during an inversion; the UI
 * shows the crash, the inversion is reported failed, the engine comes back, the next job runs,
 * and the library is intact.
 */
import { execFileSync } from 'node:child_process';
import { expect, test, type Page } from '@playwright/test';
import { CHROMIUM_LAUNCH, startServer, type StudioServer } from './support/server.js';
import { generateAndWait, openAdvanced, shot, typePrompt, waitReady } from './support/ui.js';

test.use({ launchOptions: CHROMIUM_LAUNCH, viewport: { width: 1400, height: 900 } });
test.describe.configure({ mode: 'serial' });

let server: StudioServer;
let page: Page;
let capabilities: string[] = [];

test.beforeAll(async ({ browser }) => {
  test.setTimeout(300_000);
  server = await startServer();
  page = await browser.newPage();
  await page.goto(server.url);
  capabilities = await waitReady(page);
});

test.afterAll(async () => {
  await page?.close();
  await server?.stop();
});

/** Pids of the server's engine worker (its forked child running engine-worker). */
function engineWorkerPids(serverPid: number): number[] {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(serverPid)], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => /engine-worker/.test(l))
    .map((l) => Number.parseInt(l.trim(), 10))
    .filter((n) => Number.isInteger(n) && n > 0);
}

async function generate(page: Page, prompt: string): Promise<void> {
  await page.getByTestId('nav-prompt').click();
  await typePrompt(page, prompt);
  await page.getByTestId('gen-steps').fill('3');
  await page.getByTestId('gen-width').selectOption('128');
  await page.getByTestId('gen-height').selectOption('128');
  await generateAndWait(page);
}

test('killing the engine during an inversion is reported and recovered from', async ({}, testInfo) => {
  test.setTimeout(1_200_000);
  expect(capabilities).toEqual(expect.arrayContaining(['generate', 'invert']));
  await generate(page, 'a green hill under a blue sky');

  await page.getByTestId('nav-library').click();
  await page.locator('[data-testid=library-item][data-kind=generation]').first().click();
  await page.getByTestId('details-invert').click();
  await openAdvanced(page);
  await page.getByTestId('invert-iterations').fill('5000');
  await page.getByTestId('invert-run').click();
  await expect(page.getByTestId('invert-phase')).toHaveText('refining', { timeout: 600_000 });

  const pids = engineWorkerPids(server.process.pid!);
  expect(pids.length, `engine worker of server ${server.process.pid}`).toBe(1);
  process.kill(pids[0]!, 'SIGKILL');

  // The UI says so, and the inversion is failed (not hanging).
  await expect(page.getByTestId('engine-banner')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('inversion-panel')).toHaveAttribute('data-state', 'failed', { timeout: 60_000 });
  await expect(page.getByTestId('invert-error')).toContainText(/crash/i);
  await shot(page, 'engine-crash', testInfo);

  // The engine is back and the next job runs.
  await expect(page.getByTestId('engine-status')).toHaveAttribute('data-state', /ready|restarted/, { timeout: 180_000 });
  expect(engineWorkerPids(server.process.pid!)).not.toContain(pids[0]);
  await generate(page, 'a yellow kite in the wind');

  // The library is intact: both generations are there after a reload.
  await page.reload();
  await waitReady(page);
  await page.getByTestId('nav-library').click();
  await expect(page.locator('[data-testid=library-item][data-kind=generation]')).toHaveCount(2);
});
