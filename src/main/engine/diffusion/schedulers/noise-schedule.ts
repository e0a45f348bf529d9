/**
 * The training noise schedule (betas -> alphas_cumprod -> sigmas) and the numpy-style helpers the
 * diffusers schedulers use to pick inference timesteps. Everything here is float64; diffusers
 * keeps alphas_cumprod in float32 torch tensors, so our values differ from it by ~1e-6 relative
 * (torch's float32 linspace is itself not bit-identical across CPUs, so there is nothing exact
 * to match). Timesteps that diffusers stores as float32 are rounded with Math.fround.
 */
import { EngineError } from '../../errors.js';
import type { SchedulerConfig } from './types.js';

/**
 * Extra diffusers `scheduler_config.json` fields some schedulers honour. They ride along on a
 * `SchedulerConfig` object (the factories read them when present) so the shared contract stays small.
 */
export interface DiffusersSchedulerConfig extends SchedulerConfig {
  /** Class that wrote the file, e.g. 'PNDMScheduler', 'EulerDiscreteScheduler', 'LCMScheduler'. */
  _class_name?: string;
  trained_betas?: number[] | null;
  rescale_betas_zero_snr?: boolean;
  thresholding?: boolean;
  /** Euler/LMS: 'linear' (default) or 'log_linear' (unsupported). */
  interpolation_type?: string;
  use_karras_sigmas?: boolean;
  use_exponential_sigmas?: boolean;
  use_beta_sigmas?: boolean;
  sigma_min?: number | null;
  sigma_max?: number | null;
  /** Euler: 'discrete' (default) or 'continuous' (unsupported). */
  timestep_type?: string;
  /** Euler: 'zero' (default) or 'sigma_min'. */
  final_sigmas_type?: string;
  /** LCM: the distillation schedule length (default 50). */
  original_inference_steps?: number;
  /** LCM: boundary-condition time scaling (default 10). */
  timestep_scaling?: number;
}

/** numpy's `round`: half to even (np.round(0.5) = 0, np.round(1.5) = 2). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  if (Math.abs(x - Math.trunc(x)) === 0.5) return 2 * Math.round(x / 2);
  return r;
}

/** numpy `linspace(start, stop, num)` (endpoint=True): start + i*step, last element exactly stop. */
export function linspace(start: number, stop: number, num: number): number[] {
  if (num <= 0) return [];
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out = new Array<number>(num);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

/** numpy `arange(start, stop, step)` for floats: ceil((stop-start)/step) values start + i*delta. */
export function arange(start: number, stop: number, step: number): number[] {
  const n = Math.max(0, Math.ceil((stop - start) / step));
  // numpy fills with the difference of its first two values, not `step` itself.
  const delta = start + step - start;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = start + i * delta;
  return out;
}

/** numpy `interp(x, arange(fp.length), fp)`: piecewise linear on an integer grid, clamped at the ends. */
export function interpGrid(x: number, fp: ArrayLike<number>): number {
  const last = fp.length - 1;
  if (x <= 0) return fp[0]!;
  if (x >= last) return fp[last]!;
  const j = Math.floor(x);
  const lo = fp[j]!;
  const hi = fp[j + 1]!;
  return (hi - lo) * (x - j) + lo;
}

function invalid(message: string): EngineError {
  return new EngineError('INVALID_ARGUMENT', message);
}

/** Glide's cosine schedule (diffusers `betas_for_alpha_bar`, alpha_transform_type "cosine"). */
function cosineBetas(n: number, maxBeta = 0.999): number[] {
  const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  const betas = new Array<number>(n);
  for (let i = 0; i < n; i++) betas[i] = Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), maxBeta);
  return betas;
}

/** Zero terminal SNR rescale (Lin et al. 2023, Algorithm 1), as diffusers `rescale_zero_terminal_snr`. */
export function rescaleZeroTerminalSnr(betas: readonly number[]): number[] {
  const n = betas.length;
  const sqrtAbar = new Array<number>(n);
  let prod = 1;
  for (let i = 0; i < n; i++) {
    prod *= 1 - betas[i]!;
    sqrtAbar[i] = Math.sqrt(prod);
  }
  const first = sqrtAbar[0]!;
  const last = sqrtAbar[n - 1]!;
  const scale = first / (first - last);
  const abar = sqrtAbar.map((s) => ((s - last) * scale) ** 2);
  const out = new Array<number>(n);
  out[0] = 1 - abar[0]!;
  for (let i = 1; i < n; i++) out[i] = 1 - abar[i]! / abar[i - 1]!;
  return out;
}

