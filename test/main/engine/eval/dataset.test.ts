import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTarget, parseDatasetSpec, readDataset } from '../../../../src/main/engine/eval/dataset.js';
import { heldOutPrompts } from '../../../../src/main/engine/models/shapes/world/index.js';
import { imageSlotAccuracy } from '../../../../src/main/engine/metrics/shapes-checker.js';

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'eval-dataset-'));
  await sharp({ create: { width: 80, height: 64, channels: 3, background: { r: 255, g: 0, b: 0 } } })
    .png()
    .toFile(path.join(dir, 'red.png'));
  writeFileSync(path.join(dir, 'broken.png'), 'not a png');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dataset specs', () => {
  it('parses shapes:N[:SEED] and folders', () => {
    expect(parseDatasetSpec('shapes:100')).toEqual({ kind: 'shapes', n: 100, seed: 0 });
    expect(parseDatasetSpec('shapes:5:7')).toEqual({ kind: 'shapes', n: 5, seed: 7 });
    expect(parseDatasetSpec('some/dir')).toEqual({ kind: 'folder', dir: path.resolve('some/dir') });
    expect(() => parseDatasetSpec('shapes:x')).toThrow(/shapes:N/);
    expect(() => parseDatasetSpec('shapes:0')).toThrow(/N ≥ 1/);
  });
});

describe('folder datasets', () => {
  it('reads prompts.jsonl, reporting rows without image or prompt, bad JSON and duplicates', async () => {
    writeFileSync(
      path.join(dir, 'prompts.jsonl'),
      [
        JSON.stringify({ image: 'red.png', prompt: 'a red square' }),
        JSON.stringify({ image: 'missing.png', prompt: 'gone' }),
        '{not json',
        JSON.stringify({ image: 'x.png' }),
        JSON.stringify({ prompt: 'no image' }),
        JSON.stringify({ image: 'red.png', prompt: 'again' }),
        '',
      ].join('\n'),
    );
    const ds = await readDataset({ kind: 'folder', dir });
    expect(ds.items.map((i) => [i.id, i.prompt])).toEqual([
      ['red.png', 'a red square'],
      ['missing.png', 'gone'],
    ]);
    expect(ds.items[0]!.image).toBe(path.join(dir, 'red.png'));
    expect(ds.problems).toEqual([
      'prompts.jsonl line 3: not JSON',
      'prompts.jsonl line 4: no prompt for x.png',
      'prompts.jsonl line 5: no image',
      'prompts.jsonl line 6: red.png is listed twice; the first row is used',
    ]);
    expect((await readDataset({ kind: 'folder', dir }, { limit: 1 })).items).toHaveLength(1);
    rmSync(path.join(dir, 'prompts.jsonl'));
  });

  it('reads prompts.csv by its header, and refuses a header without the columns', async () => {
    writeFileSync(path.join(dir, 'prompts.csv'), 'prompt,image\n"a red, square",red.png\n,broken.png\n');
    const ds = await readDataset({ kind: 'folder', dir });
    expect(ds.items.map((i) => i.prompt)).toEqual(['a red, square']);
    expect(ds.problems).toEqual(['prompts.csv line 3: no prompt for broken.png']);
    writeFileSync(path.join(dir, 'prompts.csv'), 'file_name,caption\nred.png,x\n');
    expect((await readDataset({ kind: 'folder', dir })).problems[0]).toMatch(/needs 'image' and 'prompt' columns/);
    rmSync(path.join(dir, 'prompts.csv'));
    await expect(readDataset({ kind: 'folder', dir })).rejects.toThrow(/no prompts.jsonl or prompts.csv/);
    await expect(readDataset({ kind: 'folder', dir: path.join(dir, 'nope') })).rejects.toThrow(/does not exist/);
  });

  it('loads a target centre-cropped at the size; a missing or broken image is an IMAGE error', async () => {
    const t = await loadTarget({ id: 'red.png', prompt: 'x', image: path.join(dir, 'red.png') }, 32);
    expect([t.width, t.height, t.data.length]).toEqual([32, 32, 3 * 32 * 32]);
    expect(t.data[0]).toBeCloseTo(1, 5);
    await expect(loadTarget({ id: 'm', prompt: 'x', image: path.join(dir, 'missing.png') }, 32)).rejects.toMatchObject({ code: 'IMAGE' });
    await expect(loadTarget({ id: 'b', prompt: 'x', image: path.join(dir, 'broken.png') }, 32)).rejects.toMatchObject({ code: 'IMAGE' });
  });
});

describe('shapes:N', () => {
  it('gives N held-out scenes with their prompts, rendered exactly (the checker reads the truth back)', async () => {
    const ds = await readDataset({ kind: 'shapes', n: 5, seed: 0 });
    expect(ds.name).toBe('shapes:5');
    expect(ds.items.map((i) => i.prompt)).toEqual(heldOutPrompts(5, 0));
    expect(ds.items[0]!.id).toBe('shapes-000');
    for (const item of ds.items) {
      const acc = imageSlotAccuracy(item.scene!, await loadTarget(item, 64));
      expect(acc.correct).toBe(acc.total);
    }
  });
});
