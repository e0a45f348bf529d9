import { describe, expect, it } from 'vitest';
import { psnr } from '../../../../src/main/engine/metrics/psnr.js';

describe('PSNR', () => {
  it('compares on the [0, 1] scale: 10 log10(1 / MSE)', () => {
    // Values in [-1, 1]: a difference of 0.2 is 0.1 on [0, 1]; MSE 0.01 -> 20 dB.
    expect(psnr(Float32Array.of(0, 0.5, -1, 1), Float32Array.of(0.2, 0.7, -0.8, 0.8))).toBeCloseTo(20, 5);
    // Half the values off by the full range (2 -> 1), half exact: MSE 0.5 -> 3.0103 dB.
    expect(psnr(Float32Array.of(-1, 1), Float32Array.of(1, 1))).toBeCloseTo(10 * Math.log10(2), 6);
    expect(psnr(Float32Array.of(0.3), Float32Array.of(0.3))).toBe(Infinity);
    expect(() => psnr(Float32Array.of(1), Float32Array.of(1, 2))).toThrow(/one size/);
  });
});
