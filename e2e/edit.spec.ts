/**
 * The Edit view (docs/editing.md, "Studio") in a browser through the web bridge on the real
 * engine: invert an image, "Edit this prompt" on the result, remove a word (the editor and the
 * source prompt show the removal as it is typed), Generate: before/after with the compare slider,
 * the difference view, the mask, the report; the edit in the Library linked to its source; an
 * edit of a generation opened from the Library, cancelled.
 *
 * MODEL_SET is the one constant to change when the default studio model moves to the shapes set.
 */
import { expect, test, type Page } from '@playwright/test';
import { CHROMIUM_LAUNCH, startServer, type StudioServer } from './support/server.js';
import { generateAndWait, openAdvanced, shot, typePrompt, waitReady } from './support/ui.js';

const MODEL_SET: keyof typeof SCENES = 'demo';
/**
 * Per model set: what to generate and invert (prompt, size, steps; the text the inversion starts
 * from, one of its candidates), and a generation whose edit runs long enough to be cancelled.
 */
const SCENES = {
  demo: {
    prompt: 'a red circle above a blue square',
    size: '128',
    steps: '4',
    init: 'a red circle above a blue square',
    iterations: '4',
    long: { prompt: 'a green triangle below a yellow circle', size: '256', steps: '150' },
  },
  shapes: {
    prompt: 'a large red circle on the left and a small blue square on the right',
    size: '64',
    steps: '8',
    init: 'a large red circle on the left and a small blue square on the right',
    iterations: '8',
    long: { prompt: 'a small green triangle on the left and a large yellow circle on the right', size: '64', steps: '150' },
  },
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

/** The source prompt without its last word (the last one with a letter or digit), and that word. */
function withoutLastWord(prompt: string): { edited: string; removed: string } {
  const words = prompt.split(/\s+/).filter(Boolean);
  let i = words.length - 1;
  while (i > 0 && !/[\p{L}\p{N}]/u.test(words[i]!)) i--;
  return { edited: [...words.slice(0, i), ...words.slice(i + 1)].join(' '), removed: words[i]! };
}

/** Replaces the Edit view's editor text by typing, as a user would. */
async function typeEdit(text: string): Promise<void> {
  const editor = page.getByTestId('edit-editor');
  await expect(editor.locator('.monaco-editor')).toBeVisible({ timeout: 60_000 });
  await editor.locator('.view-lines').click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.type(text);
}

const loaded = (img: ReturnType<Page['getByTestId']>) => img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth > 0);

