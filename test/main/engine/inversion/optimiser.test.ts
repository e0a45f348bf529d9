import { describe, expect, it } from 'vitest';
import { AdamW, Sgd } from '../../../../src/main/engine/inversion/optimiser.js';
import { cyclicLr } from '../../../../src/main/engine/inversion/lr-schedule.js';

describe('AdamW', () => {
  it('takes torch.optim.AdamW steps (bias-corrected, decoupled decay)', () => {
    const p = Float32Array.from([1, -2]);
    const opt = new AdamW(2, { weightDecay: 0.01 });
    opt.step(p, Float32Array.from([0.5, -3]), 0.1);
    // First step: m̂ = g, v̂ = g², so the update is lr * g/(|g| + eps) = ±lr after decay.
    expect(p[0]).toBeCloseTo(1 * (1 - 0.001) - 0.1, 6);
    expect(p[1]).toBeCloseTo(-2 * (1 - 0.001) + 0.1, 6);
    // Second step, computed by hand from the same formulas.
    opt.step(p, Float32Array.from([0.25, -3]), 0.1);
    const m = 0.9 * 0.05 + 0.1 * 0.25;
    const v = 0.999 * 0.00025 + 0.001 * 0.0625;
    const expected = (1 * 0.999 - 0.1) * 0.999 - (0.1 * (m / (1 - 0.81))) / (Math.sqrt(v / (1 - 0.999 ** 2)) + 1e-8);
    expect(p[0]).toBeCloseTo(expected, 6);
    expect(opt.steps).toBe(2);
  });

  it('leaves masked parameters untouched', () => {
    const p = Float32Array.from([1, 1]);
    new AdamW(2).step(p, Float32Array.from([1, 1]), 0.1, Uint8Array.from([1, 0]));
    expect(p[1]).toBe(1);
    expect(p[0]).toBeLessThan(1);
  });

  it('minimises a quadratic', () => {
    const p = Float32Array.from([3, -4]);
    const opt = new AdamW(2, { weightDecay: 0 });
    for (let i = 0; i < 500; i++) opt.step(p, Float32Array.from([2 * p[0]!, 2 * p[1]!]), 0.05);
    expect(Math.abs(p[0]!)).toBeLessThan(0.05);
    expect(Math.abs(p[1]!)).toBeLessThan(0.05);
  });
});

describe('SGD', () => {
  it('steps against the gradient', () => {
    const p = Float32Array.from([1]);
    new Sgd(1).step(p, Float32Array.from([2]), 0.25);
    expect(p[0]).toBeCloseTo(0.5);
  });
});

describe('cyclic learning rate', () => {
  it('reproduces CyclicLR(0.05, 0.1, 50 up, 50 down, triangular)', () => {
    const lr = cyclicLr({ base: 0.05, max: 0.1, stepsUp: 50, stepsDown: 50 });
    expect(lr(0)).toBeCloseTo(0.05);
    expect(lr(25)).toBeCloseTo(0.075);
    expect(lr(50)).toBeCloseTo(0.1);
    expect(lr(75)).toBeCloseTo(0.075);
    expect(lr(100)).toBeCloseTo(0.05);
    expect(lr(150)).toBeCloseTo(0.1);
  });
});
