import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alternatePredictor,
  alternationSchedule,
  combineCompose,
  composePredictor,
  predictEach,
  regionPredictor,
} from '../../../../../src/main/engine/concepts/fusion/predictors.js';
import { defaultRegions, geometricMask, normaliseMasks } from '../../../../../src/main/engine/concepts/fusion/regions.js';
import { loadModelSet, type ModelSet } from '../../../../../src/main/engine/diffusion/load-model-set.js';
import { encodePrompt, predictNoise, runUnet } from '../../../../../src/main/engine/diffusion/pipeline.js';
import { gaussian } from '../../../../../src/main/engine/diffusion/rng.js';
import { testCacheDir } from '../../models/demo/demo-cache.js';

let ms: ModelSet;
let c1: Float32Array;
let c2: Float32Array;
let c3: Float32Array;
let u: Float32Array;
const h = 4;
const w = 4;
let x: Float32Array;

beforeAll(async () => {
  ms = await loadModelSet('demo', { cacheDir: testCacheDir(), provider: 'cpu', skipVaeEncoder: true });
  const e = await Promise.all(['a red fox in the snow', 'a blue boat on a lake', 'an old castle', ''].map((p) => encodePrompt(ms, p)));
  [c1, c2, c3, u] = [e[0]!, e[1]!, e[2]!, e[3]!];
  x = gaussian(3, 4 * h * w, 0);
}, 120_000);
afterAll(async () => {
  await ms?.release();
});

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('compose (A1111 AND) on the demo UNet', () => {
  it('equals uncond + Σ wᵢ·g·(condᵢ − uncond) computed by hand from single UNet runs', async () => {
    const t = 500;
    const g = 7.5;
    const weights = [0.7, 0.5, 1.2];
    const single = async (e: Float32Array) => runUnet(ms, x, t, e, 1, h, w);
    const [eu, e1, e2, e3] = [await single(u), await single(c1), await single(c2), await single(c3)];
    const hand = new Float32Array(x.length);
    for (let j = 0; j < hand.length; j++)
      hand[j] = eu[j]! + weights[0]! * g * (e1[j]! - eu[j]!) + weights[1]! * g * (e2[j]! - eu[j]!) + weights[2]! * g * (e3[j]! - eu[j]!);
    const got = await composePredictor(ms, [c1, c2, c3], weights)(x, t, c1, u, g, h, w, 0);
    expect(maxDiff(got, hand)).toBeLessThan(1e-4);
    expect(maxDiff(got, eu)).toBeGreaterThan(1e-3);
  });

  it('with one parent of weight 1 is ordinary classifier-free guidance', async () => {
    const got = await composePredictor(ms, [c2], [1])(x, 300, c2, u, 5, h, w, 0);
    const ref = await predictNoise(ms, x, 300, c2, u, 5, h, w);
    expect(maxDiff(got, ref)).toBeLessThan(1e-4);
  });

  it('without guidance is the weighted mean of the conditional predictions', () => {
    const a = Float32Array.from([1, 2]);
    const b = Float32Array.from([3, 6]);
    expect(Array.from(combineCompose(undefined, [a, b], [1, 3], 1))).toEqual([2.5, 5]);
    expect(Array.from(combineCompose(Float32Array.from([0, 0]), [a, b], [1, 1], 2))).toEqual([8, 16]);
  });

  it('batches [uncond; conds] in chunks with the same result as one at a time', async () => {
    const all = await predictEach(ms, x, 700, [u, c1, c2, c3], h, w, 7.5, 4);
    const ones = await predictEach(ms, x, 700, [u, c1, c2, c3], h, w, 7.5, 1);
    all.forEach((e, i) => expect(maxDiff(e, ones[i]!)).toBeLessThan(1e-4));
  });
});

describe('alternate ([a|b])', () => {
  it('alternates strictly with equal weights and shares steps by weight otherwise', () => {
    expect(alternationSchedule([1, 1], 6)).toEqual([0, 1, 0, 1, 0, 1]);
    expect(alternationSchedule([1, 1, 1], 6)).toEqual([0, 1, 2, 0, 1, 2]);
    const s = alternationSchedule([3, 1], 8);
    expect(s.filter((p) => p === 0)).toHaveLength(6);
    expect(s).toEqual([0, 0, 1, 0, 0, 0, 1, 0]);
    expect(() => alternationSchedule([0, 0], 4)).toThrow(/weight above 0/);
  });

  it('step k is guided by its parent alone', async () => {
    const p = alternatePredictor(ms, [c1, c2], [0, 1]);
    for (const step of [0, 1, 2]) {
      const got = await p(x, 400, c1, u, 7.5, h, w, step);
      const ref = await predictNoise(ms, x, 400, step % 2 === 0 ? c1 : c2, u, 7.5, h, w);
      expect(maxDiff(got, ref)).toBeLessThan(1e-4);
    }
  });
});

describe('regions', () => {
  it('left/right halves sum to 1 everywhere, with a soft seam', () => {
    const { masks, shares } = normaliseMasks([geometricMask('left', 8, 8), geometricMask('right', 8, 8)]);
    for (let p = 0; p < 64; p++) expect(masks[0]![p]! + masks[1]![p]!).toBeCloseTo(1, 6);
    expect(masks[0]![0]).toBeGreaterThan(0.95);
    expect(masks[1]![7]).toBeGreaterThan(0.95);
    expect(shares[0]).toBeCloseTo(0.5, 6);
    const strips = defaultRegions(3).map((r) => geometricMask(r, 6, 6));
    expect(strips[1]![3]).toBe(1);
    expect(strips[0]![5]).toBe(0);
    expect(geometricMask('top', 8, 8)[0]).toBe(1);
    expect(geometricMask('bottom', 8, 8)[0]).toBe(0);
  });

  it('weights scale the masks before normalising', () => {
    const full = geometricMask('full', 4, 4);
    const { shares } = normaliseMasks([full, full], [3, 1]);
    expect(shares[0]).toBeCloseTo(0.75, 6);
  });

  it('each latent pixel takes its region parent’s guided prediction', async () => {
    const { masks } = normaliseMasks([geometricMask('left', h, w), geometricMask('right', h, w)]);
    const got = await regionPredictor(ms, [c1, c2], masks)(x, 600, c1, u, 7.5, h, w, 0);
    const r1 = await predictNoise(ms, x, 600, c1, u, 7.5, h, w);
    const r2 = await predictNoise(ms, x, 600, c2, u, 7.5, h, w);
    for (let j = 0; j < got.length; j++) {
      const p = j % (h * w);
      expect(got[j]).toBeCloseTo(masks[0]![p]! * r1[j]! + masks[1]![p]! * r2[j]!, 3);
    }
    await expect(regionPredictor(ms, [c1, c2], [new Float32Array(3), new Float32Array(3)])(x, 600, c1, u, 7.5, h, w, 0)).rejects.toThrow(
      /4x4/,
    );
  });
});
