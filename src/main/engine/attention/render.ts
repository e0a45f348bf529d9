/**
 * Segmentation as pictures: colour-mapped heat maps, per-word masks with alpha, a multi-label
 * image, an overlay on the image, and `summary.json` naming them (paths relative to the folder).
 */
import path from 'node:path';
import sharp from 'sharp';
import { EngineError } from '../errors.js';
import { safeWriteFile } from '../io/safe-write.js';
import type { Segmentation, SegmentationSource } from './segment.js';

export type Rgb = [number, number, number];

/** Anchors of the heat colour scale (dark violet -> magenta -> orange -> pale yellow), chosen to read on any image. */
const HEAT_ANCHORS: readonly [number, Rgb][] = [
  [0, [18, 10, 52]],
  [0.35, [146, 32, 112]],
  [0.7, [238, 112, 36]],
  [1, [255, 244, 170]],
];

/** Colour of a heat value in [0, 1] (clamped). */
export function heatColour(v: number): Rgb {
  const x = Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
  for (let i = 1; i < HEAT_ANCHORS.length; i++) {
    const [x1, c1] = HEAT_ANCHORS[i]!;
    if (x > x1 && i < HEAT_ANCHORS.length - 1) continue;
    const [x0, c0] = HEAT_ANCHORS[i - 1]!;
    const t = x1 > x0 ? (x - x0) / (x1 - x0) : 0;
    return [0, 1, 2].map((c) => Math.round(c0[c]! + t * (c1[c]! - c0[c]!))) as Rgb;
  }
  return [...HEAT_ANCHORS[HEAT_ANCHORS.length - 1]![1]];
}

/** Colour of label k ≥ 1 (hues a golden angle apart, so neighbours differ); 0 (background) is black. */
export function labelColour(k: number): Rgb {
  if (k <= 0) return [0, 0, 0];
  const hue = ((k - 1) * 137.508) % 360;
  const s = 0.78;
  const v = 0.96;
  const c = v * s;
  const hp = hue / 60;
  const x = c * (1 - Math.abs((hp % 2) - 1));
  const [r, g, b] = hp < 1 ? [c, x, 0] : hp < 2 ? [x, c, 0] : hp < 3 ? [0, c, x] : hp < 4 ? [0, x, c] : hp < 5 ? [x, 0, c] : [c, 0, x];
  const m = v - c;
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}

/** An 8-bit RGB image, row-major HWC. */
export interface RgbImage {
  rgb: Uint8Array;
  width: number;
  height: number;
}

function png(data: Uint8Array, width: number, height: number, channels: 3 | 4): Promise<Buffer> {
  return sharp(data, { raw: { width, height, channels } }).png({ compressionLevel: 6, adaptiveFiltering: false }).toBuffer();
}

/** The heat map of a word as a colour-mapped PNG. */
export function heatmapPng(heat: Float32Array, width: number, height: number): Promise<Buffer> {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) rgb.set(heatColour(heat[i]!), i * 3);
  return png(rgb, width, height, 3);
}

/** A mask as an RGBA PNG: `colour` and opaque inside, fully transparent outside (alpha = the mask). */
export function maskPng(mask: Uint8Array, width: number, height: number, colour: Rgb = [255, 255, 255]): Promise<Buffer> {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) if (mask[i]) rgba.set([...colour, 255], i * 4);
  return png(rgba, width, height, 4);
}

/** The multi-label mask with each word in its label colour, background black. */
export function labelsPng(labels: Uint8Array, width: number, height: number): Promise<Buffer> {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) rgb.set(labelColour(labels[i]!), i * 3);
  return png(rgb, width, height, 3);
}

/** The image with the label colours blended over it (`opacity` where a word is, untouched background). */
export function overlayPng(image: RgbImage, labels: Uint8Array, opacity = 0.5): Promise<Buffer> {
  const { width, height } = image;
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const c = labelColour(labels[i]!);
    for (let ch = 0; ch < 3; ch++) {
      const v = image.rgb[i * 3 + ch]!;
      out[i * 3 + ch] = labels[i] ? Math.round(v * (1 - opacity) + c[ch]! * opacity) : v;
    }
  }
  return png(out, width, height, 3);
}

/** `summary.json`: what was segmented and where each word's files are (relative to its folder). */
export interface SegmentationSummary {
  prompt: string;
  threshold: number;
  backgroundThreshold: number;
  width: number;
  height: number;
  source?: SegmentationSource;
  layers: string[];
  timesteps: number[];
  words: {
    word: string;
    tokens: string[];
    positions: number[];
    occurrences: number;
    heatmap: string;
    mask: string;
    /** Fraction of the image in the mask. */
    area: number;
    /** Label of the word in `labels.file`, and its colour there and in its mask. */
    label: number;
    colour: Rgb;
  }[];
  labels: { file: string; background: Rgb };
  overlay?: string;
}

/** A file-name-safe form of a word. */
export function slug(word: string): string {
  const s = word
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 40);
  return s || 'word';
}

/** Resize an RGB image to width×height (when it differs). */
async function fitImage(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (image.rgb.length !== image.width * image.height * 3)
    throw new EngineError('SHAPE_MISMATCH', `image has ${image.rgb.length} bytes, expected ${image.width}x${image.height}x3`);
  if (image.width === width && image.height === height) return image;
  const data = await sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  return { rgb: new Uint8Array(data), width, height };
}

/**
 * Write a segmentation into `dir` (created if needed): `heatmap-NN-word.png`, `mask-NN-word.png`
 * per word, `labels.png`, `overlay.png` (when the image is given; resized to the segmentation's
 * size if needed) and `summary.json`, written last so its presence means the folder is complete.
 * Every file goes through safeWriteFile (a folder or device in the way is refused, never replaced).
 * @throws FileWriteError (code FILE) when a file cannot be written, saying why
 */
export async function writeSegmentation(dir: string, seg: Segmentation, image?: RgbImage): Promise<SegmentationSummary> {
  const { width, height } = seg;
  const write = (name: string, bytes: Buffer | string): Promise<void> =>
    safeWriteFile(path.join(dir, name), bytes, { mkdir: true, what: 'the segmentation file' });
  const words: SegmentationSummary['words'] = [];
  for (let k = 0; k < seg.words.length; k++) {
    const w = seg.words[k]!;
    const stem = `${String(k).padStart(2, '0')}-${slug(w.word)}`;
    const colour = labelColour(k + 1);
    const heatmap = `heatmap-${stem}.png`;
    const mask = `mask-${stem}.png`;
    await write(heatmap, await heatmapPng(w.heat, width, height));
    await write(mask, await maskPng(w.mask, width, height, colour));
    words.push({
      word: w.word,
      tokens: w.tokens,
      positions: w.positions,
      occurrences: w.occurrences,
      heatmap,
      mask,
      area: Number(w.area.toFixed(6)),
      label: k + 1,
      colour,
    });
  }
  await write('labels.png', await labelsPng(seg.labels, width, height));
  let overlay: string | undefined;
  if (image) {
    overlay = 'overlay.png';
    await write(overlay, await overlayPng(await fitImage(image, width, height), seg.labels));
  }
  const summary: SegmentationSummary = {
    prompt: seg.prompt,
    threshold: seg.threshold,
    backgroundThreshold: seg.backgroundThreshold,
    width,
    height,
    ...(seg.source ? { source: seg.source } : {}),
    layers: seg.layers,
    timesteps: seg.timesteps,
    words,
    labels: { file: 'labels.png', background: labelColour(0) },
    ...(overlay ? { overlay } : {}),
  };
  await write('summary.json', JSON.stringify(summary, null, 2) + '\n');
  return summary;
}
