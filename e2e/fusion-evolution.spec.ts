/**
 * Fuse and Evolve views in a browser, through the web bridge, on the real engine (docs/fusion-evolution.md,
 * "Studio"): two Library images fused (blend, with the decoded prompt beside the result, saved in
 * the Library); an evolution session started from a Library image and a prompt, bred twice from
 * picks with a word locked, its lineage tree, a branch from an ancestor, and the session reopened
 * after a reload. Screenshots fuse.png, evolve.png, lineage.png (test-results/screenshots/, or
 * e2e/screenshots/ with UPDATE_SCREENSHOTS=1). Small images and few steps: the demo set on CPU.
 */
import { expect, test, type Locator, type Page } from '@playwright/test';
import { CHROMIUM_LAUNCH, startServer, type StudioServer } from './support/server.js';
import { generateAndWait, shot, typePrompt, waitReady } from './support/ui.js';

/** The model set the e2e specs run on (the demo set today; switch here, e.g. to the shapes set, when it is installed). */
const MODEL_SET = 'demo';
const SIZE = '64';
const STEPS = '4';

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

/** Every <img> under `root` has loaded (served by the bridge from the library folder). */
async function imagesLoaded(root: Locator): Promise<void> {
  await expect
    .poll(
      () =>
        root
          .locator('img')
          .evaluateAll(
            (imgs) => imgs.length > 0 && imgs.every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0),
          ),
      { timeout: 30_000 },
    )
    .toBe(true);
}

async function generate(prompt: string, seed: string): Promise<void> {
  await page.getByTestId('nav-prompt').click();
  await typePrompt(page, prompt);
  await page.getByTestId('gen-steps').fill(STEPS);
  await page.getByTestId('gen-width').selectOption(SIZE);
  await page.getByTestId('gen-height').selectOption(SIZE);
  await page.getByTestId('gen-seed').fill(seed);
  await generateAndWait(page);
}

test('fuse two library items: blend with the decoded prompt, saved in the Library', async ({}, testInfo) => {
  test.setTimeout(600_000);
  expect(capabilities).toEqual(expect.arrayContaining(['fuse', 'evolve']));
  await generate('a red apple on a table', '1');
  await generate('a blue ball in the grass', '2');

  await page.getByTestId('nav-fuse').click();
  const view = page.getByTestId('view-fuse');
  await expect(view).toBeVisible();
  await expect(page.getByTestId('fuse-run')).toBeDisabled(); // no parents yet
  await page.getByTestId('fuse-add-library').click();
  const picks = page.getByTestId('fuse-pick-item');
  await expect(picks).toHaveCount(2);
  await picks.nth(1).click(); // newest first: the apple, then the ball
  await picks.nth(0).click();
  await expect(page.getByTestId('fuse-parent')).toHaveCount(2);
  await page.getByTestId('fuse-mode').selectOption('blend');
  await page.getByTestId('fuse-weight').fill('0.7'); // B 0.7, A 0.3
  await expect(page.getByTestId('fuse-weights')).toHaveAttribute('data-weights', '0.3 / 0.7');
  await page.getByTestId('fuse-steps').fill(STEPS);
  await page.getByTestId('fuse-size').selectOption(SIZE);
  await page.getByTestId('fuse-run').click();
  const panel = page.getByTestId('fuse-panel');
  await expect(panel).toHaveAttribute('data-state', /done|failed|cancelled/, { timeout: 540_000 });
  const errors = await page.getByTestId('fuse-error').allTextContents();
  expect(await panel.getAttribute('data-state'), `fusion failed: ${errors.join('; ')}`).toBe('done');

  const result = page.getByTestId('fuse-result');
  await expect(result).toHaveAttribute('data-mode', 'blend');
  await imagesLoaded(page.getByTestId('fuse-result-image'));
  await expect(page.getByTestId('fuse-decoded')).not.toBeEmpty();
  const read = page.getByTestId('fuse-parents-read').locator('li');
  await expect(read).toHaveCount(2);
  await expect(read.nth(0)).toHaveAttribute('data-source', 'recorded');
  await expect(read.nth(0)).toContainText('a red apple on a table');
  await expect(read.nth(1)).toContainText('a blue ball in the grass');
  await page.getByTestId('fuse-add-library').click(); // close the picker for the screenshot
  await shot(page, 'fuse', testInfo);

  // The fused image is in the Library, with its parents.
  await page.getByTestId('fuse-open-library').click();
  await expect(page.getByTestId('view-library')).toBeVisible();
  await expect(page.getByTestId('view-library').locator('img').first()).toBeVisible();
  expect(pageErrors).toEqual([]);
});

