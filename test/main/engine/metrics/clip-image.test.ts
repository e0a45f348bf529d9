import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EngineError } from '../../../../src/main/engine/errors.js';
import { locateHubModel } from '../../../../src/main/engine/hf/transformers.js';
import { writeClipVisionFixture, CLIP_FIXTURE_EMBED_DIM } from '../hf/clip-vision-fixture.js';
import { resolveCacheDir } from '../../../../src/main/engine/models/cache.js';
import {
  clipImageInstalled,
  CLIP_IMAGE_MANIFEST,
  CLIP_IMAGE_REPO,
  cosine,
  loadClipImageScorer,
} from '../../../../src/main/engine/metrics/clip-image.js';

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
      message: expect.stringMatching(
        new RegExp(`${CLIP_IMAGE_REPO}.*not installed.*inversion-studio models download ${CLIP_IMAGE_MANIFEST}`),
      ),
    });
  });

  it('finds the model in either cache layout (models download, or a copied hub folder)', () => {
    const a = path.join(empty, 'a');
    mkdirSync(path.join(a, 'models', CLIP_IMAGE_MANIFEST), { recursive: true });
    writeFileSync(path.join(a, 'models', CLIP_IMAGE_MANIFEST, 'config.json'), '{}');
    expect(locateHubModel(a, CLIP_IMAGE_REPO, CLIP_IMAGE_MANIFEST)).toEqual({ dir: path.join(a, 'models', CLIP_IMAGE_MANIFEST) });
    const b = path.join(empty, 'b');
    mkdirSync(path.join(b, ...CLIP_IMAGE_REPO.split('/')), { recursive: true });
    writeFileSync(path.join(b, ...CLIP_IMAGE_REPO.split('/'), 'config.json'), '{}');
    expect(locateHubModel(b, CLIP_IMAGE_REPO, CLIP_IMAGE_MANIFEST)).toEqual({ dir: path.join(b, ...CLIP_IMAGE_REPO.split('/')) });
    expect(clipImageInstalled(b)).toBe(true);
  });

  it('a folder without weights is reported as NOT_INSTALLED, not as a crash', async () => {
    const b = path.join(empty, 'b');
    await expect(loadClipImageScorer({ cacheDir: b })).rejects.toMatchObject({
      code: 'NOT_INSTALLED',
      message: expect.stringMatching(
        /incomplete \(missing preprocessor_config\.json, onnx\/vision_model\.onnx\).*models download clip-vit-l14/,
      ),
    });
  });

  // Real weights are never present on these machines; where someone has installed them, check
  // the scorer on a pair of images.
  const cache = resolveCacheDir();
  it.skipIf(!clipImageInstalled(cache))(
    `scores an image against itself as 1 and against its negative lower (skipped: ${CLIP_IMAGE_MANIFEST} not installed in ${cache})`,
    async () => {
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
    },
  );
});

/** CHW [-1, 1] image: a colour gradient, a disc of `disc` colour, optional per-pixel jitter. */
function scene(width: number, height: number, disc: [number, number, number], jitter = 0) {
  const n = width * height;
  const data = new Float32Array(3 * n);
  let s = 12345;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inDisc = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (Math.min(width, height) / 3) ** 2;
      for (let c = 0; c < 3; c++) {
        s = (s * 1103515245 + 12345) >>> 0;
        const noise = jitter * ((s / 2 ** 32) * 2 - 1);
        const base = inDisc ? disc[c]! : (c === 2 ? y / height : x / width) * 2 - 1;
        data[c * n + y * width + x] = Math.max(-1, Math.min(1, base + noise));
      }
    }
  }
  return { data, width, height };
}

/** The centre `side` x `side` square of a CHW image. */
function centreSquare(img: { data: Float32Array; width: number; height: number }) {
  const side = Math.min(img.width, img.height);
  const x0 = Math.floor((img.width - side) / 2);
  const y0 = Math.floor((img.height - side) / 2);
  const data = new Float32Array(3 * side * side);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++)
        data[c * side * side + y * side + x] = img.data[c * img.width * img.height + (y + y0) * img.width + x + x0]!;
  return { data, width: side, height: side };
}

// A generated Xenova/clip-vit-large-patch14 stand-in (hf/testing/clip-vision-fixture.ts): CLIP's
// preprocessor config and the vision tower's ONNX I/O, with a pooled-pixel projection as weights.
describe.each(['hub', 'manifest'] as const)('CLIP image scorer on a fixture (%s layout)', (layout) => {
  let cacheDir: string;
  beforeAll(async () => {
    cacheDir = mkdtempSync(path.join(tmpdir(), `clip-fx-${layout}-`));
    await writeClipVisionFixture(cacheDir, { layout });
  });
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

  it('embeds to unit length through the real processor and model, and ranks images by likeness', async () => {
    expect(clipImageInstalled(cacheDir)).toBe(true);
    const scorer = await loadClipImageScorer({ cacheDir });
    try {
      const red = scene(96, 96, [0.9, -0.8, -0.8]);
      const redNoisy = scene(96, 96, [0.9, -0.8, -0.8], 0.2);
      const blue = scene(96, 96, [-0.8, -0.8, 0.9]);
      const e = await scorer.embed(red);
      expect(e.length).toBe(CLIP_FIXTURE_EMBED_DIM);
      expect(Math.hypot(...e)).toBeCloseTo(1, 5);
      expect(await scorer.score(red, red)).toBeCloseTo(1, 5);
      const near = await scorer.score(redNoisy, red);
      const far = await scorer.score(blue, red);
      expect(near).toBeLessThan(1);
      expect(near).toBeGreaterThan(far);
      expect(near).toBeGreaterThan(0.95);
    } finally {
      await scorer.release();
    }
  });

  it('scores a non-square image like its centre square (resize shortest edge + centre crop, as CLIP)', async () => {
    const scorer = await loadClipImageScorer({ cacheDir });
    try {
      const wide = scene(160, 96, [0.9, 0.9, -0.8]);
      expect(await scorer.score(wide, centreSquare(wide))).toBeGreaterThan(0.99);
    } finally {
      await scorer.release();
    }
  });
});
