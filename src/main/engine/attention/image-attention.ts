/**
 * Attention maps of any image, generated or not.
 *
 * - A generation: capture during its own sampling (generateWithAttention), summing every step.
 * - Any other image (a photo, an inversion target): encode it with the VAE, noise the latent to a
 *   few timesteps with seeded noise, x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε, and run the UNet once per
 *   timestep with the prompt (attentionForImage). The maps then describe that image, not a
 *   regeneration of it: at moderate noise the UNet's queries still come from the image's layout.
 */
import { EngineError, throwIfAborted } from '../errors.js';
import type { ModelSet } from '../diffusion/load-model-set.js';
import { generate, type GenerateOptions, type GenerateRequest, type GenerateResult } from '../diffusion/pipeline.js';
import { encodeWeightedPrompt } from '../diffusion/prompt-weights.js';
import { gaussian } from '../diffusion/rng.js';
import { alphasCumprod } from '../diffusion/schedulers/index.js';
import { guidanceEmbedding } from '../diffusion/unet.js';
import { encodeImage } from '../diffusion/vae.js';
import { capturingPredictor } from './capture-predictor.js';
import { openAttentionCapture } from './capture-session.js';
import { AttentionAccumulator, type CapturedAttention } from './maps.js';
import { planSegmentation, segmentCaptured, type SegmentOptions, type Segmentation } from './segment.js';

/**
 * Default noising timesteps (of 1000): spread over the range where the noisy latent still carries
 * the image's layout (ᾱ from 0.9 down to ≈ 0.1 on SD's schedule) yet the UNet must use the text to
 * explain it; docs/segmentation.md.
 */
export const NOISING_TIMESTEPS: readonly number[] = [100, 250, 400, 550, 700];

/** An image as the engine holds it: CHW RGB in [-1, 1]. */
export interface ImageTensor {
  data: Float32Array;
  width: number;
  height: number;
}

export interface NoisingOptions {
  /** Training timesteps to noise the latent to (default NOISING_TIMESTEPS). */
  timesteps?: readonly number[];
  /** Seed of the noise (default 0); evaluation k uses rng stream k. */
  seed?: number;
  /** Noise draws per timestep (default 1). */
  repeats?: number;
  signal?: AbortSignal;
  onProgress?: (e: { phase: 'encode' | 'attend'; step: number; total: number }) => void;
}

/**
 * The size an image of srcW×srcH is segmented at on a model set: its aspect ratio, about the
 * model's default area, sides multiples of the model's size step.
 */
export function workingSize(ms: ModelSet, srcW: number, srcH: number): { width: number; height: number } {
  const m = Math.max(8, ms.io.sizeMultiple);
  const area = ms.defaults.width * ms.defaults.height;
  const k = Math.sqrt(area / (srcW * srcH));
  const round = (v: number): number => Math.max(m, Math.round((v * k) / m) * m);
  return { width: round(srcW), height: round(srcH) };
}

function checkImage(ms: ModelSet, image: ImageTensor): void {
  const m = Math.max(8, ms.io.sizeMultiple);
  if (image.width % m !== 0 || image.height % m !== 0)
    throw new EngineError(
      'INVALID_ARGUMENT',
      `image size ${image.width}x${image.height} is not a multiple of ${m}, which model set ${ms.name} needs; resize it (workingSize gives one)`,
    );
  if (image.data.length !== 3 * image.width * image.height)
    throw new EngineError('SHAPE_MISMATCH', `image has ${image.data.length} values, expected 3x${image.height}x${image.width}`);
}

/**
 * Cross-attention of `prompt` over an existing image, through the noising path (see the file comment).
 * @throws EngineError('NOT_INSTALLED') without a vae_encoder; ('INVALID_ARGUMENT') for a size the
 *   model cannot take or timesteps outside the schedule; AttentionCaptureError for a UNet without
 *   capturable cross-attention; CancelledError when `signal` aborts
 */
