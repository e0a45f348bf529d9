import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EngineError } from '../errors.js';
import { locateHubModel } from '../hf/transformers.js';
import { resolveCacheDir } from '../models/cache.js';
import { clipImageInstalled, CLIP_IMAGE_MANIFEST, CLIP_IMAGE_REPO, cosine, loadClipImageScorer } from './clip-image.js';

let empty: string;
beforeAll(() => {
  empty = mkdtempSync(path.join(tmpdir(), 'clip-cache-'));
});
afterAll(() => rmSync(empty, { recursive: true, force: true }));

describe('cosine', () => {
  it('is 1 for parallel, -1 for opposite, 0 for orthogonal or zero vectors', () => {
    expect(cosine(Float32Array.of(1, 2, 3), Float32Array.of(2, 4, 6))).toBeCloseTo(1, 6);
    expect(cosine(Float32Array.of(1, 2), Float32Array.of(-1, -2))).toBeCloseTo(-1, 6);
    expect(cosine(Float32Array.of(1, 0), Float32Array.of(0, 5))).toBe(0);
    expect(cosine(Float32Array.of(0, 0), Float32Array.of(1, 5))).toBe(0);
    expect(() => cosine(Float32Array.of(1), Float32Array.of(1, 2))).toThrow(RangeError);
  });
});

describe('CLIP ViT-L/14 image scorer', () => {
  it('is NOT_INSTALLED with install instructions when the weights are absent', async () => {
    expect(clipImageInstalled(empty)).toBe(false);
    const p = loadClipImageScorer({ cacheDir: empty });
    await expect(p).rejects.toBeInstanceOf(EngineError);
    await expect(p).rejects.toMatchObject({
      code: 'NOT_INSTALLED',
      message: expect.stringMatching(new RegExp(`${CLIP_IMAGE_REPO}.*not installed.*inversion-studio models download ${CLIP_IMAGE_MANIFEST}`)),
    });
  });

  it('finds the model in either cache layout (models download, or a copied hub folder)', () => {
    const a = path.join(empty, 'a');
    mkdirSync(path.join(a, 'models', CLIP_IMAGE_MANIFEST), { recursive: true });
    writeFileSync(path.join(a, 'models', CLIP_IMAGE_MANIFEST, 'config.json'), '{}');
    expect(locateHubModel(a, CLIP_IMAGE_REPO, CLIP_IMAGE_MANIFEST)).toEqual({ localModelPath: path.join(a, 'models'), modelId: CLIP_IMAGE_MANIFEST, dir: path.join(a, 'models', CLIP_IMAGE_MANIFEST) });
    const b = path.join(empty, 'b');
    mkdirSync(path.join(b, ...CLIP_IMAGE_REPO.split('/')), { recursive: true });
    writeFileSync(path.join(b, ...CLIP_IMAGE_REPO.split('/'), 'config.json'), '{}');
    expect(locateHubModel(b, CLIP_IMAGE_REPO, CLIP_IMAGE_MANIFEST)).toMatchObject({ localModelPath: b, modelId: CLIP_IMAGE_REPO });
    expect(clipImageInstalled(b)).toBe(true);
  });

  it('a folder without weights is reported as NOT_INSTALLED, not as a crash', async () => {
    const b = path.join(empty, 'b');
    await expect(loadClipImageScorer({ cacheDir: b })).rejects.toMatchObject({ code: 'NOT_INSTALLED', message: expect.stringMatching(/could not be loaded/) });
  });

  // Real weights are never present on these machines; where someone has installed them, check
  // the scorer on a pair of images.
  const cache = resolveCacheDir();
  it.skipIf(!clipImageInstalled(cache))(`scores an image against itself as 1 and against its negative lower (skipped: ${CLIP_IMAGE_MANIFEST} not installed in ${cache})`, async () => {
    const scorer = await loadClipImageScorer({ cacheDir: cache });
    try {
      const n = 64 * 64;
      const img = { data: Float32Array.from({ length: 3 * n }, (_, i) => Math.sin(i / 50)), width: 64, height: 64 };
      const neg = { data: img.data.map((v) => -v), width: 64, height: 64 };
      expect(await scorer.score(img, img)).toBeCloseTo(1, 5);
      expect(await scorer.score(neg, img)).toBeLessThan(0.99);
      expect((await scorer.embed(img)).length).toBe(768);
    } finally {
      await scorer.release();
    }
  });
});
