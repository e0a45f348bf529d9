/**
 * The copy of an inversion's target image that goes into the library. An upload can be far
 * larger than what the inversion looks at (a 16000x16000 photo for a 512x512 inversion); storing
 * it at full size costs hundreds of MB of library and memory for nothing. It is stored
 * downscaled so that its shorter side is the inversion size (the inversion crops the centre
 * square of that), never upscaled, EXIF orientation applied, as PNG.
 */
import sharp from 'sharp';
import { EngineError } from '../engine/errors.js';

/** Decoding refuses images above this many pixels (sharp's default is 268 M): 16384 x 16384. */
export const MAX_TARGET_INPUT_PIXELS = 16384 * 16384;

export interface StoredTarget {
  /** PNG bytes. */
  data: Buffer;
  info: { width: number; height: number };
  /** True when the upload was larger and was scaled down. */
  downscaled: boolean;
}

/**
 * PNG of `source` for the library, its shorter side at most `inversionSize` pixels.
 * @param inversionSize side the inversion ran at (the model set's native size, e.g. 512)
 * @throws EngineError('IMAGE') when the image cannot be decoded
 */
export async function targetImageForLibrary(source: Uint8Array, inversionSize: number): Promise<StoredTarget> {
  const side = Math.max(1, Math.round(inversionSize));
  try {
    const img = sharp(source, { limitInputPixels: MAX_TARGET_INPUT_PIXELS, sequentialRead: true }).rotate();
    const meta = await sharp(source, { limitInputPixels: MAX_TARGET_INPUT_PIXELS }).metadata();
    // EXIF orientations 5-8 swap width and height.
    const swap = (meta.orientation ?? 1) >= 5;
    const w = (swap ? meta.height : meta.width) ?? 0;
    const h = (swap ? meta.width : meta.height) ?? 0;
    const downscale = Math.min(w, h) > side;
    const out = await (downscale ? img.resize({ width: side, height: side, fit: 'outside', withoutEnlargement: true }) : img)
      .png()
      .toBuffer({ resolveWithObject: true });
    return { data: out.data, info: { width: out.info.width, height: out.info.height }, downscaled: downscale };
  } catch (e) {
    throw new EngineError('IMAGE', `could not read the target image: ${(e as Error).message}`, { cause: e });
  }
}