export async function attentionForImage(
  ms: ModelSet,
  image: ImageTensor,
  prompt: string,
  opts: NoisingOptions = {},
): Promise<CapturedAttention> {
  checkImage(ms, image);
  const abar = alphasCumprod(ms.schedulerConfig);
  const timesteps = opts.timesteps ?? NOISING_TIMESTEPS;
  if (timesteps.length === 0) throw new EngineError('INVALID_ARGUMENT', 'give at least one noising timestep');
  for (const t of timesteps)
    if (!Number.isInteger(t) || t < 0 || t >= abar.length)
      throw new EngineError('INVALID_ARGUMENT', `noising timestep ${t} is outside the schedule's 0..${abar.length - 1}`);
  const repeats = opts.repeats ?? 1;
  if (!Number.isInteger(repeats) || repeats < 1 || repeats > 100)
    throw new EngineError('INVALID_ARGUMENT', `repeats must be an integer from 1 to 100 (got ${repeats})`);
  const seed = opts.seed ?? 0;
  const total = timesteps.length * repeats;
  opts.onProgress?.({ phase: 'encode', step: 0, total: 1 });
  const x0 = await encodeImage(ms, image.data, image.width, image.height);
  const capture = await openAttentionCapture(ms);
  const cond = (await encodeWeightedPrompt(ms, prompt)).embedding;
  opts.onProgress?.({ phase: 'encode', step: 1, total: 1 });
  const h = image.height / 8;
  const w = image.width / 8;
  const acc = new AttentionAccumulator(h, w);
  const fixed2 = ms.io.unetFixedBatch === 2;
  const ehs = fixed2 ? Float32Array.from([...cond, ...cond]) : cond;
  const tc = ms.io.timestepCondDim ? guidanceEmbedding(ms.defaults.guidance - 1, ms.io.timestepCondDim) : undefined;
  let k = 0;
  for (let r = 0; r < repeats; r++) {
    for (const t of timesteps) {
      throwIfAborted(opts.signal);
      const eps = gaussian(seed, x0.length, k);
      const a = Math.sqrt(abar[t]!);
      const s = Math.sqrt(1 - abar[t]!);
      const xt = new Float32Array(fixed2 ? 2 * x0.length : x0.length);
      for (let i = 0; i < x0.length; i++) xt[i] = a * x0[i]! + s * eps[i]!;
      if (fixed2) xt.copyWithin(x0.length, 0, x0.length);
      const out = await capture.run({
        sample: xt,
        timestep: t,
        ehs,
        batch: fixed2 ? 2 : 1,
        height: h,
        width: w,
        ...(tc ? { timestepCond: tc } : {}),
      });
      acc.add(out.maps, t);
      k++;
      opts.onProgress?.({ phase: 'attend', step: k, total });
    }
  }
  return acc.result();
}

/** Segment an existing image by the words of `prompt` (noising path). Output size: the image's unless given. */
export async function segmentImage(
  ms: ModelSet,
  image: ImageTensor,
  prompt: string,
  opts: NoisingOptions & SegmentOptions = {},
): Promise<Segmentation> {
  planSegmentation(ms.tokenizer, prompt, opts); // bad words fail before any model runs
  const captured = await attentionForImage(ms, image, prompt, opts);
  return {
    ...segmentCaptured(ms.tokenizer, prompt, captured, { width: image.width, height: image.height, ...opts }),
    source: 'noising',
  };
}

export interface AttentionGenerateOptions extends Omit<GenerateOptions, 'predictNoise'> {
  /** Which sampler steps' maps are summed (default: all); indices of the run's steps. */
  stepFilter?: (step: number, timestep: number) => boolean;
}

/**
 * generate() with the attention of every step captured (conditional half of the guidance batch).
 * The image is the one the capture session's UNet produces: the same graph plus extra outputs, so
 * it matches a plain generation of the request (tests measure how closely).
 */
export async function generateWithAttention(
  ms: ModelSet,
  req: GenerateRequest,
  opts: AttentionGenerateOptions = {},
): Promise<{ result: GenerateResult; attention: CapturedAttention }> {
  const capture = await openAttentionCapture(ms);
  const acc = new AttentionAccumulator(req.height / 8, req.width / 8);
  const { stepFilter, ...rest } = opts;
  const result = await generate(ms, req, { ...rest, predictNoise: capturingPredictor(ms, capture, acc, stepFilter) });
  return { result, attention: acc.result() };
}

/** Generate and segment by the words of the request's prompt (output at the image's size). */
export async function segmentGeneration(
  ms: ModelSet,
  req: GenerateRequest,
  opts: AttentionGenerateOptions & SegmentOptions = {},
): Promise<{ result: GenerateResult; attention: CapturedAttention; segmentation: Segmentation }> {
  const prompt = req.prompt ?? '';
  planSegmentation(ms.tokenizer, prompt, opts);
  const { result, attention } = await generateWithAttention(ms, req, opts);
  const segmentation = {
    ...segmentCaptured(ms.tokenizer, prompt, attention, { width: req.width, height: req.height, ...opts }),
    source: 'generation' as const,
  };
  return { result, attention, segmentation };
}

/**
 * The maps of an inversion's answer: its prompt over the inversion's target image (noising path),
 * so the masks show where each recovered word sits in the image that was inverted.
 */
export function segmentInversionAnswer(
  ms: ModelSet,
  target: ImageTensor,
  answer: { prompt: string },
  opts: NoisingOptions & SegmentOptions = {},
): Promise<Segmentation> {
  return segmentImage(ms, target, answer.prompt, opts);
}
