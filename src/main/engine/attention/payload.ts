/**
 * A compact form of a segmentation for the studio's overlay: per word a small uint8 grid of the
 * normalised heat map (base64, so it travels as JSON over every IPC hop, the WebSocket included),
 * never float arrays of the full image. The overlay upsamples the grids itself (bilinear on a
 * canvas), thresholds them with its own slider and ranks words per pixel.
 */
import { EngineError } from '../errors.js';
import type { Segmentation } from './segment.js';

/** Default longest grid side, cells: 64×64 is 4 KiB per word, ≈ 5.5 KB as base64. */
export const PAYLOAD_GRID_SIDE = 64;

export interface AttentionMapPayload {
  /** Grid size in cells (aspect ratio of the image). */
  width: number;
  height: number;
  /** Size of the image the grids cover, pixels. */
  imageWidth: number;
  imageHeight: number;
  /** The threshold the engine's masks used (the overlay's slider default). */
  threshold: number;
  words: {
    word: string;
    tokens: string[];
    /** Mask area at `threshold`, fraction of the image. */
    area: number;
    /** width×height bytes, row-major, 0–255 = normalised heat 0–1; base64. */
    grid: string;
  }[];
}

/** Grid size for an image with the longest side `side` cells. */
export function gridSize(width: number, height: number, side: number): { width: number; height: number } {
  const k = Math.min(1, side / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * k)), height: Math.max(1, Math.round(height * k)) };
}

/** Box-average an H×W map onto an h×w grid (h ≤ H, w ≤ W), then quantise to 0–255. */
function quantisedGrid(heat: Float32Array, W: number, H: number, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h);
  for (let gy = 0; gy < h; gy++) {
    const y0 = Math.floor((gy * H) / h);
    const y1 = Math.max(y0 + 1, Math.floor(((gy + 1) * H) / h));
    for (let gx = 0; gx < w; gx++) {
      const x0 = Math.floor((gx * W) / w);
      const x1 = Math.max(x0 + 1, Math.floor(((gx + 1) * W) / w));
      let s = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) s += heat[y * W + x]!;
      const v = s / ((y1 - y0) * (x1 - x0));
      out[gy * w + gx] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
  }
  return out;
}

/**
 * Encode a segmentation for the UI.
 * @param side longest grid side in cells (default 64; never more than the segmentation's own size)
 */
export function encodeAttentionPayload(seg: Segmentation, side = PAYLOAD_GRID_SIDE): AttentionMapPayload {
  if (!Number.isInteger(side) || side < 1 || side > 1024)
    throw new EngineError('INVALID_ARGUMENT', `grid side must be an integer from 1 to 1024 (got ${side})`);
  const g = gridSize(seg.width, seg.height, side);
  return {
    width: g.width,
    height: g.height,
    imageWidth: seg.width,
    imageHeight: seg.height,
    threshold: seg.threshold,
    words: seg.words.map((w) => ({
      word: w.word,
      tokens: w.tokens,
      area: w.area,
      grid: Buffer.from(quantisedGrid(w.heat, seg.width, seg.height, g.width, g.height)).toString('base64'),
    })),
  };
}

/** The grid of word `k` as bytes (what the overlay draws). */
export function decodePayloadGrid(p: AttentionMapPayload, k: number): Uint8Array {
  const w = p.words[k];
  if (!w) throw new EngineError('INVALID_ARGUMENT', `the payload has ${p.words.length} words, not ${k + 1}`);
  const bytes = new Uint8Array(Buffer.from(w.grid, 'base64'));
  if (bytes.length !== p.width * p.height)
    throw new EngineError('SHAPE_MISMATCH', `grid of "${w.word}" has ${bytes.length} bytes, expected ${p.width}x${p.height}`);
  return bytes;
}
