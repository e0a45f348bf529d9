import { describe, expect, it } from 'vitest';
import { describeReport, editReport } from '../../../../../src/main/engine/concepts/edit/report.js';

describe('editReport', () => {
  it('measures inside and outside the mask separately', () => {
    // 4 pixels: pixel 0 in the mask and changed a lot; pixel 1 outside, changed by 2 levels.
    const src = Uint8Array.from([10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40]);
    const ed = Uint8Array.from([200, 10, 10, 22, 20, 20, 30, 30, 30, 40, 40, 40]);
    const r = editReport(ed, src, Uint8Array.from([1, 0, 0, 0]));
    expect(r.maskArea).toBe(0.25);
    expect(r.inside).toMatchObject({ pixels: 1, changed: 1 });
    expect(r.outside).toMatchObject({ pixels: 3, changed: 0 });
    // MSE outside = 4 / 9 per channel value.
    expect(r.outside.psnr).toBeCloseTo(10 * Math.log10((255 * 255 * 9) / 4), 10);
    expect(r.whole.pixels).toBe(4);
    expect(describeReport(r)).toMatch(/^outside the mask \(75% of the image\): 0% of pixels changed, PSNR 51\.7 dB; inside: 100% changed/);
  });

  it('identical regions have infinite PSNR; empty regions NaN', () => {
    const a = Uint8Array.from([1, 2, 3, 4, 5, 6]);
    const r = editReport(a, a, Uint8Array.from([0, 0]));
    expect(r.outside.psnr).toBe(Infinity);
    expect(r.inside.psnr).toBeNaN();
    expect(describeReport(r)).toBe('the mask is empty: 0% of pixels changed, PSNR ∞ dB');
  });
});
