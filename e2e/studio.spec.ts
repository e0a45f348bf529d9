/**
 * The studio's main flows in a browser, through the web bridge, on the real engine with the demo
 * model set: generate from a prompt, invert the generated image (progress, result prompt), cancel
 * a second inversion (best so far kept), and the library after a reload. Screenshots of each view
 * go into the report and test-results/screenshots/ (e2e/screenshots/ with UPDATE_SCREENSHOTS=1).
 *
 * The tests run in order on one server (later ones use what earlier ones produced).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { CHROMIUM_LAUNCH, startServer, type StudioServer } from './support/server.js';
import { generateAndWait, openAdvanced, readFraction, shot, typePrompt, waitReady } from './support/ui.js';

test.use({ launchOptions: CHROMIUM_LAUNCH, viewport: { width: 1400, height: 900 } });
test.describe.configure({ mode: 'serial' });

const PROMPT = 'a red apple on a wooden table, soft light';

let server: StudioServer;
let page: Page;
let capabilities: string[] = [];
const pageErrors: string[] = [];

test.beforeAll(async ({ browser }) => {
  test.setTimeout(300_000);
  server = await startServer();
  page = await browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(server.url);
  await expect(page).toHaveTitle(/Inversion Studio/);
  capabilities = await waitReady(page);
});

test.afterAll(async () => {
  await page?.close();
  await server?.stop();
});

test('shell: sidebar, status and keyboard navigation', async ({}, testInfo) => {
  for (const v of ['invert', 'prompt', 'library', 'models']) await expect(page.getByTestId(`nav-${v}`)).toBeVisible();
  await expect(page.getByTestId('nav-invert')).toHaveAttribute('aria-current', 'page');
  await page.keyboard.press('Alt+3');
  await expect(page.getByTestId('view-library')).toBeVisible();
  await expect(page).toHaveURL(/#\/library$/);
  await page.getByTestId('nav-models').click();
  await expect(page.getByTestId('view-models')).toBeVisible();
  await expect(page.locator('[data-testid=model-row][data-model=demo]')).toBeVisible();
  await shot(page, 'models', testInfo);
  await page.getByTestId('nav-invert').click();
  await expect(page.getByTestId('view-invert')).toBeVisible();
  await shot(page, 'invert-empty', testInfo);
});

test('generate from a prompt', async ({}, testInfo) => {
  test.setTimeout(600_000);
  expect(capabilities).toEqual(expect.arrayContaining(['generate']));
  await page.getByTestId('nav-prompt').click();
  await typePrompt(page, PROMPT);
  // Live token counter (CLIP tokenizer of the model set).
  if (capabilities.includes('tokenize')) {
    await expect(page.getByTestId('token-count')).toHaveText(/^\d+ \/ 75$/, { timeout: 30_000 });
    const [count] = await readFraction(page, 'token-count');
    expect(count).toBeGreaterThan(5);
  }
  await expect(page.getByTestId('engine-text')).toContainText(PROMPT);
  await page.getByTestId('gen-steps').fill('4');
  await page.getByTestId('gen-width').selectOption('128');
  await page.getByTestId('gen-height').selectOption('128');
  await page.getByTestId('gen-seed').fill('42');
  await generateAndWait(page);
  await expect(page.getByTestId('generate-result').locator('img')).toBeVisible();
  // The image is served by the bridge from the library folder.
  const ok = await page
    .getByTestId('generate-result')
    .locator('img')
    .evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0);
  expect(ok).toBe(true);
  await expect(page.getByTestId('prompt-history').locator('li')).toHaveCount(1);
  await shot(page, 'prompt', testInfo);
});

test("the token counter marks words past CLIP's limit", async ({}, testInfo) => {
  expect(capabilities).toEqual(expect.arrayContaining(['tokenize']));
  await page.getByTestId('nav-prompt').click();
  const words = Array.from({ length: 90 }, (_, i) => ['red', 'green', 'blue', 'castle', 'forest', 'river'][i % 6]).join(' ');
  await typePrompt(page, `${words} finalword`);
  await expect(page.getByTestId('token-counter')).toHaveClass(/over/, { timeout: 30_000 });
  const [count, limit] = await readFraction(page, 'token-count');
  expect(limit).toBe(75);
  expect(count).toBeGreaterThan(75);
  await expect(page.getByTestId('token-dropped')).toContainText('finalword');
  // Monaco decorates the dropped words (strike-through).
  await expect(page.getByTestId('prompt-editor').locator('.tok-dropped').first()).toBeVisible();
  await shot(page, 'prompt-token-limit', testInfo);
  // Back to the generated prompt for the next tests.
  await typePrompt(page, PROMPT);
});

test('invert the generated image: progress and result prompt', async ({}, testInfo) => {
  test.setTimeout(900_000);
  expect(capabilities).toEqual(expect.arrayContaining(['generate']));
  expect(capabilities).toEqual(expect.arrayContaining(['invert']));
  // Pick the generation in the Library and hand it to the Invert view.
  await page.getByTestId('nav-library').click();
  const gen = page.locator('[data-testid=library-item][data-kind=generation]').first();
  await gen.click();
  await expect(page.getByTestId('library-details')).toBeVisible();
  await page.getByTestId('details-invert').click();
  await expect(page.getByTestId('view-invert')).toBeVisible();
  await expect(page.getByTestId('queue-item')).toHaveCount(1);
  await openAdvanced(page);
  await page.getByTestId('invert-iterations').fill('12');
  await page.getByTestId('invert-run').click();

  const panel = page.getByTestId('inversion-panel');
  await expect(page.getByTestId('invert-phase')).toBeVisible({ timeout: 120_000 });
  await expect(panel).toHaveAttribute('data-state', /running|done/, { timeout: 300_000 });
  await expect(panel).toHaveAttribute('data-state', 'done', { timeout: 840_000 });
  await expect(page.getByTestId('result-prompt')).not.toBeEmpty();
  await expect(page.getByTestId('candidates').getByTestId('candidate').first()).toBeVisible();
  await expect(page.getByTestId('invert-target').locator('img')).toBeVisible();
  await expect(page.getByTestId('invert-preview').locator('img')).toBeVisible();
  expect(Number(await page.getByTestId('loss-chart').getAttribute('data-points'))).toBeGreaterThan(0);
  await shot(page, 'invert', testInfo);

  // The target's attention overlay: the recovered prompt's words over the inverted image (a segment job, noising path).
  if (capabilities.includes('segment')) {
    await page.getByTestId('invert-target-attention-toggle').click();
    const overlay = page.getByTestId('invert-target-attention');
    await expect(overlay).toHaveAttribute('data-ready', 'true', { timeout: 300_000 });
    const word = overlay.getByTestId('attention-word').first();
    await word.hover();
    const canvas = page.getByTestId('invert-target-attention-canvas');
    await expect(canvas).toHaveAttribute('data-word', (await word.getAttribute('data-word'))!);
    await expect.poll(async () => Number(await canvas.getAttribute('data-mask-pixels'))).toBeGreaterThan(0);
    await expect(overlay).toContainText('from noising this image');
    await page.getByTestId('invert-target-attention-toggle').click();
  }

  // The recovered prompt opens in the Prompt editor.
  const recovered = ((await page.getByTestId('result-prompt').textContent()) ?? '').trim();
  await page.getByTestId('open-in-prompt').click();
  await expect(page.getByTestId('view-prompt')).toBeVisible();
  await expect(page.getByTestId('engine-text')).toContainText(recovered.slice(0, 30));
});

test('a second inversion is cancelled and keeps its best result so far', async ({}, testInfo) => {
  test.setTimeout(900_000);
  expect(capabilities).toEqual(expect.arrayContaining(['generate', 'invert']));
  // This time the image comes in through the file picker (same as a drop), read from the library folder.
  const files = JSON.parse(readFileSync(path.join(server.libraryDir, 'index.json'), 'utf8')) as { items: { kind: string; file: string }[] };
  const genFile = files.items.find((i) => i.kind === 'generation')?.file;
  expect(genFile, 'the library index lists the generation').toBeTruthy();
  await page.getByTestId('nav-invert').click();
  await page.getByTestId('image-input').setInputFiles(path.join(server.libraryDir, genFile!));
  await expect(page.getByTestId('queue-item')).toHaveCount(2);
  await page.getByTestId('queue-item').nth(1).getByRole('button').first().click();
  await openAdvanced(page);
  await page.getByTestId('invert-iterations').fill('5000');
  await page.getByTestId('invert-run').click();

  // Progress is visible: the iteration counter moves and the loss chart fills.
  await expect(page.getByTestId('invert-phase')).toHaveText('refining', { timeout: 600_000 });
  await expect.poll(async () => (await readFraction(page, 'invert-iteration'))[0], { timeout: 300_000 }).toBeGreaterThanOrEqual(2);
  const [, total] = await readFraction(page, 'invert-iteration');
  expect(total).toBe(5000);
  await expect
    .poll(async () => Number(await page.getByTestId('loss-chart').getAttribute('data-points')), { timeout: 120_000 })
    .toBeGreaterThan(0);
  await shot(page, 'invert-running', testInfo);

  await page.getByTestId('invert-cancel').click();
  const panel = page.getByTestId('inversion-panel');
  await expect(panel).toHaveAttribute('data-state', 'cancelled', { timeout: 120_000 });
  await expect(page.getByTestId('queue-item').nth(1)).toHaveAttribute('data-state', 'cancelled');
  await expect(page.getByTestId('invert-cancelled')).toBeVisible();
  await expect(page.getByTestId('result-prompt')).not.toBeEmpty();
  const [doneIters] = await readFraction(page, 'invert-iteration');
  expect(doneIters).toBeLessThan(5000);
  await shot(page, 'invert-cancelled', testInfo);
});

test('library shows the generation and the inversions after a reload', async ({}, testInfo) => {
  test.setTimeout(300_000);
  expect(capabilities).toEqual(expect.arrayContaining(['generate']));
  await page.reload();
  await waitReady(page);
  await page.getByTestId('nav-library').click();
  const grid = page.getByTestId('library-grid');
  await expect(grid.locator('[data-kind=generation]')).not.toHaveCount(0);
  if (capabilities.includes('invert')) await expect(grid.locator('[data-kind=inversion]')).not.toHaveCount(0);
  // Thumbnails load from the bridge.
  const thumb = grid.locator('[data-testid=library-item] img').first();
  await expect.poll(() => thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
  await grid.locator('[data-kind=generation]').first().click();
  await expect(page.getByTestId('details-prompt')).toContainText(PROMPT);
  await shot(page, 'library', testInfo);
  if (capabilities.includes('invert')) {
    await grid.locator('[data-kind=inversion]').first().click();
    await expect(page.getByTestId('library-details')).toHaveAttribute('data-kind', 'inversion');
    await shot(page, 'library-inversion', testInfo);
    // Re-open the generation's prompt from the library.
  }
  await grid.locator('[data-kind=generation]').first().click();
  await page.getByTestId('details-open-prompt').click();
  await expect(page.getByTestId('engine-text')).toContainText(PROMPT);
  await expect(page.getByTestId('gen-seed')).toHaveValue('42');
});

test('no uncaught errors in the page', () => {
  expect(pageErrors).toEqual([]);
});
