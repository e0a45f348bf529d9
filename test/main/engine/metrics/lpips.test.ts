import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadLpips,
  locateLpips,
  lpipsFromFeatures,
  LPIPS_MANIFEST,
  LPIPS_REPO,
  normaliseChannels,
  type FeatureMap,
} from '../../../../src/main/engine/metrics/lpips.js';
import { CHANNELS, fixtureFeatures, LIN, writeLpipsFixture } from './lpips-fixture.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'lpips-test-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const map = (data: number[], channels: number, height: number, width: number): FeatureMap => ({
  data: Float32Array.from(data),
  channels,
  height,
  width,
});

describe('the LPIPS formula', () => {
  it('normalises each pixel over channels', () => {
    // Two channels, two pixels: (3, 4) -> (0.6, 0.8); (0, 0) stays 0.
    const n = normaliseChannels(map([3, 0, 4, 0], 2, 1, 2));
    expect(n.data[0]).toBeCloseTo(0.6, 6);
    expect(n.data[2]).toBeCloseTo(0.8, 6);
    expect(n.data[1]).toBe(0);
  });

  it('sums over layers the spatial mean of the weighted squared difference of normalised features', () => {
    // Layer 0: 2 channels, 1x2 pixels. x = [(1,0), (0,2)] -> normalised [(1,0), (0,1)];
    // y = [(0,1), (0,1)]. Squared diffs: pixel 0 (1, 1), pixel 1 (0, 0). Weights (0.5, 2):
    // pixel 0 = 0.5 + 2 = 2.5, pixel 1 = 0 -> mean 1.25.
    // Layer 1: 1 channel, 1 pixel: x = 5 -> 1, y = -2 -> -1: diff² 4, weight 0.25 -> 1.
    const fx = [map([1, 0, 0, 2], 2, 1, 2), map([5], 1, 1, 1)];
    const fy = [map([0, 0, 1, 1], 2, 1, 2), map([-2], 1, 1, 1)];
    const w = [Float32Array.of(0.5, 2), Float32Array.of(0.25)];
    expect(lpipsFromFeatures(fx, fy, w)).toBeCloseTo(2.25, 6);
    expect(lpipsFromFeatures(fx, fx, w)).toBe(0);
  });
});

describe('the LPIPS loader (deepghs/imgutils-models layout)', () => {
  it('is NOT_INSTALLED with the download command when absent', async () => {
    await expect(loadLpips({ cacheDir: root })).rejects.toMatchObject({
      code: 'NOT_INSTALLED',
      message: expect.stringContaining(`inversion-studio models download ${LPIPS_MANIFEST}`),
    });
  });

  it('runs the two graphs and agrees with the formula on the fixture network, in either cache layout', async () => {
    const hub = path.join(root, 'a', ...LPIPS_REPO.split('/'));
    await writeLpipsFixture(hub);
    expect(locateLpips(path.join(root, 'a'))).toBe(hub);
    const viaManifest = path.join(root, 'b', 'models', LPIPS_MANIFEST);
    await writeLpipsFixture(viaManifest);
    expect(locateLpips(path.join(root, 'b'))).toBe(viaManifest);

    const w = 32;
    const h = 32;
    const a = Float32Array.from({ length: 3 * w * h }, (_, i) => Math.sin(i * 0.11));
    const b = Float32Array.from({ length: 3 * w * h }, (_, i) => Math.cos(i * 0.07) * 0.9);
    const lp = await loadLpips({ cacheDir: path.join(root, 'a') });
    try {
      const d = await lp.distance({ data: a, width: w, height: h }, { data: b, width: w, height: h });
      const expected = lpipsFromFeatures(
        fixtureFeatures(a, w, h),
        fixtureFeatures(b, w, h),
        LIN.map((v) => Float32Array.from(v)),
      );
      expect(CHANNELS).toHaveLength(5);
      expect(d).toBeGreaterThan(0);
      expect(d).toBeCloseTo(expected, 4);
      expect(await lp.distance({ data: a, width: w, height: h }, { data: Float32Array.from(a), width: w, height: h })).toBeCloseTo(0, 6);
      await expect(
        lp.distance({ data: a, width: w, height: h }, { data: new Float32Array(3 * 64 * 64), width: 64, height: 64 }),
      ).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    } finally {
      await lp.release();
    }
  });
});
