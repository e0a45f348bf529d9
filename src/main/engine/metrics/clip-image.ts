/**
 * CLIP ViT-L/14 image similarity (the EDITOR reference's final pick and the papers' CLIP metric):
 * cosine of the projected image embeddings of `Xenova/clip-vit-large-patch14` through
 * transformers.js (CLIPVisionModelWithProjection + its AutoProcessor: resize 224, centre crop,
 * CLIP normalisation).
 *
 * Weights are read only from our cache (`inversion-studio models download clip-vit-l14`, or the
 * hub folder copied to `<cache>/Xenova/clip-vit-large-patch14`); when absent, loading throws
 * EngineError('NOT_INSTALLED') saying how to install it, and callers fall back to pixel MSE.
 */
import { loadHubModel, locateHubModel, type HfOptions } from '../hf/transformers.js';
import { chwToRgbBytes } from '../image/image-io.js';
import type { ImageScorer, TargetImage } from '../inversion/invert.js';

export const CLIP_IMAGE_REPO = 'Xenova/clip-vit-large-patch14';
/** Manifest id of the same model in models/ (what `models download` takes). */
export const CLIP_IMAGE_MANIFEST = 'clip-vit-l14';

export interface ClipImageScorer extends ImageScorer {
  /** Hub id the weights came from. */
  readonly repo: string;
  /**
   * Unit-length projected image embedding (768 values for ViT-L/14) of a CHW [-1, 1] image; a
   * non-square image is centre-cropped to a square first (what CLIP's resize-then-crop sees).
   */
  embed(image: TargetImage): Promise<Float32Array>;
  release(): Promise<void>;
}

/** Cosine similarity of two vectors (0 when either is all zeros). */
export function cosine(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`cosine: lengths differ (${a.length} vs ${b.length})`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

function normalised(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  const s = n > 0 ? 1 / Math.sqrt(n) : 0;
  return v.map((x) => x * s);
}

/** The centre square of a CHW image (the image itself when already square). */
function centreSquare(image: TargetImage): TargetImage {
  const { width, height } = image;
  if (width === height) return image;
  const side = Math.min(width, height);
  const x0 = (width - side) >> 1;
  const y0 = (height - side) >> 1;
  const data = new Float32Array(3 * side * side);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < side; y++) {
      const src = c * width * height + (y + y0) * width + x0;
      data.set(image.data.subarray(src, src + side), c * side * side + y * side);
    }
  }
  return { data, width: side, height: side };
}

/** True when the CLIP image model is in the cache (cheap: checks files, loads nothing). */
export function clipImageInstalled(cacheDir: string): boolean {
  return locateHubModel(cacheDir, CLIP_IMAGE_REPO, CLIP_IMAGE_MANIFEST) !== undefined;
}

/**
 * Load the scorer from the cache.
 * @throws EngineError('NOT_INSTALLED') with install instructions when the weights are absent,
 *   or when they are present but transformers.js cannot load them (incomplete folder)
 */
export async function loadClipImageScorer(opts: Omit<HfOptions, 'offline'>): Promise<ClipImageScorer> {
  const installHint =
    `Install it with \`inversion-studio models download ${CLIP_IMAGE_MANIFEST}\` (about 1.2 GB for the vision tower) on a connected machine, ` +
    `or copy the ${CLIP_IMAGE_REPO} hub folder to ${opts.cacheDir}/${CLIP_IMAGE_REPO}.`;
  const spec = {
    label: 'CLIP ViT-L/14',
    repo: CLIP_IMAGE_REPO,
    manifestId: CLIP_IMAGE_MANIFEST,
    files: ['preprocessor_config.json', 'onnx/vision_model.onnx'],
    installHint,
  };
  // Cache only (offline): callers fall back to pixel MSE rather than download 1.2 GB mid-run.
  const { t, processor, model } = await loadHubModel({ ...opts, offline: true }, spec, async (t, dir) => ({
    t,
    processor: await t.AutoProcessor.from_pretrained(dir),
    model: await t.CLIPVisionModelWithProjection.from_pretrained(dir, { device: (opts.device ?? 'cpu') as 'cpu', dtype: 'fp32' }),
  }));
  // The target is scored against every candidate: embed it once per image buffer.
  const cache = new WeakMap<Float32Array, Float32Array>();
  const embed = async (image: TargetImage): Promise<Float32Array> => {
    const hit = cache.get(image.data);
    if (hit) return hit;
    // CLIP's processor config says `"size": 224`, which Python reads as "shortest edge 224, then
    // centre-crop 224" but transformers.js as "longest edge 224": a non-square image would be
    // shrunk and the crop padded with black. Cropping the centre square first gives Python's input.
    const sq = centreSquare(image);
    const rgb = chwToRgbBytes(sq.data, sq.width, sq.height);
    const raw = new t.RawImage(new Uint8ClampedArray(rgb.buffer, rgb.byteOffset, rgb.byteLength), sq.width, sq.height, 3);
    const inputs = await (processor as unknown as (img: unknown) => Promise<Record<string, unknown>>)(raw);
    const out = (await model(inputs)) as { image_embeds: { data: Float32Array } };
    const e = normalised(Float32Array.from(out.image_embeds.data));
    cache.set(image.data, e);
    return e;
  };
  return {
    name: 'clip',
    repo: CLIP_IMAGE_REPO,
    embed,
    async score(image, target) {
      return cosine(await embed(image), await embed(target));
    },
    async release() {
      await model.dispose();
    },
  };
}