/** Per-train-step betas for `config` (`trained_betas` wins when present). */
export function betas(config: DiffusersSchedulerConfig): number[] {
  const n = config.num_train_timesteps;
  if (!Number.isInteger(n) || n < 2) throw invalid(`num_train_timesteps must be an integer >= 2 (got ${n}).`);
  let b: number[];
  if (Array.isArray(config.trained_betas) && config.trained_betas.length > 0) {
    if (config.trained_betas.length !== n)
      throw invalid(`trained_betas has ${config.trained_betas.length} entries but num_train_timesteps is ${n}.`);
    b = config.trained_betas.slice();
  } else if (config.beta_schedule === 'linear') {
    b = linspace(config.beta_start, config.beta_end, n);
  } else if (config.beta_schedule === 'scaled_linear') {
    b = linspace(Math.sqrt(config.beta_start), Math.sqrt(config.beta_end), n).map((v) => v * v);
  } else if (config.beta_schedule === 'squaredcos_cap_v2') {
    b = cosineBetas(n);
  } else {
    throw invalid(`beta_schedule "${String(config.beta_schedule)}" is not supported; use scaled_linear, linear or squaredcos_cap_v2.`);
  }
  return config.rescale_betas_zero_snr ? rescaleZeroTerminalSnr(b) : b;
}

/** alphas_cumprod[t] = prod_{s<=t} (1 - beta_s), t = 0 .. num_train_timesteps-1. */
export function alphasCumprod(config: DiffusersSchedulerConfig): Float64Array {
  const b = betas(config);
  const out = new Float64Array(b.length);
  let prod = 1;
  for (let i = 0; i < b.length; i++) {
    prod *= 1 - b[i]!;
    out[i] = prod;
  }
  return out;
}

/** Training sigmas sigma_t = sqrt((1 - abar_t) / abar_t) (noise-to-signal std of x_t / sqrt(abar_t)). */
export function trainSigmas(abar: Float64Array): Float64Array {
  const out = new Float64Array(abar.length);
  for (let i = 0; i < abar.length; i++) out[i] = Math.sqrt((1 - abar[i]!) / abar[i]!);
  return out;
}

export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';

/**
 * Inference timesteps, descending, as diffusers' `set_timesteps` computes them (before any integer
 * cast): linspace = linspace(0, T-1, n) reversed; leading = (arange(n) * (T div n)) reversed +
 * steps_offset; trailing = round(arange(T, 0, -T/n)) - 1. `integer` applies the round()/int64
 * cast DDIM-style schedulers do for linspace.
 */
export function spacedTimesteps(
  spacing: TimestepSpacing,
  trainSteps: number,
  steps: number,
  stepsOffset: number,
  integer: boolean,
): number[] {
  if (spacing === 'linspace') {
    const t = linspace(0, trainSteps - 1, steps).reverse();
    return integer ? t.map(roundHalfEven) : t;
  }
  if (spacing === 'leading') {
    const ratio = Math.floor(trainSteps / steps);
    const t: number[] = [];
    for (let i = steps - 1; i >= 0; i--) t.push(i * ratio + stepsOffset);
    return t;
  }
  if (spacing === 'trailing') {
    return arange(trainSteps, 0, -trainSteps / steps).map((v) => roundHalfEven(v) - 1);
  }
  throw invalid(`timestep_spacing "${String(spacing)}" is not supported; use leading, trailing or linspace.`);
}

/** Validates the user's step count against the training schedule. */
export function checkSteps(steps: number, config: SchedulerConfig): void {
  if (!Number.isInteger(steps) || steps < 1) throw invalid(`steps must be a positive integer (got ${steps}).`);
  if (steps > config.num_train_timesteps)
    throw invalid(`steps (${steps}) cannot exceed the model's num_train_timesteps (${config.num_train_timesteps}).`);
}

/** Karras et al. (2022) rho=7 sigma ramp between sigmaMax and sigmaMin, `n` values. */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  const rho = 7;
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  return linspace(0, 1, n).map((r) => (maxInv + r * (minInv - maxInv)) ** rho);
}

/** Fractional train timestep whose (log-interpolated) sigma is `sigma` (diffusers `_sigma_to_t`). */
export function sigmaToT(sigma: number, logSigmas: Float64Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  const n = logSigmas.length;
  // Last index whose log-sigma is <= logSigma (0 when none), capped so that low+1 exists.
  let low = 0;
  for (let i = 0; i < n; i++) if (logSigma - logSigmas[i]! >= 0) low = i;
  low = Math.min(low, n - 2);
  const lo = logSigmas[low]!;
  const hi = logSigmas[low + 1]!;
  const w = Math.min(1, Math.max(0, (lo - logSigma) / (lo - hi)));
  return (1 - w) * low + w * (low + 1);
}
