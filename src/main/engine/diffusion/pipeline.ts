/**
 * Text-to-image generation: prompt (or a text embedding) -> image, on any loaded model set.
 *
 *   1. encode the prompt (and the negative prompt, "" by default, when guidance > 1), applying
 *      emphasis weights of the prompt language (`(word:1.3)`, see prompt-weights.ts);
 *   2. x_0 = initNoiseSigma * z, z = gaussian(seed, C*h*w, stream 0) (diffusion/rng.ts: bit-identical
 *      on every machine); ancestral/LCM steps draw fresh noise from stream 1 + step;
 *   3. per step: eps = guided UNet prediction on modelInputScale[i] * x_i, then the scheduler's
 *      linear update (applyStep, the same arithmetic as the schedulers' reference simulator);
 *   4. image = vae_decoder(x_K / 0.18215), clamped to [-1, 1]; PNG with A1111 `parameters` + our JSON.
 *
 * Same model set + same request = byte-identical PNG.
 */
import { performance } from 'node:perf_hooks';
import { CancelledError, EngineError } from '../errors.js';
import { imageToPng } from '../image/image-io.js';
import { samplerLabel } from '../image/a1111.js';
import { checkImageSize, sizeLimitModel } from './size-limits.js';
import type { ModelSet } from './load-model-set.js';
import { gaussian, RNG_VERSION } from './rng.js';
import { applyStep, getScheduler, type SamplingPlan, type SchedulerName } from './schedulers/index.js';
import { encodeWeightedPrompt } from './prompt-weights.js';
import { predictNoise, usesCfg } from './unet.js';
import { decodeLatents } from './vae.js';

export { encodePrompt, encodePromptDetailed, encodeIds, type PromptEncoding } from './text-encoder.js';
export { predictNoise, runUnet, unetSession, usesCfg, guidanceEmbedding } from './unet.js';
export { decodeLatents, encodeImage } from './vae.js';

export interface GenerateRequest {
  /** Prompt text; ignored for conditioning when `embedding` is given (still recorded in the PNG). */
  prompt?: string;
  /** Conditioning text embedding [77 * D] (e.g. an inversion result) instead of encoding `prompt`. */
  embedding?: Float32Array;
  negativePrompt?: string;
  /** Unconditional embedding [77 * D] instead of encoding `negativePrompt`. */
  negativeEmbedding?: Float32Array;
  /** Integer in [0, 2^53). */
  seed: number;
  steps: number;
  scheduler: SchedulerName;
  /** Classifier-free guidance scale; <= 1 turns guidance off (one UNet pass per step). */
  guidance: number;
  /** Pixels; multiples of 8 (and of modelSet.io.sizeMultiple). */
  width: number;
  height: number;
}

export interface GenerateProgress {
  phase: 'encode' | 'denoise' | 'decode';
  /** Steps done in this phase. */
  step: number;
  total: number;
  /** Estimated seconds until the whole generation ends. */
  etaSeconds?: number;
}

export interface GenerateWarning {
  type: 'warning';
  code: 'PROMPT_TRUNCATED';
  message: string;
}

/**
 * A replacement for the guided noise prediction of one denoising step (same contract as
 * `predictNoise(ms, latentIn, timestep, cond, uncond, guidance, h, w)`; `step` is the step index).
 * Attention capture uses it (attention/capture-predictor.ts).
 */
export type NoisePredictor = (
  latentIn: Float32Array,
  timestep: number,
  cond: Float32Array,
  uncond: Float32Array | undefined,
  guidance: number,
  h: number,
  w: number,
  step: number,
) => Promise<Float32Array>;

export interface GenerateOptions {
  signal?: AbortSignal;
  onProgress?: (e: GenerateProgress) => void;
  onWarning?: (w: GenerateWarning) => void;
  /** Called after each denoising step with the new scaled latent [C*h*w] (copy it to keep it). */
  onStep?: (step: number, latent: Float32Array) => void;
  /** Also encode the PNG (default true). */
  png?: boolean;
  /** Opt-in replacement of the UNet evaluation (e.g. with attention capture); absent = the plain UNet session. */
  predictNoise?: NoisePredictor;
  /**
   * Opt-in replacement of the latent after each denoising step, before `onStep` (prompt edits'
   * local blend: concepts/edit). Gets the scaled latent [C*h*w]; returns the latent to continue
   * from (the same array or a new one).
   */
  adjustLatent?: (step: number, latent: Float32Array) => Float32Array;
}

/** `partial` of the CancelledError generate() throws. */
export interface GenerateCancelled {
  /** Denoising steps completed. */
  step: number;
  /** Scaled latent after `step` steps (absent when cancelled before sampling started). */
  latents?: Float32Array;
}

export interface TokenInfo {
  /** Meaningful positions including BOS and EOS. */
  length: number;
  tokens: string[];
  truncated: { text: string; words: string[] } | null;
}

