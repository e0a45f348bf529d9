/**
 * The cross-attention overlay (docs/segmentation.md, "Studio"), in a browser through the web
 * bridge on the real engine: generate with attention maps, open the overlay on the result, hover a
 * word (its mask appears over the image), hover the image (the words ranked there), the threshold
 * slider, export the full-resolution masks; then the overlay of the same image in the Library,
 * computed by a segment job that samples the generation again.
 *
 * MODEL_SET is the one constant to change when the default studio model moves to the shapes set.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { CHROMIUM_LAUNCH, startServer, type StudioServer } from './support/server.js';
import { generateAndWait, shot, typePrompt, waitReady } from './support/ui.js';

const MODEL_SET: keyof typeof SCENES = 'demo';
/** What to generate on each set: a prompt its model knows, a size it generates at, and a word of the prompt to hover. */
const SCENES = {
  demo: { prompt: 'a red circle above a blue square', size: '128', steps: '4', word: 'circle' },
  shapes: { prompt: 'a large red circle on the left and a small blue square on the right', size: '64', steps: '8', word: 'circle' },
};
const SCENE = SCENES[MODEL_SET];

test.use({ launchOptions: CHROMIUM_LAUNCH, viewport: { width: 1400, height: 1000 } });
test.describe.configure({ mode: 'serial' });

let server: StudioServer;
let page: Page;
let capabilities: string[] = [];
const pageErrors: string[] = [];

test.beforeAll(async ({ browser }) => {
  test.setTimeout(300_000);
  server = await startServer({ models: MODEL_SET });
  page = await browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(server.url);
  capabilities = await waitReady(page);
});

test.afterAll(async () => {
  await page?.close();
  await server?.stop();
});

const maskPixels = async (canvas: ReturnType<Page['getByTestId']>) => Number(await canvas.getAttribute('data-mask-pixels'));

test('generate with attention maps: hover a word, its mask appears over the image', async ({}, testInfo) => {
  test.setTimeout(600_000);
  expect(capabilities).toEqual(expect.arrayContaining(['generate', 'segment']));
  await page.getByTestId('nav-prompt').click();
  await typePrompt(page, SCENE.prompt);
  await page.getByTestId('gen-steps').fill(SCENE.steps);
  await page.getByTestId('gen-width').selectOption(SCENE.size);
  await page.getByTestId('gen-height').selectOption(SCENE.size);
  await page.getByTestId('gen-seed').fill('7');
  await expect(page.getByTestId('gen-attention')).toBeChecked();
  await generateAndWait(page);

  const overlay = page.getByTestId('generate-result-attention');
  await page.getByTestId('generate-result-attention-toggle').click();
  // The maps came with the generation: no job to wait for.
  await expect(overlay).toHaveAttribute('data-ready', 'true');
  const words = overlay.getByTestId('attention-word');
  await expect(words.first()).toBeVisible();
  expect(await words.evaluateAll((els) => els.map((e) => e.getAttribute('data-word')))).toContain(SCENE.word);

  const canvas = page.getByTestId('generate-result-attention-canvas');
  await overlay.locator(`[data-testid=attention-word][data-word=${SCENE.word}]`).hover();
  await expect(canvas).toHaveAttribute('data-word', SCENE.word);
  await expect.poll(() => maskPixels(canvas)).toBeGreaterThan(0);
  const atDefault = await maskPixels(canvas);
  // The canvas really carries coloured pixels where the mask is.
  const drawn = await canvas.evaluate((c: HTMLCanvasElement) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
    return n;
  });
  expect(drawn).toBe(atDefault);

  // A higher threshold keeps less of the map.
  await overlay.locator(`[data-testid=attention-word][data-word=${SCENE.word}]`).click(); // pin it
  await page.getByTestId('attention-threshold').fill('0.9');
  await expect.poll(() => maskPixels(canvas)).toBeLessThan(atDefault);
  await page.getByTestId('attention-threshold').fill('0.4');
  await expect.poll(() => maskPixels(canvas)).toBe(atDefault);

  // Hover a pixel: every word ranked by its attention there.
  const box = (await canvas.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.4);
  const ranking = overlay.getByTestId('attention-ranking').locator('li');
  await expect(ranking).toHaveCount(Math.min(5, await words.count()));
  await expect(canvas).toHaveAttribute('data-word', SCENE.word); // the pinned word stays shown
  await shot(page, 'attention-overlay', testInfo);

  // Export: full-resolution masks into a folder on the engine's machine.
  const dir = path.join(server.dataDir, 'exported-masks');
  await overlay.getByTestId('attention-export').click();
  await overlay.getByTestId('attention-export-dir').fill(dir);
  await overlay.getByTestId('attention-export-go').click();
  await expect(overlay.getByTestId('attention-export-result')).toContainText(`to ${dir}`);
  const summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as {
    width: number;
    threshold: number;
    words: { word: string; mask: string }[];
  };
  expect(summary.width).toBe(Number(SCENE.size));
  expect(summary.threshold).toBe(0.4);
  const mask = summary.words.find((w) => w.word === SCENE.word)!.mask;
  expect(existsSync(path.join(dir, mask))).toBe(true);
  expect(readdirSync(dir)).toEqual(expect.arrayContaining(['labels.png', 'overlay.png']));
});

test('the overlay of a library item is computed by a segment job (the generation sampled again)', async ({}, testInfo) => {
  test.setTimeout(600_000);
  await page.getByTestId('nav-library').click();
  await page.locator('[data-testid=library-item][data-kind=generation]').first().click();
  const overlay = page.getByTestId('details-image-attention');
  await page.getByTestId('details-image-attention-toggle').click();
  await expect(overlay).toHaveAttribute('data-ready', 'true', { timeout: 300_000 });
  await overlay.locator(`[data-testid=attention-word][data-word=${SCENE.word}]`).hover();
  const canvas = page.getByTestId('details-image-attention-canvas');
  await expect(canvas).toHaveAttribute('data-word', SCENE.word);
  await expect.poll(() => maskPixels(canvas)).toBeGreaterThan(0);
  await expect(overlay).toContainText('captured while the image was sampled');
  await shot(page, 'library-attention', testInfo);
});

test('no uncaught errors in the page', () => {
  expect(pageErrors).toEqual([]);
});
