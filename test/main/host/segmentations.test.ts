import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodePayloadGrid } from '../../../src/main/engine/attention/payload.js';
import {
  defaultExportDir,
  exportSegmentation,
  rethreshold,
  SegmentationCache,
  segmentationBytes,
  segmentOutputSize,
  toAttentionMaps,
} from '../../../src/main/host/segmentations.js';
import { AttentionMapsSchema } from '../../../src/shared/ipc/attention.js';
import { fakeSegmentation } from './fake-engine.js';

describe('segmentations kept for export', () => {
  it('keep the most recently used within a count and a byte budget', () => {
    const seg = fakeSegmentation('red ball blue box', 32, 32);
    const bytes = segmentationBytes(seg);
    expect(bytes).toBe(4 * 32 * 32 * 5 + 32 * 32);
    const cache = new SegmentationCache(3, 10 * bytes);
    const ids = [0, 1, 2].map(() => cache.put({ segmentation: seg, label: 'x' }));
    expect(cache.get(ids[0]!)).toBeDefined(); // now the most recent
    const fourth = cache.put({ segmentation: seg, label: 'x' });
    expect([ids[0], ids[1], ids[2], fourth].map((id) => cache.get(id!) !== undefined)).toEqual([true, false, true, true]);
    const tight = new SegmentationCache(8, bytes * 1.5);
    const a = tight.put({ segmentation: seg, label: 'a' });
    const b = tight.put({ segmentation: seg, label: 'b' });
    expect([tight.get(a), tight.get(b)].map(Boolean)).toEqual([false, true]);
    // One entry is always kept, even above the budget.
    const small = new SegmentationCache(8, 1);
    expect(small.get(small.put({ segmentation: seg, label: 'big' }))).toBeDefined();
  });

  it('go on the wire as 64-cell grids that pass the contract, with the id, prompt and source', () => {
    const seg = fakeSegmentation('a red ball and a blue box', 256, 128, { source: 'generation' });
    const maps = toAttentionMaps('seg-1', seg);
    expect(AttentionMapsSchema.parse(maps)).toEqual(maps);
    expect(maps).toMatchObject({ id: 'seg-1', prompt: seg.prompt, source: 'generation', width: 64, height: 32, imageWidth: 256 });
    expect(maps.words.map((w) => w.word)).toEqual(['red', 'ball', 'blue', 'box']);
    // Word k peaks in its own quarter of the image.
    const grid = decodePayloadGrid(maps, 2);
    const row = Array.from(grid.slice(16 * 64, 17 * 64));
    const peak = row.indexOf(Math.max(...row));
    expect(peak).toBeGreaterThanOrEqual(32);
    expect(peak).toBeLessThan(48);
  });

  it('are re-thresholded for export (masks, areas, labels)', () => {
    const seg = fakeSegmentation('red ball', 40, 20);
    const low = rethreshold(seg, 0.1);
    const high = rethreshold(seg, 0.9);
    expect(low.words[0]!.area).toBeGreaterThan(seg.words[0]!.area);
    expect(high.words[0]!.area).toBeLessThan(seg.words[0]!.area);
    expect(high.labels.filter((l) => l === 0).length).toBeGreaterThan(low.labels.filter((l) => l === 0).length);
    expect(rethreshold(seg, seg.threshold)).toBe(seg);
    expect(() => rethreshold(seg, 1.5)).toThrow(/threshold must be a number from 0 to 1/);
  });

  it('export writes full-resolution masks, labels, overlay and summary.json into the folder', async () => {
    const seg = fakeSegmentation('red ball', 48, 24);
    const image = await sharp({ create: { width: 48, height: 24, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'seg-export-')), 'nested', 'out');
    const r = await exportSegmentation({ segmentation: seg, image, label: 'x' }, dir, 0.5);
    expect(r.dir).toBe(dir);
    expect(r.threshold).toBe(0.5);
    expect(r.files.at(-1)).toBe('summary.json');
    expect(r.files).toEqual(expect.arrayContaining(['labels.png', 'overlay.png', 'mask-00-red.png', 'heatmap-01-ball.png']));
    for (const f of r.files) expect(existsSync(path.join(dir, f)), f).toBe(true);
    const mask = await sharp(path.join(dir, 'mask-00-red.png')).metadata();
    expect([mask.width, mask.height]).toEqual([48, 24]);
    const summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as { threshold: number; words: { word: string }[] };
    expect(summary.threshold).toBe(0.5);
    expect(summary.words.map((w) => w.word)).toEqual(['red', 'ball']);
  });

  it('export refuses a relative folder, a file in the way, and maps without words', async () => {
    const seg = fakeSegmentation('red ball', 8, 8);
    await expect(exportSegmentation({ segmentation: seg, label: 'x' }, 'relative/dir')).rejects.toThrow(/absolute path/);
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'seg-export-'));
    await exportSegmentation({ segmentation: seg, label: 'x' }, tmp); // writes into an existing folder
    await expect(exportSegmentation({ segmentation: seg, label: 'x' }, path.join(tmp, 'summary.json'))).rejects.toMatchObject({
      code: 'FILE',
    });
    expect(readFileSync(path.join(tmp, 'summary.json'), 'utf8')).toMatch(/"prompt": "red ball"/); // untouched
    const empty = { ...seg, words: [] };
    await expect(exportSegmentation({ segmentation: empty, label: 'x' }, tmp)).rejects.toThrow(/nothing to export/);
  });

  it('default export folder is next to the library, never inside it; big images are segmented at most 2048x2048', () => {
    const dir = defaultExportDir('/data/studio/library', '20250101-000000Z-abcd1234 c0', new Date('2025-02-03T04:05:06Z'));
    expect(dir).toBe(path.join('/data/studio/exports', '20250101-000000Z-abcd1234-c0-masks-20250203T040506'));
    expect(segmentOutputSize(512, 256)).toEqual({ width: 512, height: 256 });
    const big = segmentOutputSize(8000, 4000);
    expect(big.width * big.height).toBeLessThanOrEqual(2048 * 2048);
    expect(big.width / big.height).toBeCloseTo(2, 2);
  });
});
