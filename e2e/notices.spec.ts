/**
 * A damaged settings file (issue 17): the web bridge's config.json is truncated before the server
 * starts. The studio says so in a banner (where the file was moved, that defaults are in use for
 * what could not be recovered), the library the file named is still listed, the banner is still
 * there for a client that connects later (a reload), and once dismissed it stays dismissed.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { expect, test } from '@playwright/test';
import { CHROMIUM_LAUNCH, startServer, type StudioServer } from './support/server.js';
import { shot, waitReady } from './support/ui.js';

test.use({ launchOptions: CHROMIUM_LAUNCH, viewport: { width: 1400, height: 900 } });

const ITEM_ID = '20250101-000000Z-0123abcd';
let server: StudioServer;
let myLibrary = '';

test.beforeAll(async () => {
  test.setTimeout(300_000);
  server = await startServer({
    libraryFlag: false, // the library folder comes from the (damaged) settings file
    prepare: async ({ dataDir }) => {
      myLibrary = path.join(dataDir, 'my-library');
      mkdirSync(myLibrary, { recursive: true });
      const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#c04020' } })
        .png()
        .toBuffer();
      writeFileSync(path.join(myLibrary, `${ITEM_ID}.png`), png);
      const item = {
        kind: 'generation',
        id: ITEM_ID,
        createdAt: '2025-01-01T00:00:00.000Z',
        file: `${ITEM_ID}.png`,
        width: 64,
        height: 64,
        params: {
          prompt: 'an orange square kept from last year',
          negativePrompt: '',
          seed: 1,
          steps: 4,
          scheduler: 'ddim',
          guidance: 7.5,
          width: 64,
          height: 64,
          model: 'demo',
        },
      };
      writeFileSync(path.join(myLibrary, 'index.json'), JSON.stringify({ format: 'inversion-studio-library', version: 1, items: [item] }));
      // The settings file, cut off in the middle of a field (a crash while writing, a full disk).
      const full = JSON.stringify({ libraryDir: myLibrary, modelSet: 'demo', provider: 'cpu', offline: true }, null, 2);
      writeFileSync(path.join(dataDir, 'config.json'), full.slice(0, full.indexOf('"provider"') + 8));
    },
  });
});

test.afterAll(async () => {
  await server?.stop();
});

test('a truncated settings file: a banner says so, the library is still listed, dismissing is remembered', async ({ page }, testInfo) => {
  test.setTimeout(300_000);
  await page.goto(server.url);
  await waitReady(page);
  const notice = page.locator('[data-testid=notice][data-source=settings]');
  await expect(notice).toBeVisible();
  await expect(notice).toContainText(/settings file .*config\.json was damaged/);
  await expect(notice).toContainText('config.json.corrupt-');
  await expect(notice).toContainText('Recovered: libraryDir');
  expect(readdirSync(server.dataDir).some((f) => f.startsWith('config.json.corrupt-'))).toBe(true);

  await page.getByTestId('nav-library').click();
  await expect(page.getByTestId('library-item')).toHaveCount(1);
  await expect(page.locator(`[data-testid=library-item][data-id="${ITEM_ID}"]`)).toBeVisible();
  await shot(page, 'notice-settings', testInfo);

  // A client connecting later (a reload) still gets it.
  await page.reload();
  await waitReady(page);
  await expect(notice).toBeVisible();
  await notice.getByTestId('notice-dismiss').click();
  await expect(notice).toHaveCount(0);
  await page.reload();
  await waitReady(page);
  await expect(page.getByTestId('library-item')).toHaveCount(1);
  await expect(page.locator('[data-testid=notice]')).toHaveCount(0);
});
