/**
 * The attention overlay's arithmetic, free of React and the DOM (unit-tested): decoding the
 * payload's base64 uint8 grids, bilinear upsampling to the canvas, the heat colour scale with the
 * threshold and opacity sliders, the words ranked at a pixel, and where a pointer falls on a
 * canvas drawn with `object-fit: contain`.
 */
import type { AttentionMaps } from '../../../shared/ipc/attention.js';

/** width×height bytes of word `k`'s grid (0–255 = heat 0–1); empty when the grid is malformed. */
export function decodeGrid(maps: Pick<AttentionMaps, 'width' | 'height' | 'words'>, k: number): Uint8Array {
  const w = maps.words[k];
  if (!w) return new Uint8Array(0);
  const bin = atob(w.grid);
  if (bin.length !== maps.width * maps.height) return new Uint8Array(0);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Heat of a gw×gh grid at cell coordinates (x, y) (cell centres at i + 0.5), bilinear, edges
 * clamped; in [0, 1].
 */
export function sampleGrid(grid: Uint8Array, gw: number, gh: number, x: number, y: number): number {
  if (grid.length !== gw * gh || gw < 1 || gh < 1) return 0;
  const fx = Math.min(gw - 1, Math.max(0, x - 0.5));
  const fy = Math.min(gh - 1, Math.max(0, y - 0.5));
  const x0 = Math.floor(fx);
  const y0 = Math.floor(fy);
  const x1 = Math.min(gw - 1, x0 + 1);
  const y1 = Math.min(gh - 1, y0 + 1);
  const tx = fx - x0;
  const ty = fy - y0;
  const top = grid[y0 * gw + x0]! * (1 - tx) + grid[y0 * gw + x1]! * tx;
  const bottom = grid[y1 * gw + x0]! * (1 - tx) + grid[y1 * gw + x1]! * tx;
  return (top * (1 - ty) + bottom * ty) / 255;
}

/** The grid upsampled bilinearly to w×h (row-major, heat 0–1). */
export function upsample(grid: Uint8Array, gw: number, gh: number, w: number, h: number): Float32Array {
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const gy = ((y + 0.5) * gh) / h;
    for (let x = 0; x < w; x++) out[y * w + x] = sampleGrid(grid, gw, gh, ((x + 0.5) * gw) / w, gy);
  }
  return out;
}

type Rgb = readonly [number, number, number];
/** The engine's heat scale (src/main/engine/attention/render.ts): dark violet -> magenta -> orange -> pale yellow. */
const ANCHORS: readonly [number, Rgb][] = [
  [0, [18, 10, 52]],
  [0.35, [146, 32, 112]],
  [0.7, [238, 112, 36]],
  [1, [255, 244, 170]],
];

export function heatColour(v: number): Rgb {
  const x = Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
  for (let i = 1; i < ANCHORS.length; i++) {
    const [x1, c1] = ANCHORS[i]!;
    if (x > x1 && i < ANCHORS.length - 1) continue;
    const [x0, c0] = ANCHORS[i - 1]!;
    const t = x1 > x0 ? (x - x0) / (x1 - x0) : 0;
    return [0, 1, 2].map((c) => Math.round(c0[c]! + t * (c1[c]! - c0[c]!))) as unknown as Rgb;
  }
  return ANCHORS[ANCHORS.length - 1]![1];
}

/**
 * RGBA pixels of a heat map for the canvas: colour-mapped where heat ≥ threshold (the word's
 * mask), at `opacity`; transparent elsewhere. `maskPixels` counts the pixels shown.
 */
export function colourise(
  heat: Float32Array,
  threshold: number,
  opacity: number,
): { rgba: Uint8ClampedArray<ArrayBuffer>; maskPixels: number } {
  const rgba = new Uint8ClampedArray(heat.length * 4);
  const alpha = Math.round(Math.min(1, Math.max(0, opacity)) * 255);
  let maskPixels = 0;
  for (let i = 0; i < heat.length; i++) {
    const v = heat[i]!;
    if (!(v >= threshold)) continue;
    const [r, g, b] = heatColour(v);
    rgba[i * 4] = r;
    rgba[i * 4 + 1] = g;
    rgba[i * 4 + 2] = b;
    rgba[i * 4 + 3] = alpha;
    maskPixels++;
  }
  return { rgba, maskPixels };
}

/**
 * The words ranked by attention at (u, v) ∈ [0, 1]² of the image (strongest first), from
 * decoded grids (decodeGrid, same order as maps.words).
 */
export function rankWordsAt(
  maps: Pick<AttentionMaps, 'width' | 'height' | 'words'>,
  grids: readonly Uint8Array[],
  u: number,
  v: number,
): { word: string; heat: number }[] {
  return maps.words
    .map((w, k) => ({
      word: w.word,
      heat: sampleGrid(grids[k] ?? new Uint8Array(0), maps.width, maps.height, u * maps.width, v * maps.height),
    }))
    .sort((a, b) => b.heat - a.heat);
}

/** Canvas size for maps of an image: the image's aspect ratio, the longest side at most `maxSide` pixels. */
export function canvasSize(imageWidth: number, imageHeight: number, maxSide = 384): { width: number; height: number } {
  const k = Math.min(1, maxSide / Math.max(imageWidth, imageHeight, 1));
  return { width: Math.max(1, Math.round(imageWidth * k)), height: Math.max(1, Math.round(imageHeight * k)) };
}

/**
 * Where a pointer at (clientX, clientY) falls on content of width×height drawn into `rect` with
 * `object-fit: contain`: (u, v) ∈ [0, 1]², or undefined outside the content.
 */
export function containedPoint(
  rect: { left: number; top: number; width: number; height: number },
  width: number,
  height: number,
  clientX: number,
  clientY: number,
): { u: number; v: number } | undefined {
  if (rect.width <= 0 || rect.height <= 0 || width <= 0 || height <= 0) return undefined;
  const scale = Math.min(rect.width / width, rect.height / height);
  const w = width * scale;
  const h = height * scale;
  const u = (clientX - rect.left - (rect.width - w) / 2) / w;
  const v = (clientY - rect.top - (rect.height - h) / 2) / h;
  return u >= 0 && u <= 1 && v >= 0 && v <= 1 ? { u, v } : undefined;
}