/** What the PNG's JSON chunk records (and the A1111 text renders). */
export interface GenerationRecord {
  app: 'inversion-studio';
  prompt: string;
  negativePrompt: string;
  seed: number;
  steps: number;
  scheduler: SchedulerName;
  guidance: number;
  width: number;
  height: number;
  model: string;
  /** 'text' or 'embedding' (conditioning came from an embedding, not the prompt). */
  conditioning: 'text' | 'embedding';
  rng: string;
}

export interface GenerateResult {
  /** CHW RGB float32 in [-1, 1], 3 * height * width. */
  image: Float32Array;
  width: number;
  height: number;
  /** PNG bytes with the `parameters` and `inversion-studio` chunks (empty when opts.png is false). */
  png: Buffer;
  params: GenerationRecord;
  /** Wall time of the whole call. */
  seconds: number;
  /** Per-step UNet time (seconds) of the denoising loop. */
  stepSeconds: number[];
  tokenInfo: { prompt: TokenInfo | null; negative: TokenInfo | null };
  /** Final scaled latent [C, h, w]. */
  latents: Float32Array;
  warnings: string[];
}

/** Checks a request against the model set; throws EngineError('INVALID_ARGUMENT') saying what to change. */
export function validateGenerateRequest(ms: ModelSet, req: GenerateRequest): void {
  const bad = (m: string): never => {
    throw new EngineError('INVALID_ARGUMENT', m);
  };
  const mult = Math.max(8, ms.io.sizeMultiple);
  for (const [k, v] of [
    ['width', req.width],
    ['height', req.height],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0) bad(`${k} must be a positive integer number of pixels (got ${v})`);
    const fix = Math.max(mult, Math.round(v / mult) * mult);
    if (v % 8 !== 0) bad(`${k} ${v} is not a multiple of 8 (the VAE works on 8x8 blocks); try ${fix}`);
    if (v % mult !== 0) bad(`${k} ${v} is not a multiple of ${mult}, which model set ${ms.name} needs; try ${fix}`);
    if (v > 4096) bad(`${k} ${v} is too large (at most 4096)`);
  }
  // Memory bound (size-limits.ts): a clear error before the latents or any session buffer exist.
  checkImageSize(sizeLimitModel(ms), req.width, req.height, 'generate', { multiple: mult });
  if (!Number.isSafeInteger(req.seed) || req.seed < 0) bad(`seed must be an integer >= 0 (got ${req.seed})`);
  if (!Number.isInteger(req.steps) || req.steps < 1 || req.steps > 1000) bad(`steps must be an integer from 1 to 1000 (got ${req.steps})`);
  if (!Number.isFinite(req.guidance) || req.guidance < 0 || req.guidance > 100)
    bad(`guidance must be a number from 0 to 100 (got ${req.guidance})`);
  const n = ms.io.sequenceLength * ms.io.hiddenSize;
  if (req.embedding && req.embedding.length !== n)
    bad(`embedding has ${req.embedding.length} values; model set ${ms.name} needs ${ms.io.sequenceLength}x${ms.io.hiddenSize} = ${n}`);
  if (req.negativeEmbedding && req.negativeEmbedding.length !== n)
    bad(`negative embedding has ${req.negativeEmbedding.length} values; expected ${n}`);
  if (req.embedding === undefined && req.prompt === undefined) bad('give a prompt or an embedding');
}

/** The standard-normal starting noise of a seed for a [C, h, w] latent (rng stream 0). */
export function initialNoise(seed: number, channels: number, h: number, w: number): Float32Array {
  return gaussian(seed, channels * h * w, 0);
}

/** The scheduler plan a request uses on a model set. */
export function planFor(ms: ModelSet, scheduler: SchedulerName, steps: number): SamplingPlan {
  return getScheduler(scheduler).plan(ms.schedulerConfig, steps);
}

function clampImage(img: Float32Array): Float32Array {
  const out = new Float32Array(img.length);
  for (let i = 0; i < img.length; i++) {
    const v = img[i]!;
    out[i] = Number.isNaN(v) ? 0 : v < -1 ? -1 : v > 1 ? 1 : v;
  }
  return out;
}

function truncationWarning(which: string, info: TokenInfo, max: number): GenerateWarning {
  return {
    type: 'warning',
    code: 'PROMPT_TRUNCATED',
    message: `${which} is longer than ${max} tokens; dropped: ${info.truncated!.words.join(' ') || info.truncated!.text}`,
  };
}

/**
 * Generate an image.
 * @throws EngineError('INVALID_ARGUMENT') for bad sizes/steps/seed; CancelledError when `signal` aborts.
 */