test('invert → Edit this prompt → remove a word → Generate: before/after with the compare slider', async ({}, testInfo) => {
  test.setTimeout(900_000);
  expect(capabilities).toEqual(expect.arrayContaining(['generate', 'invert', 'edit']));
  // An image to invert: a generation, handed from the Library to the Invert view.
  await page.getByTestId('nav-prompt').click();
  await typePrompt(page, SCENE.prompt);
  await page.getByTestId('gen-steps').fill(SCENE.steps);
  await page.getByTestId('gen-width').selectOption(SCENE.size);
  await page.getByTestId('gen-height').selectOption(SCENE.size);
  await page.getByTestId('gen-seed').fill('5');
  await generateAndWait(page);
  await page.getByTestId('nav-library').click();
  await page.locator('[data-testid=library-item][data-kind=generation]').first().click();
  await page.getByTestId('details-invert').click();
  await expect(page.getByTestId('view-invert')).toBeVisible();
  await openAdvanced(page);
  await page.getByTestId('invert-iterations').fill(SCENE.iterations);
  await page.getByLabel('Start from text (instead of a caption)').fill(SCENE.init);
  await page.getByTestId('invert-run').click();
  await expect(page.getByTestId('inversion-panel')).toHaveAttribute('data-state', 'done', { timeout: 840_000 });

  // A candidate of several words with its own image (the start text is one), then "Edit this prompt".
  const candidates = page.getByTestId('candidates').getByTestId('candidate');
  const n = await candidates.count();
  for (let i = 0; i < n; i++) {
    const c = candidates.nth(i);
    const text = ((await c.locator('.candidate-prompt').textContent()) ?? '').trim();
    if (text.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length >= 2 && (await c.locator('img').count()) > 0) {
      if (i > 0) await c.click();
      break;
    }
  }
  await page.getByTestId('edit-this-prompt').click();
  await expect(page.getByTestId('view-edit')).toBeVisible();
  await expect(page).toHaveURL(/#\/edit$/);
  await expect(page.getByTestId('edit-source')).toHaveAttribute('data-kind', 'inversion');
  await expect.poll(() => loaded(page.getByTestId('edit-source-image').locator('img'))).toBe(true);
  const source = ((await page.getByTestId('edit-source-prompt').textContent()) ?? '').trim();
  expect(source.length).toBeGreaterThan(0);
  const editor = page.getByTestId('edit-editor');
  await expect(editor.locator('.view-lines')).toContainText(source.slice(0, 20), { timeout: 60_000 });
  await expect(page.getByTestId('edit-diff')).toHaveAttribute('data-identical', 'true');
  await expect(page.getByTestId('edit-generate')).toBeDisabled();

  // Remove a word: the removal shows in the editor (struck through where it was) and in the source prompt.
  const { edited, removed } = withoutLastWord(source);
  await typeEdit(edited);
  await expect(page.getByTestId('edit-diff')).toContainText('1 removal');
  await expect(editor.locator('.tok-removed').first()).toBeVisible();
  await expect(page.getByTestId('edit-source-prompt').locator('mark[data-kind=removed]')).toContainText(removed);

  await page.getByTestId('edit-generate').click();
  const panel = page.getByTestId('edit-panel');
  await expect(panel).not.toHaveAttribute('data-job', '', { timeout: 60_000 });
  await expect(panel).toHaveAttribute('data-state', /done|failed|cancelled/, { timeout: 600_000 });
  const errors = await page.getByTestId('edit-error').allTextContents();
  expect(await panel.getAttribute('data-state'), `edit failed: ${errors.join('; ')}`).toBe('done');

  // The result: before/after with the compare slider, the mode auto chose for a removal, the report.
  const result = page.getByTestId('edit-result');
  await expect(result).toBeVisible();
  const compare = page.getByTestId('edit-compare');
  await expect(compare).toHaveAttribute('data-view', 'swipe');
  await expect.poll(() => loaded(page.getByTestId('edit-compare-before'))).toBe(true);
  await expect.poll(() => loaded(page.getByTestId('edit-compare-after'))).toBe(true);
  const slider = page.getByTestId('edit-compare-slider');
  await slider.fill('20');
  await expect(compare).toHaveAttribute('data-position', '20');
  expect(await page.getByTestId('edit-compare-after').evaluate((i: HTMLElement) => i.style.clipPath)).toContain('20%');
  await slider.focus();
  await page.keyboard.press('ArrowRight');
  await expect(compare).toHaveAttribute('data-position', '21');
  await expect(page.getByTestId('edit-mode-used')).toContainText('blend');
  await expect(page.getByTestId('edit-result-diff')).toContainText(`removal of "${removed}`);
  await expect(page.getByTestId('edit-report-outside')).toContainText(/pixels changed|no pixel changed|mask/);

  // The difference view and the mask.
  await page.getByTestId('edit-compare-difference-toggle').click();
  await expect(compare).toHaveAttribute('data-view', 'difference');
  await expect(page.getByTestId('edit-compare-difference')).toBeVisible();
  await page.getByTestId('edit-compare-swipe-toggle').click();
  await expect(compare).toHaveAttribute('data-view', 'swipe');
  await slider.fill('50');
  await slider.blur();
  await shot(page, 'edit', testInfo);
  await page.getByTestId('edit-compare-mask-toggle').click();
  await expect(page.getByTestId('edit-compare-mask')).toBeVisible();
  await page.getByTestId('edit-compare-mask-toggle').click();
  await expect(page.getByTestId('edit-compare-mask')).toHaveCount(0);

  // In the Library, linked to its source.
  await page.getByTestId('edit-open-library').click();
  await expect(page.getByTestId('view-library')).toBeVisible();
  const details = page.getByTestId('library-details');
  await expect(details.getByTestId('details-edit-record')).toBeVisible();
  await expect(details.getByTestId('details-prompt')).toContainText(edited.slice(0, 30));
  await expect(page.locator('[data-testid=library-item][data-kind=generation]').filter({ hasText: 'edit' }).first()).toBeVisible();
  await details.getByTestId('details-edit-source').click();
  await expect(details).toHaveAttribute('data-kind', 'inversion');
});

test('an edit of a generation opened from the Library is cancelled: nothing is saved', async () => {
  test.setTimeout(900_000);
  expect(capabilities).toEqual(expect.arrayContaining(['generate', 'edit']));
  // A generation with many steps, so that its edit (two samplings side by side) is still running when cancelled.
  const long = SCENE.long;
  await page.getByTestId('nav-prompt').click();
  await typePrompt(page, long.prompt);
  await page.getByTestId('gen-steps').fill(long.steps);
  await page.getByTestId('gen-width').selectOption(long.size);
  await page.getByTestId('gen-height').selectOption(long.size);
  await generateAndWait(page);
  await page.getByTestId('nav-library').click();
  const before = await page.getByTestId('library-item').count();
  await page.locator('[data-testid=library-item][data-kind=generation]').filter({ hasText: long.prompt }).first().click();
  await page.getByTestId('details-edit').click();
  await expect(page.getByTestId('view-edit')).toBeVisible();
  await expect(page.getByTestId('edit-source')).toHaveAttribute('data-kind', 'generation');
  await expect(page.getByTestId('edit-source-prompt')).toHaveText(long.prompt);
  await typeEdit(withoutLastWord(long.prompt).edited);
  await expect(page.getByTestId('edit-diff')).toContainText('1 removal');
  await page.getByTestId('edit-generate').click();
  const panel = page.getByTestId('edit-panel');
  await expect(panel).toHaveAttribute('data-state', 'running', { timeout: 300_000 });
  await page.getByTestId('edit-cancel').click();
  await expect(panel).toHaveAttribute('data-state', 'cancelled', { timeout: 120_000 });
  await expect(page.getByTestId('edit-cancelled')).toBeVisible();
  await page.getByTestId('nav-library').click();
  await expect(page.getByTestId('library-item')).toHaveCount(before);
});

test('no uncaught errors in the page', () => {
  expect(pageErrors).toEqual([]);
});
