/**
 * Images in and out of the engine. Tensors use the diffusers convention: CHW, RGB, float32 in [-1, 1]
 * (the VAE's input and output range).
 */
import { readFile, stat } from 'node:fs/promises';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { EngineError } from '../errors.js';
import { formatA1111, type GenerationParams } from './a1111.js';
import { isPng, pngDimensions, readPngText, withPngText } from './png-chunks.js';

/** Largest accepted input, in pixels: sharp's own default (16383²). A 30000×30000 image is refused. */
export const DEFAULT_MAX_PIXELS = 0x3fff * 0x3fff;

/** Raster formats we read. SVG/PDF are left out on purpose (vector input makes no sense for inversion). */
const ACCEPTED_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif']);

export interface LoadImageOptions {
  /** Output width in pixels; default: the image's own (after EXIF rotation). */
  width?: number;
  /** Output height in pixels; default: the image's own. */
  height?: number;
  /**
   * How to fit into width×height: 'cover' crops to fill (default), 'contain' letterboxes on white,
   * 'fill' stretches.
   */
  fit?: 'cover' | 'contain' | 'fill';
  /** Refuse inputs with more pixels than this (checked from the header, before decoding). */
  maxPixels?: number;
}

export interface LoadedImage {
  /** CHW RGB, float32 in [-1, 1]; length 3 × width × height. */
  data: Float32Array;
  width: number;
  height: number;
  /** Size of the input after EXIF orientation, before resizing. */
  sourceWidth: number;
  sourceHeight: number;
  format: string;
}

export interface PngMetadata {
  /** A1111 `parameters` text, when present. */
  parameters?: string;
  /** Our own JSON chunk (key `inversion-studio`), parsed; undefined when absent or not valid JSON. */
  json?: unknown;
  /** Every text chunk by keyword. */
  text: Record<string, string>;
}

/** Keyword of our JSON metadata chunk. */
export const JSON_CHUNK_KEY = 'inversion-studio';

function describe(input: string | Uint8Array): string {
  return typeof input === 'string' ? input : `image buffer (${input.length} bytes)`;
}

function checkSize(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 16384)) {
    throw new EngineError('INVALID_ARGUMENT', `${name} must be an integer between 1 and 16384, got ${v}`);
  }
}

function imageError(input: string | Uint8Array, e: unknown): EngineError {
  const msg = (e as Error)?.message ?? String(e);
  const what = describe(input);
  if (/unsupported image format/i.test(msg)) {
    return new EngineError('IMAGE', `${what} is not an image in a supported format (JPEG, PNG, WebP, GIF, TIFF, AVIF, HEIF).`, {
      cause: e,
    });
  }
  if (/pixel limit/i.test(msg)) {
    return new EngineError('IMAGE', `${what} is too large to load. Downscale it first.`, { cause: e });
  }
  return new EngineError('IMAGE', `${what} could not be decoded (corrupt or truncated file?): ${msg}`, { cause: e });
}

/**
 * Decodes a file path or encoded bytes to a CHW RGB float tensor in [-1, 1]: EXIF orientation applied,
 * alpha flattened onto white, colour converted to sRGB, resized to width×height with `fit`.
 * Dimensions are read from the header first, so oversized images are refused before any decoding.
 * Errors: EngineError('IMAGE') for empty, corrupt, unsupported or oversized input.
 */