test('evolve: a session of two generations bred from picks, its lineage tree, a branch, reopened after a reload', async ({}, testInfo) => {
  test.setTimeout(600_000);
  await page.getByTestId('nav-evolve').click();
  await expect(page.getByTestId('view-evolve')).toBeVisible();
  const create = page.getByTestId('evolve-create');
  await expect(create).toBeVisible(); // no session yet: the form is open
  await page.getByTestId('evolve-add-library').click();
  await page.locator('[data-testid=evolve-pick-item]').last().click(); // the first generation ("a red apple on a table")
  await page.getByTestId('evolve-add-library').click();
  await page.getByTestId('evolve-add-prompt').click();
  await page.getByTestId('evolve-prompt-input').fill('a green pear and a yellow lemon');
  await expect(page.getByTestId('evolve-parent')).toHaveCount(2);
  await page.getByTestId('evolve-population').fill('4');
  await page.getByTestId('evolve-steps').fill(STEPS);
  await page.getByTestId('evolve-size').selectOption(SIZE);
  await page.getByTestId('evolve-name').fill('fruit');
  await page.getByTestId('evolve-start').click();

  const session = page.getByTestId('evolve-session');
  await expect(session).toBeVisible({ timeout: 540_000 });
  await expect(session).toHaveAttribute('data-generations', '1');
  const id = (await session.getAttribute('data-session'))!;
  expect(id).toMatch(/^evo-/);
  const cards = page.getByTestId('evolve-card');
  await expect(cards).toHaveCount(4);
  await expect(cards.nth(0)).toContainText('a red apple on a table'); // the Library image by its recorded prompt
  await imagesLoaded(cards.nth(0));

  // Lock a word of the first individual, then pick two favourites and breed.
  await cards.nth(0).getByTestId('evolve-word').filter({ hasText: 'apple' }).click();
  await expect(cards.nth(0)).toHaveAttribute('data-locks', 'apple');
  await cards.nth(0).getByTestId('evolve-pick').click();
  await cards.nth(1).getByTestId('evolve-pick').click();
  await expect(page.getByTestId('evolve-picks')).toHaveAttribute('data-picks', 'g0-00 g0-01');
  await page.getByTestId('evolve-breed').click();
  await expect(session).toHaveAttribute('data-head', 'g1', { timeout: 540_000 });
  await expect(cards).toHaveCount(4);
  await expect(page.getByTestId('evolve-picks')).toHaveAttribute('data-picks', ''); // picks are cleared after a breed

  // The second generation from one pick.
  await cards.nth(1).getByTestId('evolve-pick').click();
  await page.getByTestId('evolve-breed').click();
  await expect(session).toHaveAttribute('data-head', 'g2', { timeout: 540_000 });
  await expect(session).toHaveAttribute('data-generations', '3');
  await imagesLoaded(page.getByTestId('evolve-card').nth(3));
  await shot(page, 'evolve', testInfo);

  // The lineage tree: three rows, thumbnails, edges; hovering a node shows its genome.
  const tree = page.getByTestId('lineage-tree');
  await expect(tree).toHaveAttribute('data-generations', '3');
  await expect(page.getByTestId('lineage-row')).toHaveCount(3);
  await expect(page.locator('[data-testid=lineage-row][data-head=true]')).toHaveAttribute('data-generation', 'g2');
  expect(await page.getByTestId('lineage-edge').count()).toBeGreaterThanOrEqual(6);
  await imagesLoaded(tree);
  const child = page.locator('[data-testid=lineage-node][data-generation=g1][data-carried=false]').first();
  await child.hover();
  const details = page.getByTestId('evolve-details');
  await expect(details).toHaveAttribute('data-id', /^g1-/);
  await expect(details).toContainText(/seed/i);
  // Select an ancestor of the first generation and branch from it.
  const ancestor = page.locator('[data-testid=lineage-node][data-generation=g0]').nth(1);
  await ancestor.click();
  await page.mouse.move(0, 0); // stop hovering: the details show the selection
  await expect(details).toHaveAttribute('data-id', 'g0-01');
  await tree.scrollIntoViewIfNeeded();
  await shot(page, 'lineage', testInfo);
  await page.getByTestId('evolve-branch').click();
  await expect(session).toHaveAttribute('data-head', 'g3');
  await expect(session).toHaveAttribute('data-generations', '4');
  await expect(page.locator('[data-testid=lineage-row][data-head=true]')).toHaveAttribute('data-generation', 'g3');

  // After a reload the session reopens where it was.
  await page.reload();
  await waitReady(page);
  await expect(page.getByTestId('view-evolve')).toBeVisible();
  await expect(session).toHaveAttribute('data-session', id, { timeout: 60_000 });
  await expect(session).toHaveAttribute('data-head', 'g3');
  await expect(page.getByTestId('lineage-tree')).toHaveAttribute('data-generations', '4');
  await expect(page.getByTestId('evolve-card').nth(0)).toHaveAttribute('data-locks', 'apple');
  await expect(page.locator(`[data-testid=evolve-session-item][data-id="${id}"]`)).toBeVisible();
  await imagesLoaded(page.getByTestId('lineage-tree'));
  expect(pageErrors).toEqual([]);
});
