/**
 * Pixel PSNR between two images (the shapes world's stand-in for LPIPS: its images are flat
 * colours, where a pixel measure is meaningful and AlexNet features are not): images in the
 * engine's [-1, 1] range are compared on the [0, 1] scale, PSNR = 10·log10(1 / MSE) dB.
 */
import { EngineError } from '../errors.js';

/** PSNR in dB (Infinity for identical images). */
export function psnr(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length)
    throw new EngineError('INVALID_ARGUMENT', `PSNR compares images of one size (${a.length} vs ${b.length} values)`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i]! - b[i]!) / 2) ** 2;
  const mse = s / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10(1 / mse);
}
