/**
 * Memory bound of one image job: the largest image a model set may generate or invert, checked
 * before anything is allocated (a 4096x4096 request used to end in onnxruntime's raw "1 TiB
 * allocation" error, and 1024x1024 on SD 1.5 already takes 9.4 GB for one step).
 *
 * Two limits, the smaller wins:
 *
 *   1. native: at most MAX_NATIVE_PIXEL_FACTOR (4) times the model set's native pixel count,
 *      i.e. 2x its native side (SD 1.5: 1024x1024, demo: 512x512). Beyond that the models
 *      produce repeated, tiled-looking images anyway;
 *   2. memory: the working memory of one UNet evaluation is dominated by the self-attention
 *      scores of the full-resolution blocks, which grow with the square of the latent positions
 *      T = (W/8)*(H/8):
 *
 *          need(W, H) = k * e/4 * m * T^2    bytes
 *
 *      k = 36 bytes (measured: SD 1.5 fp32 at 1024x1024, T = 16384, takes 9.4 GB for one
 *      generation step; 9.4e9 / 16384^2 ~ 35), e = bytes per activation (4 fp32, 2 fp16),
 *      m = 1 to generate, 3 to invert (the backward pass keeps the attention probabilities and
 *      computes their gradients: about three such matrices at once).
 *      It must fit in the budget: 75% of the memory available to the process
 *      (`process.availableMemory()`: free RAM within the cgroup limit, if any), or
 *      INVERSION_STUDIO_MEMORY_BUDGET (e.g. "24G", "8192M", bytes) where that is wrong, e.g. with
 *      a GPU provider, whose memory the engine cannot see.
 *
 * Figures: SD 1.5 fp32 generate 512² 0.6 GB, 768² 3.1 GB, 1024² 9.7 GB; invert 512² 1.8 GB.
 */
import os from 'node:os';
import { EngineError } from '../errors.js';

/** Bytes of attention working memory per squared latent position (fp32), from the measurement above. */
export const ATTENTION_BYTES_PER_T2 = 36;
/** At most this many times the native pixel count (2x the native side). */
export const MAX_NATIVE_PIXEL_FACTOR = 4;
/** Share of the available memory one job may plan for. */
export const MEMORY_BUDGET_SHARE = 0.75;
export const PURPOSE_FACTOR = { generate: 1, invert: 3 } as const;
export type SizePurpose = keyof typeof PURPOSE_FACTOR;

/** What the bound needs to know about a model set. */
export interface SizeLimitModel {
  name: string;
  /** Native side in pixels (512 for SD 1.5, 256 for the demo set). */
  nativeSize: number;
  /** Bytes per UNet activation: 4 (fp32) or 2 (fp16). */
  activationBytes: number;
}

/** The image is larger than the model set or the memory allows; nothing was allocated. */
export class ImageTooLargeError extends EngineError {
  constructor(
    message: string,
    readonly maxWidth: number,
    readonly maxHeight: number,
  ) {
    super('TOO_LARGE', message);
    this.name = 'ImageTooLargeError';
  }
}

