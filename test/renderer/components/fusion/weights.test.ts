import { describe, expect, it } from 'vitest';
import {
  barycentric,
  equalWeights,
  pointOf,
  roundWeights,
  sliderWeights,
  TRIANGLE,
  weightsLabel,
} from '../../../../src/renderer/components/fusion/weights.js';

const sum = (w: readonly number[]) => w.reduce((s, x) => s + x, 0);

describe('fusion weights', () => {
  it('two parents: the slider is B’s share', () => {
    expect(sliderWeights(0.25)).toEqual([0.75, 0.25]);
    expect(sliderWeights(-1)).toEqual([1, 0]);
    expect(sliderWeights(Number.NaN)).toEqual([0.5, 0.5]);
  });

  it('three parents: the corners are one-hot, the centroid equal, any point sums to 1', () => {
    TRIANGLE.forEach((v, i) => {
      const w = barycentric(v);
      w.forEach((x, k) => expect(x).toBeCloseTo(k === i ? 1 : 0, 10));
    });
    const c = { x: (TRIANGLE[0].x + TRIANGLE[1].x + TRIANGLE[2].x) / 3, y: (TRIANGLE[0].y + TRIANGLE[1].y + TRIANGLE[2].y) / 3 };
    for (const x of barycentric(c)) expect(x).toBeCloseTo(1 / 3, 10);
    for (const p of [
      { x: 0.3, y: 0.5 },
      { x: 0.6, y: 0.7 },
    ]) {
      const w = barycentric(p);
      expect(sum(w)).toBeCloseTo(1, 12);
      const back = pointOf(w);
      expect(back.x).toBeCloseTo(p.x, 10);
      expect(back.y).toBeCloseTo(p.y, 10);
    }
  });

  it('a point outside the triangle gets the nearest edge point’s weights (never negative)', () => {
    const above = barycentric({ x: 0.5, y: -1 });
    expect(above.map((x) => Number(x.toFixed(6)))).toEqual([1, 0, 0]);
    const below = barycentric({ x: 0.5, y: 5 }); // under the B–C edge, midway
    expect(below[0]).toBe(0);
    expect(below[1]).toBeCloseTo(0.5, 10);
    expect(below[2]).toBeCloseTo(0.5, 10);
    for (const p of [
      { x: -3, y: 0.4 },
      { x: 4, y: 0.2 },
      { x: 0, y: 0 },
    ]) {
      const w = barycentric(p);
      expect(Math.min(...w)).toBeGreaterThanOrEqual(0);
      expect(sum(w)).toBeCloseTo(1, 12);
    }
  });

  it('rounds to two decimals that still sum to exactly 1', () => {
    expect(roundWeights(equalWeights(3))).toEqual([0.34, 0.33, 0.33]);
    expect(sum(roundWeights([0.123, 0.456, 0.421]))).toBeCloseTo(1, 12);
    expect(roundWeights([2, 2])).toEqual([0.5, 0.5]);
    expect(roundWeights([0, 0])).toEqual([0.5, 0.5]);
    expect(weightsLabel([0.75, 0.25])).toBe('0.75 / 0.25');
  });
});
