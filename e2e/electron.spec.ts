/**
 * The same flows as studio.spec.ts in the Electron app (`_electron.launch`), on the demo models.
 * Skips with a message where no Electron binary is installed (e.g. machines that cannot download
 * it) or the app is not built (`npm run build` → out/main/index.js).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { _electron as electron, expect, test, type ElectronApplication, type Page } from '@playwright/test';
import { REPO_ROOT } from './support/server.js';
import { generateAndWait, openAdvanced, shot, typePrompt, waitReady } from './support/ui.js';

/**
 * Path of the Electron binary without `require('electron')`, which would try to download it when
 * it is missing.
 */
function electronBinary(): string | undefined {
  const pkg = path.join(REPO_ROOT, 'node_modules/electron');
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  const pathFile = path.join(pkg, 'path.txt');
  const rel = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : undefined;
  if (override) {
    const p = path.join(override, rel ?? (process.platform === 'win32' ? 'electron.exe' : 'electron'));
    return existsSync(p) ? p : undefined;
  }
  if (!rel) return undefined;
  const p = path.join(pkg, 'dist', rel);
  return existsSync(p) ? p : undefined;
}

const binary = electronBinary();
const mainEntry = path.join(REPO_ROOT, 'out/main/index.js');
test.skip(!binary, 'no Electron binary (node_modules/electron/dist is absent; it cannot be downloaded here) — Electron e2e skipped');
test.skip(!!binary && !existsSync(mainEntry), 'the Electron app is not built (run `npm run build` to create out/main/index.js)');
test.describe.configure({ mode: 'serial' });

const PROMPT = 'a small blue boat on a calm lake';
let app: ElectronApplication;
let page: Page;
let home: string;
let capabilities: string[] = [];

test.beforeAll(async () => {
  test.setTimeout(300_000);
  home = mkdtempSync(path.join(os.tmpdir(), 'studio-electron-e2e-'));
  app = await electron.launch({
    executablePath: binary!,
    args: [mainEntry, '--no-sandbox', '--disable-gpu'],
    cwd: REPO_ROOT,
    // userData (settings, library) under a throw-away folder: XDG_CONFIG_HOME on Linux.
    env: { ...process.env, XDG_CONFIG_HOME: path.join(home, 'config'), INVERSION_STUDIO_HOME: path.join(home, 'data') } as Record<
      string,
      string
    >,
  });
  page = await app.firstWindow();
  await expect(page).toHaveTitle(/Inversion Studio/);
  capabilities = await waitReady(page);
});

test.afterAll(async () => {
  await app?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

test('the preload exposes the API and no Node', async () => {
  const probe = await page.evaluate(() => ({
    studio: typeof (window as unknown as { studio?: unknown }).studio,
    transport: (window as unknown as { studio?: { transport?: string } }).studio?.transport,
    require: typeof (window as unknown as { require?: unknown }).require,
    process: typeof (window as unknown as { process?: unknown }).process,
  }));
  expect(probe).toEqual({ studio: 'object', transport: 'electron', require: 'undefined', process: 'undefined' });
});

test('generate, invert, cancel, library', async ({}, testInfo) => {
  test.setTimeout(1_200_000);
  expect(capabilities).toEqual(expect.arrayContaining(['generate', 'invert']));
  await page.getByTestId('nav-prompt').click();
  await typePrompt(page, PROMPT);
  await page.getByTestId('gen-steps').fill('4');
  await page.getByTestId('gen-width').selectOption('128');
  await page.getByTestId('gen-height').selectOption('128');
  await generateAndWait(page);
  await shot(page, 'electron-prompt', testInfo);

  await page.getByTestId('nav-library').click();
  await page.locator('[data-testid=library-item][data-kind=generation]').first().click();
  await page.getByTestId('details-invert').click();
  await openAdvanced(page);
  await page.getByTestId('invert-iterations').fill('12');
  await page.getByTestId('invert-run').click();
  await expect(page.getByTestId('inversion-panel')).toHaveAttribute('data-state', 'done', { timeout: 840_000 });
  await expect(page.getByTestId('result-prompt')).not.toBeEmpty();
  await shot(page, 'electron-invert', testInfo);

  await page.getByTestId('nav-library').click();
  await page.locator('[data-testid=library-item][data-kind=generation]').first().click();
  await page.getByTestId('details-invert').click();
  await page.getByTestId('invert-iterations').fill('5000');
  await page.getByTestId('invert-run').click();
  await expect(page.getByTestId('invert-phase')).toHaveText('refining', { timeout: 600_000 });
  await page.getByTestId('invert-cancel').click();
  await expect(page.getByTestId('inversion-panel')).toHaveAttribute('data-state', 'cancelled', { timeout: 120_000 });

  await page.reload();
  await waitReady(page);
  await page.getByTestId('nav-library').click();
  await expect(page.locator('[data-testid=library-item][data-kind=generation]')).not.toHaveCount(0);
  await expect(page.locator('[data-testid=library-item][data-kind=inversion]')).not.toHaveCount(0);
  await shot(page, 'electron-library', testInfo);
});
