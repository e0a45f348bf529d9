import { describe, expect, it } from 'vitest';
import { lerpMany, normaliseWeights, rms, slerp, slerpMany } from '../../../../../src/main/engine/concepts/fusion/embedding-math.js';
import { EngineError } from '../../../../../src/main/engine/errors.js';

function rand(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}
const norm = (v: Float32Array, off: number, dim: number) => Math.hypot(...v.subarray(off, off + dim));

describe('normaliseWeights', () => {
  it('sums to 1, equal when absent, keeps proportions', () => {
    expect(normaliseWeights(undefined, 4)).toEqual([0.25, 0.25, 0.25, 0.25]);
    const w = normaliseWeights([3, 1], 2);
    expect(w).toEqual([0.75, 0.25]);
    const w3 = normaliseWeights([0.2, 0.5, 0.9], 3);
    expect(w3.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(w3[2]! / w3[0]!).toBeCloseTo(4.5, 12);
  });

  it('refuses a wrong count, negative or non-finite weights, and all zeros', () => {
    expect(() => normaliseWeights([1], 2)).toThrow(/one weight per parent: 2 parents, 1 weights/);
    expect(() => normaliseWeights([1, -1], 2)).toThrow(EngineError);
    expect(() => normaliseWeights([1, Number.NaN], 2)).toThrow(/>= 0/);
    expect(() => normaliseWeights([0, 0], 2)).toThrow(/at least one weight/);
  });
});

describe('lerpMany', () => {
  it('is the normalised weighted sum', () => {
    const a = rand(12, 1);
    const b = rand(12, 2);
    const c = rand(12, 3);
    const m = lerpMany([a, b, c], [2, 1, 1]);
    for (let i = 0; i < 12; i++) expect(m[i]).toBeCloseTo(0.5 * a[i]! + 0.25 * b[i]! + 0.25 * c[i]!, 6);
    expect(Array.from(lerpMany([a, b], [1, 0]))).toEqual(Array.from(a));
  });

  it('refuses embeddings of different sizes', () => {
    expect(() => lerpMany([rand(4, 1), rand(6, 1)])).toThrow(/different sizes/);
  });
});

describe('slerp', () => {
  const dim = 8;
  const a = rand(3 * dim, 5);
  const b = rand(3 * dim, 9);

  it('returns the endpoints exactly at t = 0 and t = 1', () => {
    expect(Array.from(slerp(a, b, 0, dim))).toEqual(Array.from(a));
    expect(Array.from(slerp(a, b, 1, dim))).toEqual(Array.from(b));
  });

  it('moves along the great circle row by row: equal angles to both ends at t = 0.5, length interpolated', () => {
    const m = slerp(a, b, 0.5, dim);
    for (let r = 0; r < 3; r++) {
      const off = r * dim;
      const cos = (x: Float32Array, y: Float32Array) => {
        let d = 0;
        for (let k = 0; k < dim; k++) d += x[off + k]! * y[off + k]!;
        return d / (norm(x, off, dim) * norm(y, off, dim));
      };
      expect(cos(m, a)).toBeCloseTo(cos(m, b), 5);
      expect(norm(m, off, dim)).toBeCloseTo((norm(a, off, dim) + norm(b, off, dim)) / 2, 5);
      // Unlike lerp, the midpoint is not shorter than the shorter end when the rows differ in direction.
      const lerpLen = Math.hypot(...Array.from({ length: dim }, (_, k) => (a[off + k]! + b[off + k]!) / 2));
      expect(norm(m, off, dim)).toBeGreaterThan(lerpLen);
    }
  });

  it('falls back to lerp for parallel rows, and checks t and the row width', () => {
    const c = a.map((x) => 2 * x);
    const m = slerp(a, c, 0.25, dim);
    for (let i = 0; i < a.length; i++) expect(m[i]).toBeCloseTo(1.25 * a[i]!, 5);
    expect(() => slerp(a, b, 1.5, dim)).toThrow(/t in \[0, 1\]/);
    expect(() => slerp(a, b, 0.5, 7)).toThrow(/rows of 7/);
  });

  it('slerpMany: two parents = slerp at the second weight; a one-hot weight gives that parent exactly', () => {
    const two = slerpMany([a, b], [0.7, 0.3], dim);
    const ref = slerp(a, b, 0.3, dim);
    for (let i = 0; i < a.length; i++) expect(two[i]).toBeCloseTo(ref[i]!, 6);
    const c = rand(3 * dim, 11);
    expect(Array.from(slerpMany([a, b, c], [0, 1, 0], dim))).toEqual(Array.from(b));
    const three = slerpMany([a, b, c], undefined, dim);
    expect(three.length).toBe(a.length);
    expect(rms(three)).toBeGreaterThan(0);
  });
});
