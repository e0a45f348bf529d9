/**
 * The exact renderer of the shapes world: a scene -> an anti-aliased RGB image plus one binary
 * mask per object. Deterministic in (scene, size, seed, options): the seed only drives the
 * placement jitter (geometry.ts); there is no pixel noise.
 */
import { EngineError } from '../../../errors.js';
import { insideShape, objectPlacements, type Placement } from './geometry.js';
import { validateScene } from './grammar.js';
import { BACKGROUND_RGB, COLOUR_RGB, SHAPES_NATIVE_SIZE, type Scene } from './vocabulary.js';

export interface RenderOptions {
  /** Image side in pixels (square images; default 64). */
  size?: number;
  /** Placement jitter seed (default 0). */
  seed?: number;
  /** Subsamples per pixel along each axis for anti-aliasing (default 4: 16 samples per pixel). */
  supersample?: number;
  /** false: every object exactly on its anchor at its nominal size (default true). */
  jitter?: boolean;
}

/** A rendered scene. Images are row-major HWC, 3 channels. */
export interface RenderedScene {
  width: number;
  height: number;
  /** RGB bytes, length width·height·3. */
  rgb: Uint8Array;
  /** The same array as `rgb`, so a rendered scene is also the engine's `RgbImage`. */
  data: Uint8Array;
  /** One mask per object (scene order), length width·height, 1 where the pixel centre is inside the object. */
  masks: Uint8Array[];
  /** Where each object landed (fractions of the side). */
  placements: Placement[];
}

/**
 * Render `scene` at `size`×`size`. Each pixel's colour is the background blended with each
 * object's colour by the fraction of the pixel's subsamples inside the object (objects never
 * overlap, so the fractions add up to at most 1). Throws EngineError on an invalid scene or size.
 */
export function renderScene(scene: Scene, opts: RenderOptions = {}): RenderedScene {
  validateScene(scene);
  const size = opts.size ?? SHAPES_NATIVE_SIZE;
  const ss = opts.supersample ?? 4;
  if (!Number.isInteger(size) || size < 8 || size > 4096) throw new EngineError('INVALID_ARGUMENT', `Image size must be an integer in [8, 4096] (got ${size}).`);
  if (!Number.isInteger(ss) || ss < 1 || ss > 16) throw new EngineError('INVALID_ARGUMENT', `supersample must be an integer in [1, 16] (got ${ss}).`);
  const placements = objectPlacements(scene, opts.seed ?? 0, opts.jitter ?? true);
  const bg = BACKGROUND_RGB[scene.background];
  const rgb = new Uint8Array(size * size * 3);
  for (let p = 0; p < size * size; p++) rgb.set(bg, p * 3);
  const masks = scene.objects.map(() => new Uint8Array(size * size));

  scene.objects.forEach((o, k) => {
    const { cx, cy, extent } = placements[k]!;
    const half = (extent / 2) * size; // pixels
    const colour = COLOUR_RGB[o.colour];
    const mask = masks[k]!;
    const x0 = Math.max(0, Math.floor(cx * size - half) - 1);
    const x1 = Math.min(size - 1, Math.ceil(cx * size + half) + 1);
    const y0 = Math.max(0, Math.floor(cy * size - half) - 1);
    const y1 = Math.min(size - 1, Math.ceil(cy * size + half) + 1);
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const u = (x + 0.5 - cx * size) / half;
        const v = (y + 0.5 - cy * size) / half;
        if (insideShape(o.shape, u, v)) mask[y * size + x] = 1;
        let hits = 0;
        for (let sy = 0; sy < ss; sy++) {
          const vv = (y + (sy + 0.5) / ss - cy * size) / half;
          for (let sx = 0; sx < ss; sx++) if (insideShape(o.shape, (x + (sx + 0.5) / ss - cx * size) / half, vv)) hits++;
        }
        if (hits === 0) continue;
        const a = hits / (ss * ss);
        const i = (y * size + x) * 3;
        // Blend against what is there (the background: objects never share a pixel).
        for (let c = 0; c < 3; c++) rgb[i + c] = Math.round(rgb[i + c]! * (1 - a) + colour[c]! * a);
      }
    }
  });
  return { width: size, height: size, rgb, data: rgb, masks, placements };
}

/** Anything with an 8-bit RGB raster: a RenderedScene (`rgb`) or the engine's RgbImage (`data`). */
export interface RgbImageLike {
  width: number;
  height: number;
  rgb?: Uint8Array | Uint8ClampedArray;
  data?: Uint8Array | Uint8ClampedArray;
}

/** The image's RGB bytes (HWC, 3 channels); drops alpha from RGBA data. Throws on a size mismatch. */
export function rgbBytes(image: RgbImageLike): Uint8Array {
  const { width: w, height: h } = image;
  const src = image.rgb ?? image.data;
  if (!src) throw new EngineError('IMAGE', 'The image has neither `rgb` nor `data` pixels.');
  if (src.length === w * h * 3) return src instanceof Uint8Array ? src : new Uint8Array(src.buffer, src.byteOffset, src.length);
  if (src.length === w * h * 4) {
    const out = new Uint8Array(w * h * 3);
    for (let p = 0; p < w * h; p++) out.set(src.subarray(p * 4, p * 4 + 3), p * 3);
    return out;
  }
  throw new EngineError('IMAGE', `Expected ${w}×${h}×3 (or ×4) bytes, got ${src.length}.`);
}

/** An image as CHW float32 in [-1, 1] (value/127.5 − 1), length 3·H·W: what the VAE encoder consumes. */
export function imageToTensor(image: RgbImageLike): Float32Array {
  const rgb = rgbBytes(image);
  const n = image.width * image.height;
  const out = new Float32Array(3 * n);
  for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) out[c * n + p] = rgb[p * 3 + c]! / 127.5 - 1;
  return out;
}

/** Render `scene` and return it as CHW float32 in [-1, 1] (length 3·size·size). */
export function sceneToTensor(scene: Scene, opts: RenderOptions = {}): Float32Array {
  return imageToTensor(renderScene(scene, opts));
}

/** The inverse of imageToTensor: CHW float values in [-1, 1] (clamped) -> an HWC RGB image. */
export function tensorToImage(chw: ArrayLike<number>, width: number, height: number): { width: number; height: number; rgb: Uint8Array; data: Uint8Array } {
  const n = width * height;
  if (chw.length !== 3 * n) throw new EngineError('SHAPE_MISMATCH', `Expected 3×${height}×${width} = ${3 * n} values, got ${chw.length}.`);
  const rgb = new Uint8Array(3 * n);
  for (let p = 0; p < n; p++)
    for (let c = 0; c < 3; c++) rgb[p * 3 + c] = Math.round(Math.min(255, Math.max(0, (chw[c * n + p]! + 1) * 127.5)));
  return { width, height, rgb, data: rgb };
}