export async function loadImage(input: string | Uint8Array, opts: LoadImageOptions = {}): Promise<LoadedImage> {
  checkSize('width', opts.width);
  checkSize('height', opts.height);
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  let bytes: Buffer;
  if (typeof input === 'string') {
    let st;
    try {
      st = await stat(input);
    } catch (e) {
      throw new EngineError(
        'IMAGE',
        `cannot read ${input}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
        { cause: e },
      );
    }
    if (!st.isFile()) throw new EngineError('IMAGE', `${input} is not a file`);
    if (st.size === 0) throw new EngineError('IMAGE', `${input} is empty (0 bytes)`);
    bytes = await readFile(input);
  } else {
    if (input.length === 0) throw new EngineError('IMAGE', 'the image is empty (0 bytes)');
    bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  }

  // PNG dimensions straight from IHDR: cheap, and works even when the pixel data is absent.
  if (isPng(bytes) && bytes.length >= 24) {
    const { width, height } = pngDimensions(bytes);
    if (width * height > maxPixels) throw tooBig(input, width, height, maxPixels);
  }
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw imageError(input, e);
  }
  if (!ACCEPTED_FORMATS.has(meta.format)) {
    throw new EngineError(
      'IMAGE',
      `${describe(input)} is ${meta.format.toUpperCase()}; supported formats are JPEG, PNG, WebP, GIF, TIFF, AVIF and HEIF.`,
    );
  }
  if (!meta.width || !meta.height) throw new EngineError('IMAGE', `${describe(input)} has no dimensions (corrupt header?)`);
  if (meta.width * meta.height > maxPixels) throw tooBig(input, meta.width, meta.height, maxPixels);

  const srcW = meta.autoOrient?.width ?? meta.width;
  const srcH = meta.autoOrient?.height ?? meta.height;
  const width = opts.width ?? (opts.height ? Math.max(1, Math.round((srcW * opts.height) / srcH)) : srcW);
  const height = opts.height ?? (opts.width ? Math.max(1, Math.round((srcH * opts.width) / srcW)) : srcH);

  let raw: { data: Buffer; info: OutputInfo };
  try {
    let img = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error', autoOrient: true, pages: 1 })
      .toColourspace('srgb')
      .flatten({ background: { r: 255, g: 255, b: 255 } });
    if (width !== srcW || height !== srcH) {
      img = img.resize(width, height, {
        fit: opts.fit ?? 'cover',
        position: 'centre',
        background: { r: 255, g: 255, b: 255 },
        kernel: 'lanczos3',
      });
    }
    raw = await img.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw imageError(input, e);
  }
  const { data, info } = raw;
  if (info.width !== width || info.height !== height || info.channels < 3) {
    throw new EngineError('IMAGE', `unexpected decoder output ${info.width}x${info.height}x${info.channels} for ${describe(input)}`);
  }
  return {
    data: hwcBytesToChw(data, width, height, info.channels),
    width,
    height,
    sourceWidth: srcW,
    sourceHeight: srcH,
    format: meta.format,
  };
}

function tooBig(input: string | Uint8Array, w: number, h: number, max: number): EngineError {
  return new EngineError(
    'IMAGE',
    `${describe(input)} is ${w}x${h} (${((w * h) / 1e6).toFixed(0)} megapixels), above the limit of ${(max / 1e6).toFixed(0)} megapixels; refused before decoding. Downscale it first (the models work at 512x512).`,
  );
}

/** Interleaved 8-bit pixels (first 3 channels used) → CHW float in [-1, 1]. */
export function hwcBytesToChw(data: Uint8Array, width: number, height: number, channels = 3): Float32Array {
  const n = width * height;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const s = i * channels;
    out[i] = data[s]! / 127.5 - 1;
    out[n + i] = data[s + 1]! / 127.5 - 1;
    out[2 * n + i] = data[s + 2]! / 127.5 - 1;
  }
  return out;
}

/** CHW float in [-1, 1] → interleaved RGB bytes, clamped and rounded (NaN → 0). */
export function chwToRgbBytes(chw: Float32Array, width: number, height: number): Buffer {
  const n = width * height;
  if (chw.length !== 3 * n)
    throw new EngineError('SHAPE_MISMATCH', `image tensor has ${chw.length} values, expected 3x${height}x${width} = ${3 * n}`);
  const out = Buffer.alloc(3 * n);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) {
      const v = (chw[c * n + i]! + 1) * 127.5;
      out[i * 3 + c] = Number.isNaN(v) ? 0 : v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  return out;
}

export interface PngMetadataInput {
  /** A1111 parameters: the text itself, or params to format with `formatA1111`. */
  parameters?: string | GenerationParams;
  /** Any JSON-serialisable value, stored as iTXt under `inversion-studio`. */
  json?: unknown;
}

/**
 * Encodes a CHW [-1, 1] image as PNG (deterministic bytes: no timestamps), with optional A1111
 * `parameters` (tEXt, or iTXt when not Latin-1) and our JSON chunk (iTXt `inversion-studio`),
 * placed ahead of the image data (see `withPngText`).
 */
export async function imageToPng(chw: Float32Array, width: number, height: number, metadata?: PngMetadataInput): Promise<Buffer> {
  checkSize('width', width);
  checkSize('height', height);
  const rgb = chwToRgbBytes(chw, width, height);
  const png = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 6, adaptiveFiltering: false })
    .toBuffer();
  const entries: Array<{ key: string; text: string; itxt?: boolean }> = [];
  if (metadata?.parameters !== undefined) {
    const text = typeof metadata.parameters === 'string' ? metadata.parameters : formatA1111(metadata.parameters);
    entries.push({ key: 'parameters', text });
  }
  if (metadata?.json !== undefined) entries.push({ key: JSON_CHUNK_KEY, text: JSON.stringify(metadata.json), itxt: true });
  return entries.length ? withPngText(png, entries) : png;
}

/** Reads the A1111 `parameters` text and our JSON chunk back from PNG bytes. EngineError('IMAGE') if not a valid PNG. */
export function readPngMetadata(png: Uint8Array): PngMetadata {
  const text = readPngText(png);
  const out: PngMetadata = { text };
  if (text.parameters !== undefined) out.parameters = text.parameters;
  const j = text[JSON_CHUNK_KEY];
  if (j !== undefined) {
    try {
      out.json = JSON.parse(j);
    } catch {
      /* not ours or damaged: leave json undefined */
    }
  }
  return out;
}

/** Largest image `toUprightPng` decodes, pixels: 16384 × 16384 (sharp's default is 268 M). */
export const MAX_UPRIGHT_INPUT_PIXELS = 16384 * 16384;

export interface UprightPngOptions {
  /**
   * Scale down (never up) so that the shorter side is at most this many pixels, keeping the aspect
   * ratio: an inversion target is stored at the size the inversion looks at (its centre square of
   * that), not at the size of a 16000×16000 upload.
   */
  maxShortSide?: number;
}

export interface UprightPng {
  png: Buffer;
  /** Size of the PNG (after rotation and any downscaling). */
  width: number;
  height: number;
  /** True when the image was larger than `maxShortSide` and was scaled down. */
  downscaled: boolean;
}

/**
 * Re-encodes any image sharp reads (an uploaded inversion target: JPEG, WebP, a phone photo with
 * EXIF orientation) as an upright PNG, so the library stores one format that every viewer shows
 * the right way up; with `maxShortSide`, larger images are scaled down on the way.
 * @throws EngineError('IMAGE') when the bytes are not a readable image, or have more than
 *   MAX_UPRIGHT_INPUT_PIXELS (checked from the header, before decoding)
 */
export async function toUprightPng(bytes: Uint8Array, opts: UprightPngOptions = {}): Promise<UprightPng> {
  try {
    const input = { limitInputPixels: MAX_UPRIGHT_INPUT_PIXELS };
    let img = sharp(bytes, { ...input, sequentialRead: true }).rotate();
    let downscaled = false;
    if (opts.maxShortSide !== undefined) {
      const side = Math.max(1, Math.round(opts.maxShortSide));
      const meta = await sharp(bytes, input).metadata();
      // EXIF orientations 5-8 swap width and height.
      const swap = (meta.orientation ?? 1) >= 5;
      const w = (swap ? meta.height : meta.width) ?? 0;
      const h = (swap ? meta.width : meta.height) ?? 0;
      downscaled = Math.min(w, h) > side;
      if (downscaled) img = img.resize({ width: side, height: side, fit: 'outside', withoutEnlargement: true });
    }
    const { data, info } = await img.png().toBuffer({ resolveWithObject: true });
    return { png: data, width: info.width, height: info.height, downscaled };
  } catch (e) {
    throw new EngineError('IMAGE', `could not read the target image: ${(e as Error).message}`, { cause: e });
  }
}
