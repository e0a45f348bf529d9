/** Page helpers shared by the browser and Electron specs. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { expect, type Page, type TestInfo } from '@playwright/test';
import { REPO_ROOT } from './server.js';

/**
 * The README shows the committed e2e/screenshots; a normal test run must not rewrite tracked
 * files, so it writes under test-results/ and only `UPDATE_SCREENSHOTS=1` refreshes the README's.
 */
export const SCREENSHOT_DIR = path.join(REPO_ROOT, process.env.UPDATE_SCREENSHOTS === '1' ? 'e2e/screenshots' : 'test-results/screenshots');

/** Saves a full-page screenshot to SCREENSHOT_DIR/<name>.png and attaches it to the report. */
export async function shot(page: Page, name: string, testInfo: TestInfo): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await testInfo.attach(name, { path: file, contentType: 'image/png' });
}

/** Waits until the UI is connected and the engine reports ready; returns its capabilities. */
export async function waitReady(page: Page): Promise<string[]> {
  const status = page.getByTestId('engine-status');
  await expect(status).toHaveAttribute('data-state', /ready|busy|restarted/, { timeout: 180_000 });
  return ((await status.getAttribute('data-capabilities')) ?? '').split(' ').filter(Boolean);
}

/** Replaces the Monaco prompt document with `text` by typing, as a user would. */
export async function typePrompt(page: Page, text: string): Promise<void> {
  const editor = page.getByTestId('prompt-editor');
  await expect(editor.locator('.monaco-editor')).toBeVisible({ timeout: 60_000 });
  await editor.locator('.view-lines').click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.type(text);
  await expect(editor.locator('.view-lines')).toContainText(text.split('\n')[0]!.slice(0, 20));
}

/** Numeric "a / b" from a counter element. */
export async function readFraction(page: Page, testId: string): Promise<[number, number]> {
  const t = (await page.getByTestId(testId).textContent()) ?? '';
  const m = /(\d+)\s*\/\s*(\d+)/.exec(t);
  return m ? [Number(m[1]), Number(m[2])] : [Number.NaN, Number.NaN];
}

/** Opens the Invert view's "Advanced" settings if they are closed. */
export async function openAdvanced(page: Page): Promise<void> {
  const details = page.getByTestId('invert-advanced');
  if ((await details.getAttribute('open')) === null) await details.locator('summary').click();
}

/** Clicks Generate in the Prompt view and waits for that new job to finish successfully. */
export async function generateAndWait(page: Page, timeout = 540_000): Promise<void> {
  const panel = page.getByTestId('generate-panel');
  const before = (await panel.getAttribute('data-job')) ?? '';
  await page.getByTestId('generate').click();
  await expect(panel).not.toHaveAttribute('data-job', before === '' ? /^$/ : before, { timeout: 60_000 });
  await expect(panel).toHaveAttribute('data-state', /done|failed|cancelled/, { timeout });
  const errors = await page.getByTestId('generate-error').allTextContents();
  expect(await panel.getAttribute('data-state'), `generation failed: ${errors.join('; ')}`).toBe('done');
}
