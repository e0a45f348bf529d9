/**
 * Segmentations the engine process keeps after a `segment` job or a generation with attention
 * maps: the job result carries only the compact payload (64-cell uint8 grids, ipc/attention.ts);
 * the full-resolution heat maps stay here, under the payload's id, so `exportSegmentation` can
 * write the masks at the image's size with the threshold the user chose on the overlay.
 *
 * Bounded: at most MAX_KEPT entries and MAX_KEPT_BYTES of maps (a 512×512 segmentation of 8 words
 * is ≈ 10 MB); the least recently used go first. An engine restart forgets them all (the client
 * then asks for the maps again).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { maskArea, multiLabel, thresholdMask } from '../engine/attention/aggregate.js';
import { encodeAttentionPayload } from '../engine/attention/payload.js';
import { writeSegmentation } from '../engine/attention/render.js';
import type { Segmentation } from '../engine/attention/segment.js';
import { EngineError } from '../engine/errors.js';
import { chwToRgbBytes, loadImage } from '../engine/image/image-io.js';
import { MAX_ATTENTION_WORDS, type AttentionMaps } from '../../shared/ipc/attention.js';
import { CLIP_CONTEXT_LENGTH } from '../../shared/ipc/limits.js';
import type { ExportSegmentationResult } from '../../shared/ipc/requests.js';

/** Largest size a segmentation is computed at, pixels: bigger images are segmented at this many, aspect kept. */
export const MAX_SEGMENT_PIXELS = 2048 * 2048;
export const MAX_KEPT = 8;
export const MAX_KEPT_BYTES = 256 * 1024 * 1024;

/** The size an image of width×height is segmented at: its own, or scaled down to MAX_SEGMENT_PIXELS. */
export function segmentOutputSize(width: number, height: number, maxPixels = MAX_SEGMENT_PIXELS): { width: number; height: number } {
  if (width * height <= maxPixels) return { width, height };
  const k = Math.sqrt(maxPixels / (width * height));
  return { width: Math.max(1, Math.floor(width * k)), height: Math.max(1, Math.floor(height * k)) };
}

/** exportSegmentation of an id the cache no longer holds (code MAPS_EXPIRED: the client asks for the maps again). */
export class MapsExpiredError extends Error {
  readonly code = 'MAPS_EXPIRED';
  constructor() {
    super(
      'these attention maps are no longer kept by the engine (it keeps the last few, and forgets them when it restarts); compute them again, then export',
    );
    this.name = 'MapsExpiredError';
  }
}

export interface StoredSegmentation {
  segmentation: Segmentation;
  /** The image segmented (encoded, as given), for the export's overlay.png. */
  image?: Uint8Array;
  /** Names the default export folder, e.g. the library file's stem. */
  label: string;
}

/** Bytes a segmentation holds: heat maps (float32), masks and labels. */
export function segmentationBytes(seg: Segmentation): number {
  const px = seg.width * seg.height;
  return seg.words.length * px * 5 + px;
}

export class SegmentationCache {
  private readonly entries = new Map<string, StoredSegmentation & { bytes: number }>();

  constructor(
    private readonly maxEntries = MAX_KEPT,
    private readonly maxBytes = MAX_KEPT_BYTES,
  ) {}

