/**
 * The Evaluate page in a browser, through the web bridge, on the real engine: a tiny evaluation
 * (`shapes:1` when the shapes model set is installed, else a one-image folder dataset made here,
 * on the demo set), EDITOR with 2 iterations and one-step regenerations, with the caption
 * baseline where a captioner exists (greyed out with its reason where not); live progress, the
 * results table and the figures; the run listed and reopened after a reload. Then the Invert
 * view's method choice (PH2P there on the demo set, PEZ and the caption disabled with the reason).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { expect, test, type Page } from '@playwright/test';
import { CHROMIUM_LAUNCH, startServer, type StudioServer } from './support/server.js';
import { shot, waitReady } from './support/ui.js';

test.use({ launchOptions: CHROMIUM_LAUNCH, viewport: { width: 1400, height: 1000 } });
test.describe.configure({ mode: 'serial' });

let server: StudioServer;
let page: Page;
let dataset = '';
const pageErrors: string[] = [];

test.beforeAll(async ({ browser }) => {
  test.setTimeout(300_000);
  dataset = mkdtempSync(path.join(os.tmpdir(), 'studio-eval-data-'));
  mkdirSync(dataset, { recursive: true });
  await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 210, g: 40, b: 40 } } })
    .png()
    .toFile(path.join(dataset, 'red.png'));
  writeFileSync(path.join(dataset, 'prompts.jsonl'), `${JSON.stringify({ image: 'red.png', prompt: 'a red square' })}\n`);
  server = await startServer();
  page = await browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(server.url);
  await waitReady(page);
});

test.afterAll(async () => {
  await page?.close();
  await server?.stop();
  rmSync(dataset, { recursive: true, force: true });
});

test('run a tiny evaluation: progress, the table and figures; reopened after a reload', async ({}, testInfo) => {
  test.setTimeout(600_000);
  await page.getByTestId('nav-evaluate').click();
  await expect(page.getByTestId('view-evaluate')).toBeVisible();
  await expect(page).toHaveURL(/#\/evaluate$/);
  const methods = page.getByTestId('eval-methods');

  // shapes:N needs the shapes model set; without it every method says so, and a folder dataset is used.
  await expect(methods).toHaveAttribute('data-loaded', 'true', { timeout: 120_000 });
  const shapes = await page.getByTestId('eval-method-editor').isEnabled();
  if (shapes) await page.getByTestId('eval-shapes-n').fill('1');
  else {
    await expect(page.getByTestId('eval-methods-reason')).toContainText(/shapes/);
    await page.getByTestId('eval-dataset-folder').check();
    await page.getByTestId('eval-folder').fill(dataset);
    await expect(methods).toHaveAttribute('data-loaded', 'true', { timeout: 120_000 });
  }
  await expect(page.getByTestId('eval-method-editor')).toBeEnabled();
  await page.getByTestId('eval-method-editor').check();
  const captionAvailable = await page.getByTestId('eval-method-caption').isEnabled();
  if (captionAvailable) await page.getByTestId('eval-method-caption').check();
  // A method whose model is missing is greyed out with what to install (the demo set has no captioner, no CLIP text tower).
  else await expect(methods.locator('[data-method=caption]')).toContainText(/captioner/);
  if (!(await page.getByTestId('eval-method-pez').isEnabled())) await expect(methods.locator('[data-method=pez]')).toContainText(/CLIP/);
  await page.getByTestId('eval-iterations').fill('2');
  await page.getByTestId('eval-advanced').locator('summary').click();
  await page.getByTestId('eval-regen-steps').fill('1');

  await page.getByTestId('eval-run').click();
  const job = page.getByTestId('eval-job');
  await expect(job).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('eval-units')).toContainText(/\/ \d+ units/, { timeout: 180_000 });
  const report = page.getByTestId('eval-report');
  await expect(report).toHaveAttribute('data-state', 'done', { timeout: 540_000 });
  await expect(job).toHaveAttribute('data-state', 'done');

  const table = page.getByTestId('eval-table-results');
  const editorRow = table.locator('[data-testid=eval-row][data-method=editor]');
  await expect(editorRow).toBeVisible();
  await expect(editorRow.locator('td[data-metric=wordF1]')).toHaveText(/^\d\.\d{3}( ± \d\.\d{3})?$/);
  if (captionAvailable) await expect(table.locator('[data-testid=eval-row][data-method=caption]')).toBeVisible();
  // The figures are drawn (SVG as images, under the page's CSP).
  const figures = page.getByTestId('eval-figures').locator('img');
  expect(await figures.count()).toBeGreaterThan(0);
  await expect
    .poll(() => figures.first().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), { timeout: 30_000 })
    .toBe(true);
  const runId = await report.getAttribute('data-id');
  expect(runId).toMatch(/^eval-/);
  await shot(page, 'evaluate', testInfo);

  // After a reload the run is listed and reopens with its table.
  await page.reload();
  await waitReady(page);
  await expect(page.getByTestId('view-evaluate')).toBeVisible();
  const item = page.locator(`[data-testid=eval-run-item][data-id="${runId}"]`);
  await expect(item).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  await item.click();
  await expect(page.getByTestId('eval-report')).toHaveAttribute('data-id', runId!);
  await expect(page.getByTestId('eval-table-results').locator('[data-testid=eval-row][data-method=editor]')).toBeVisible();
});

test('the Invert view offers the methods the model set can run, the others disabled with what to install', async ({}, testInfo) => {
  await page.getByTestId('nav-invert').click();
  const select = page.getByTestId('invert-method');
  await expect(select).toHaveValue('editor');
  // The demo set has a VAE encoder (PH2P) but no captioner and no CLIP text tower.
  await expect(select.locator('option[value=ph2p]')).toBeEnabled({ timeout: 60_000 });
  await expect(select.locator('option[value=pez]')).toBeDisabled();
  await expect(select.locator('option[value=caption]')).toBeDisabled();
  const reasons = page.getByTestId('invert-method-reasons');
  await reasons.locator('summary').click();
  await expect(reasons.locator('[data-method=pez]')).toContainText('clip-vit-l14');
  await select.selectOption('ph2p');
  await expect(page.getByTestId('invert-objective')).toBeDisabled();
  await shot(page, 'invert-methods', testInfo);
  expect(pageErrors).toEqual([]);
});