/** Parses "24G", "8192M", "512k", "1e9" (bytes); undefined when unset or malformed. */
export function parseByteSize(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(s);
  if (!m) return undefined;
  const unit = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const v = Number(m[1]) * unit;
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

/** Memory available to this process, in bytes (free RAM, within a cgroup limit when there is one). */
export function availableMemoryBytes(): number {
  const p = process as NodeJS.Process & { availableMemory?: () => number };
  const v = typeof p.availableMemory === 'function' ? p.availableMemory() : os.freemem();
  return Number.isFinite(v) && v > 0 ? v : os.freemem();
}

/** Bytes one job may plan for: INVERSION_STUDIO_MEMORY_BUDGET, else 75% of the available memory. */
export function memoryBudgetBytes(env: NodeJS.ProcessEnv = process.env, available = availableMemoryBytes()): number {
  return parseByteSize(env.INVERSION_STUDIO_MEMORY_BUDGET) ?? available * MEMORY_BUDGET_SHARE;
}

/** Estimated working memory (bytes) of one UNet evaluation at W x H (see the module comment). */
export function estimateJobBytes(
  model: Pick<SizeLimitModel, 'activationBytes'>,
  width: number,
  height: number,
  purpose: SizePurpose,
): number {
  const t = (width / 8) * (height / 8);
  return ATTENTION_BYTES_PER_T2 * (model.activationBytes / 4) * PURPOSE_FACTOR[purpose] * t * t;
}

/** Largest pixel count (W*H) allowed for `purpose` under `budgetBytes`. */
export function maxImagePixels(model: SizeLimitModel, purpose: SizePurpose, budgetBytes: number): number {
  const byNative = MAX_NATIVE_PIXEL_FACTOR * model.nativeSize * model.nativeSize;
  const perT2 = ATTENTION_BYTES_PER_T2 * (model.activationBytes / 4) * PURPOSE_FACTOR[purpose];
  const byMemory = 64 * Math.sqrt(Math.max(0, budgetBytes) / perT2);
  return Math.min(byNative, byMemory);
}

const gib = (b: number): string => `${(b / 2 ** 30).toFixed(b < 2 ** 30 ? 2 : 1)} GiB`;

/**
 * Throws ImageTooLargeError (code TOO_LARGE) when W x H exceeds the bound for this model set.
 * Call it at the entry of generate/invert, before any buffer of that size exists.
 * @param opts.budgetBytes default memoryBudgetBytes()
 */
export function checkImageSize(
  model: SizeLimitModel,
  width: number,
  height: number,
  purpose: SizePurpose,
  opts: { budgetBytes?: number; multiple?: number } = {},
): void {
  const budget = opts.budgetBytes ?? memoryBudgetBytes();
  const maxPx = maxImagePixels(model, purpose, budget);
  if (width * height <= maxPx) return;
  const step = Math.max(8, opts.multiple ?? 8);
  const side = Math.max(step, Math.floor(Math.sqrt(maxPx) / step) * step);
  const byNative = MAX_NATIVE_PIXEL_FACTOR * model.nativeSize * model.nativeSize;
  const need = estimateJobBytes(model, width, height, purpose);
  const verb = purpose === 'generate' ? 'generate' : 'invert';
  const why =
    maxPx >= byNative
      ? `model set ${model.name} works at ${model.nativeSize}x${model.nativeSize} and is limited to ${MAX_NATIVE_PIXEL_FACTOR}x that many pixels`
      : `a ${width}x${height} ${verb} job needs about ${gib(need)} of working memory and ${gib(budget)} is available to it ` +
        `(set INVERSION_STUDIO_MEMORY_BUDGET to override, e.g. on a GPU)`;
  throw new ImageTooLargeError(
    `${width}x${height} is too large to ${verb} with ${model.name}: at most ${Math.round(maxPx).toLocaleString('en-US')} pixels ` +
      `(e.g. ${side}x${side}), because ${why}. Choose a smaller size.`,
    side,
    side,
  );
}

/** The bound's view of a loaded model set. */
export function sizeLimitModel(ms: {
  name: string;
  defaults: { width: number; height: number };
  io: { unetType: 'float32' | 'float16' };
}): SizeLimitModel {
  return {
    name: ms.name,
    nativeSize: Math.max(ms.defaults.width, ms.defaults.height),
    activationBytes: ms.io.unetType === 'float16' ? 2 : 4,
  };
}

/**
 * The bound's view of inversion models (inversion/inversion-models.ts): native size
 * `defaultSize`, activation type from the UNet graph's `sample` input (10 = FLOAT16).
 */
export function sizeLimitModelForInversion(m: {
  name: string;
  defaultSize: number;
  unet: { graph: { inputs: readonly { name: string; dtype: number }[] } };
}): SizeLimitModel {
  const sample = m.unet.graph.inputs.find((i) => i.name === 'sample');
  return { name: m.name, nativeSize: m.defaultSize, activationBytes: sample?.dtype === 10 ? 2 : 4 };
}