export async function generate(ms: ModelSet, req: GenerateRequest, opts: GenerateOptions = {}): Promise<GenerateResult> {
  const t0 = performance.now();
  validateGenerateRequest(ms, req);
  const plan = planFor(ms, req.scheduler, req.steps);
  const { signal } = opts;
  // On cancel the error carries the step reached and that step's latent (decode it for a preview).
  const check = (step: number, latents?: Float32Array): void => {
    if (signal?.aborted)
      throw new CancelledError<GenerateCancelled>(`generation cancelled at step ${step} of ${req.steps}`, {
        step,
        ...(latents ? { latents } : {}),
      });
  };
  const warnings: string[] = [];
  const warn = (w: GenerateWarning): void => {
    warnings.push(w.message);
    opts.onWarning?.(w);
  };
  check(0);

  // 1. conditioning
  opts.onProgress?.({ phase: 'encode', step: 0, total: 1 });
  const cfg = usesCfg(ms, req.guidance);
  let promptInfo: TokenInfo | null = null;
  let negativeInfo: TokenInfo | null = null;
  let cond: Float32Array;
  if (req.embedding) cond = req.embedding;
  else {
    const enc = await encodeWeightedPrompt(ms, req.prompt ?? '');
    cond = enc.embedding;
    promptInfo = { length: enc.length, tokens: enc.tokens, truncated: enc.truncated };
    if (enc.truncated) warn(truncationWarning('the prompt', promptInfo, ms.io.sequenceLength));
  }
  let uncond: Float32Array | undefined;
  if (cfg) {
    if (req.negativeEmbedding) uncond = req.negativeEmbedding;
    else {
      const enc = await encodeWeightedPrompt(ms, req.negativePrompt ?? '');
      uncond = enc.embedding;
      negativeInfo = { length: enc.length, tokens: enc.tokens, truncated: enc.truncated };
      if (enc.truncated) warn(truncationWarning('the negative prompt', negativeInfo, ms.io.sequenceLength));
    }
  }
  check(0);
  opts.onProgress?.({ phase: 'encode', step: 1, total: 1 });

  // 2-3. sampling
  const C = ms.io.latentChannels;
  const h = req.height / 8;
  const w = req.width / 8;
  const n = C * h * w;
  const z = initialNoise(req.seed, C, h, w);
  let x: Float32Array = new Float32Array(n);
  for (let e = 0; e < n; e++) x[e] = plan.initNoiseSigma * z[e]!;
  const maxHistory = Math.max(1, ...plan.coefficients.map((c) => c.epsCoefs.length));
  const history: Float32Array[] = [];
  const input = new Float32Array(n);
  const stepSeconds: number[] = [];
  const tLoop = performance.now();
  for (let i = 0; i < plan.steps; i++) {
    check(i, x);
    const ts = performance.now();
    const scale = plan.modelInputScale[i]!;
    for (let e = 0; e < n; e++) input[e] = scale * x[e]!;
    const eps = opts.predictNoise
      ? await opts.predictNoise(input, plan.timesteps[i]!, cond, uncond, req.guidance, h, w, i)
      : await predictNoise(ms, input, plan.timesteps[i]!, cond, uncond, req.guidance, h, w);
    history.unshift(eps);
    if (history.length > maxHistory) history.pop();
    const c = plan.coefficients[i]!;
    const noise = c.noiseCoef !== 0 ? gaussian(req.seed, n, 1 + i) : undefined;
    x = applyStep(c, x, history, noise);
    if (opts.adjustLatent) x = opts.adjustLatent(i, x);
    stepSeconds.push((performance.now() - ts) / 1000);
    opts.onStep?.(i, x);
    const perStep = (performance.now() - tLoop) / 1000 / (i + 1);
    opts.onProgress?.({ phase: 'denoise', step: i + 1, total: plan.steps, etaSeconds: perStep * (plan.steps - i - 1) + perStep });
  }
  check(plan.steps, x);

  // 4. decode
  opts.onProgress?.({ phase: 'decode', step: 0, total: 1 });
  const raw = await decodeLatents(ms, x, h, w);
  const image = clampImage(raw);
  opts.onProgress?.({ phase: 'decode', step: 1, total: 1, etaSeconds: 0 });

  const params: GenerationRecord = {
    app: 'inversion-studio',
    prompt: req.prompt ?? '',
    negativePrompt: cfg ? (req.negativePrompt ?? '') : '',
    seed: req.seed,
    steps: req.steps,
    scheduler: req.scheduler,
    guidance: req.guidance,
    width: req.width,
    height: req.height,
    model: ms.name,
    conditioning: req.embedding ? 'embedding' : 'text',
    rng: RNG_VERSION,
  };
  const png =
    opts.png === false
      ? Buffer.alloc(0)
      : await imageToPng(image, req.width, req.height, {
          parameters: {
            prompt: params.prompt,
            ...(params.negativePrompt ? { negativePrompt: params.negativePrompt } : {}),
            steps: params.steps,
            sampler: samplerLabel(params.scheduler),
            cfgScale: params.guidance,
            seed: params.seed,
            width: params.width,
            height: params.height,
            model: params.model,
            ...(req.embedding ? { extra: { Conditioning: 'embedding' } } : {}),
          },
          json: params,
        });
  return {
    image,
    width: req.width,
    height: req.height,
    png,
    params,
    seconds: (performance.now() - t0) / 1000,
    stepSeconds,
    tokenInfo: { prompt: promptInfo, negative: negativeInfo },
    latents: x,
    warnings,
  };
}