  /** Keep a segmentation; returns its id (an IPC id: `seg-<time>-<random>`). */
  put(entry: StoredSegmentation): string {
    const id = `seg-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    this.entries.set(id, { ...entry, bytes: segmentationBytes(entry.segmentation) + (entry.image?.byteLength ?? 0) });
    let total = [...this.entries.values()].reduce((s, e) => s + e.bytes, 0);
    for (const [k, e] of this.entries) {
      if (this.entries.size <= 1 || (this.entries.size <= this.maxEntries && total <= this.maxBytes)) break;
      this.entries.delete(k);
      total -= e.bytes;
    }
    return id;
  }

  /** The entry of `id` (and marks it recently used), or undefined when it was never kept or has been dropped. */
  get(id: string): StoredSegmentation | undefined {
    const e = this.entries.get(id);
    if (!e) return undefined;
    this.entries.delete(id);
    this.entries.set(id, e);
    return e;
  }

  get size(): number {
    return this.entries.size;
  }
}

/** The wire form of a kept segmentation (64-cell grids), within the contract's bounds. */
export function toAttentionMaps(id: string, seg: Segmentation): AttentionMaps {
  const payload = encodeAttentionPayload(seg);
  return {
    ...payload,
    words: payload.words.slice(0, MAX_ATTENTION_WORDS).map((w) => ({
      ...w,
      word: w.word.slice(0, 256),
      tokens: w.tokens.slice(0, CLIP_CONTEXT_LENGTH).map((t) => t.slice(0, 256)),
      area: Math.min(1, Math.max(0, w.area)),
    })),
    id,
    prompt: seg.prompt,
    source: seg.source ?? 'noising',
  };
}

/** The same segmentation with its masks and labels at another threshold (the overlay slider's). */
export function rethreshold(seg: Segmentation, threshold: number): Segmentation {
  if (!Number.isFinite(threshold) || threshold < 0 || threshold > 1)
    throw new EngineError('INVALID_ARGUMENT', `the threshold must be a number from 0 to 1 (got ${threshold})`);
  if (threshold === seg.threshold) return seg;
  const words = seg.words.map((w) => {
    const mask = thresholdMask(w.heat, threshold);
    return { ...w, mask, area: maskArea(mask) };
  });
  return {
    ...seg,
    threshold,
    backgroundThreshold: threshold,
    words,
    labels: words.length
      ? multiLabel(
          words.map((w) => w.heat),
          threshold,
        )
      : new Uint8Array(seg.width * seg.height),
  };
}

/** File-name-safe form of a label. */
function safeLabel(label: string): string {
  return (
    label
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 80) || 'segmentation'
  );
}

/** `<library's parent>/exports/<label>-masks-<time>`: next to the library, never inside it. */
export function defaultExportDir(libraryDir: string, label: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return path.join(path.dirname(path.resolve(libraryDir)), 'exports', `${safeLabel(label)}-masks-${stamp}`);
}

/**
 * Write a kept segmentation at full resolution (writeSegmentation: per word a heat map and a
 * mask PNG, labels.png, overlay.png when the image is kept, summary.json last), every file through
 * the engine's safe write.
 * @param dir an absolute folder on this machine (created if needed)
 * @throws EngineError INVALID_ARGUMENT for a relative folder or a bad threshold; FILE when writing fails
 */
export async function exportSegmentation(
  entry: StoredSegmentation,
  dir: string,
  threshold = entry.segmentation.threshold,
): Promise<ExportSegmentationResult> {
  if (!path.isAbsolute(dir))
    throw new EngineError('INVALID_ARGUMENT', `the export folder must be an absolute path on the engine's machine (got '${dir}')`);
  if (entry.segmentation.words.length === 0)
    throw new EngineError('INVALID_ARGUMENT', 'there is nothing to export: the prompt has no words to segment (only stop words?)');
  const seg = rethreshold(entry.segmentation, threshold);
  let image: { rgb: Uint8Array; width: number; height: number } | undefined;
  if (entry.image) {
    const loaded = await loadImage(entry.image);
    image = { rgb: chwToRgbBytes(loaded.data, loaded.width, loaded.height), width: loaded.width, height: loaded.height };
  }
  const summary = await writeSegmentation(dir, seg, image);
  const files = [
    ...summary.words.flatMap((w) => [w.heatmap, w.mask]),
    summary.labels.file,
    ...(summary.overlay ? [summary.overlay] : []),
    'summary.json',
  ];
  return { dir: path.resolve(dir), files, threshold: seg.threshold };
}
