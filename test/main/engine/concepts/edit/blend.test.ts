import { describe, expect, it } from 'vitest';
import type { CapturedAttention, CrossAttentionLayer } from '../../../../../src/main/engine/attention/index.js';
import { blendLatents, dilate, editMask, upsampleMask, wordsMap } from '../../../../../src/main/engine/concepts/edit/blend.js';

const layer = (index: number): CrossAttentionLayer => ({
  index,
  name: `l${index}`,
  block: 'down',
  node: `n${index}`,
  probabilities: `p${index}`,
});

/** A 4x4 latent with one full-resolution layer; `hot` gives each position's map. */
function captured(hot: Record<number, number[]>, T = 6): CapturedAttention {
  const data = new Float32Array(16 * T);
  for (const [t, map] of Object.entries(hot)) map.forEach((v, p) => (data[p * T + Number(t)] = v));
  return {
    latentHeight: 4,
    latentWidth: 4,
    positions: T,
    timesteps: [1],
    layers: [{ layer: layer(0), height: 4, width: 4, factor: 1, positions: T, data }],
  };
}

const corner = [9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const far = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];

describe('dilate', () => {
  it('is a max-pool of radius r clipped at the borders', () => {
    const m = Float32Array.from(corner);
    expect(Array.from(dilate(m, 4, 4, 1))).toEqual([9, 9, 0, 0, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(dilate(m, 4, 4, 0)).toBe(m);
  });
});

describe('editMask', () => {
  it('thresholds each side’s max-normalised word maps and takes the union', () => {
    const src = captured({ 2: corner });
    const edit = captured({ 3: far });
    const mask = editMask(src, edit, { source: [{ positions: [2] }], edited: [{ positions: [3] }] }, 4, 4, {
      threshold: 0.3,
      dilate: 0,
      maxFactor: 4,
    });
    expect(mask[0]).toBe(1);
    expect(mask[15]).toBe(1);
    expect(mask.reduce((a, v) => a + v, 0)).toBeLessThan(8);
    // A side without words (or maps) adds nothing.
    expect(
      editMask(src, undefined, { source: [], edited: [{ positions: [3] }] }, 4, 4, { threshold: 0.3, dilate: 0, maxFactor: 4 }).every(
        (v) => v === 0,
      ),
    ).toBe(true);
  });

  it('normalises each word by its maximum before combining', () => {
    const weak = corner.map((v) => v / 100);
    const m = wordsMap(captured({ 1: weak, 2: far }), [{ positions: [1] }, { positions: [2] }], { dilate: 0, maxFactor: 4 });
    expect(m[0]).toBeCloseTo(1, 5);
    expect(m[15]).toBeCloseTo(1, 5);
  });
});

describe('blendLatents', () => {
  it('keeps the source exactly outside the mask and the edit inside, in every channel', () => {
    const mask = Uint8Array.from([1, 0, 0, 1]);
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const s = Float32Array.from([-1, -2, -3, -4, -5, -6, -7, -8]);
    expect(Array.from(blendLatents(x, s, mask))).toEqual([1, -2, -3, 4, 5, -6, -7, 8]);
  });
});

describe('upsampleMask', () => {
  it('gives each latent pixel a factor x factor block', () => {
    expect(Array.from(upsampleMask(Uint8Array.from([1, 0]), 1, 2, 2))).toEqual([1, 1, 0, 0, 1, 1, 0, 0]);
  });
});
