import { describe, expect, it } from 'vitest';
import { decodeMask, describeEditReport, maskPixels, percent } from '../../../../src/renderer/components/edit/edit-report.js';

const region = (pixels: number, changed: number, psnr: number | null) => ({ pixels, changed, psnr });

describe('the edit report in words and the mask grid', () => {
  it('says how much changed outside the mask and inside it', () => {
    const r = describeEditReport({
      maskArea: 0.12,
      outside: region(880, 0.008, 41.23),
      inside: region(120, 0.63, 18.04),
      whole: region(1000, 0.08, 25),
      tolerance: 12,
    });
    expect(r.outside).toBe('outside the mask (88% of the image): 0.8% of pixels changed, PSNR 41.2 dB');
    expect(r.inside).toBe('inside the mask (12%): 63% of pixels changed, PSNR 18.0 dB');
    const same = describeEditReport({
      maskArea: 0.5,
      outside: region(500, 0, null),
      inside: region(500, 0.2, 30),
      whole: region(1000, 0.1, 33),
      tolerance: 12,
    });
    expect(same.outside).toMatch(/no pixel changed$/);
  });

  it('an empty mask and a mask over everything are said so', () => {
    const all = region(100, 0.5, 20);
    const none = region(0, 0, null);
    expect(describeEditReport({ maskArea: 1, outside: none, inside: all, whole: all, tolerance: 12 }).outside).toMatch(
      /covers the whole image/,
    );
    expect(describeEditReport({ maskArea: 0, outside: all, inside: none, whole: all, tolerance: 12 }).outside).toMatch(/the mask is empty/);
    expect(percent(0)).toBe('0%');
    expect(percent(0.0456)).toBe('4.6%');
  });

  it('decodes the base64 grid (empty when it does not match its size) and tints the inside', () => {
    const data = Buffer.from([0, 1, 1, 0]).toString('base64');
    expect([...decodeMask({ width: 2, height: 2, data })]).toEqual([0, 1, 1, 0]);
    expect(decodeMask({ width: 3, height: 2, data })).toHaveLength(0);
    expect(decodeMask({ width: 2, height: 2, data: '!!' })).toHaveLength(0);
    const px = maskPixels(Uint8Array.of(0, 1), [1, 2, 3, 4]);
    expect([...px]).toEqual([0, 0, 0, 0, 1, 2, 3, 4]);
  });
});
