/**
 * What an edit changed, measured against the source image: inside and outside the edit's mask,
 * the fraction of pixels changed and the PSNR, so the artist sees whether the edit stayed local.
 * Computed on the 8-bit RGB the PNGs hold.
 */
import { EngineError } from '../../errors.js';

export interface RegionChange {
  /** Pixels in the region. */
  pixels: number;
  /** Fraction of them whose largest channel difference exceeds the tolerance. */
  changed: number;
  /** PSNR in dB over the region's channels (Infinity when identical there, NaN for an empty region). */
  psnr: number;
}

export interface EditReport {
  /** Fraction of the image inside the mask. */
  maskArea: number;
  /** Outside the mask: what should not have changed. */
  outside: RegionChange;
  /** Inside the mask: the edit itself. */
  inside: RegionChange;
  whole: RegionChange;
  /** A pixel counts as changed when a channel differs by more than this many 8-bit levels. */
  tolerance: number;
}

/** Default change tolerance in 8-bit levels (≈ 5% of the range: above PNG rounding and VAE jitter). */
export const CHANGE_TOLERANCE = 12;

function region(edited: Uint8Array, source: Uint8Array, mask: Uint8Array, want: number | undefined, tolerance: number): RegionChange {
  let pixels = 0;
  let changed = 0;
  let se = 0;
  for (let p = 0; p < mask.length; p++) {
    if (want !== undefined && mask[p] !== want) continue;
    pixels++;
    let big = 0;
    for (let c = 0; c < 3; c++) {
      const d = edited[p * 3 + c]! - source[p * 3 + c]!;
      se += d * d;
      big = Math.max(big, Math.abs(d));
    }
    if (big > tolerance) changed++;
  }
  if (pixels === 0) return { pixels, changed: 0, psnr: NaN };
  const mse = se / (pixels * 3);
  return { pixels, changed: changed / pixels, psnr: mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse) };
}

/**
 * @param edited, source HWC RGB bytes of the same size
 * @param mask 0/1 per pixel (width·height)
 */
export function editReport(edited: Uint8Array, source: Uint8Array, mask: Uint8Array, tolerance = CHANGE_TOLERANCE): EditReport {
  if (edited.length !== source.length || edited.length !== mask.length * 3)
    throw new EngineError(
      'SHAPE_MISMATCH',
      `report: images of ${edited.length} and ${source.length} bytes with a mask of ${mask.length} pixels`,
    );
  let inMask = 0;
  for (const v of mask) inMask += v ? 1 : 0;
  const bin = Uint8Array.from(mask, (v) => (v ? 1 : 0));
  return {
    maskArea: mask.length ? inMask / mask.length : 0,
    outside: region(edited, source, bin, 0, tolerance),
    inside: region(edited, source, bin, 1, tolerance),
    whole: region(edited, source, bin, undefined, tolerance),
    tolerance,
  };
}

const db = (x: number): string => (Number.isNaN(x) ? '-' : x === Infinity ? '∞' : x.toFixed(1));

/** `outside the mask (88% of the image): 0.4% of pixels changed, PSNR 41.2 dB; inside: 63% changed` */
export function describeReport(r: EditReport): string {
  const pct = (x: number) => `${(x * 100).toFixed(x < 0.1 && x > 0 ? 1 : 0)}%`;
  if (r.outside.pixels === 0)
    return `the mask covers the whole image: ${pct(r.inside.changed)} of pixels changed, PSNR ${db(r.inside.psnr)} dB`;
  if (r.inside.pixels === 0) return `the mask is empty: ${pct(r.outside.changed)} of pixels changed, PSNR ${db(r.outside.psnr)} dB`;
  return (
    `outside the mask (${pct(1 - r.maskArea)} of the image): ${pct(r.outside.changed)} of pixels changed, PSNR ${db(r.outside.psnr)} dB; ` +
    `inside: ${pct(r.inside.changed)} changed, PSNR ${db(r.inside.psnr)} dB`
  );
}
