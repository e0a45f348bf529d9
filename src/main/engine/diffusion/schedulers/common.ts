/**
 * Pieces shared by the scheduler factories: option validation and the linear forms of
 * "predicted x0" for each prediction type, so every sampler stays linear in (x, model output).
 */
import { EngineError } from '../../errors.js';
import type { DiffusersSchedulerConfig } from './noise-schedule.js';
import type { SchedulerConfig, SchedulerName } from './types.js';

export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';

export function predictionType(config: SchedulerConfig): PredictionType {
  const p = config.prediction_type ?? 'epsilon';
  if (p !== 'epsilon' && p !== 'v_prediction' && p !== 'sample')
    throw new EngineError('INVALID_ARGUMENT', `prediction_type "${String(p)}" is not supported; use epsilon, v_prediction or sample.`);
  return p;
}

/**
 * Options that would make a step non-linear (x0 clipping/thresholding) or that use sigma
 * schedules we do not implement are refused with a message naming the field to change.
 * Note: diffusers' DDIM defaults clip_sample to true; every latent-diffusion config sets it
 * false, and an absent field is read as false here because clipping latents is not linear.
 */
export function rejectUnsupported(name: SchedulerName, config: SchedulerConfig): void {
  const c = config as DiffusersSchedulerConfig;
  const bad = (field: string, why: string): never => {
    throw new EngineError(
      'INVALID_ARGUMENT',
      `scheduler "${name}": ${field} is not supported (${why}); edit scheduler_config.json or pick another scheduler.`,
    );
  };
  if (c.clip_sample === true) bad('clip_sample=true', 'clipping x0 makes the step non-linear');
  if (c.thresholding === true) bad('thresholding=true', 'dynamic thresholding makes the step non-linear');
  if (c.use_exponential_sigmas === true) bad('use_exponential_sigmas=true', 'not implemented');
  if (c.use_beta_sigmas === true) bad('use_beta_sigmas=true', 'not implemented');
  if (c.interpolation_type !== undefined && c.interpolation_type !== 'linear')
    bad(`interpolation_type="${c.interpolation_type}"`, 'only "linear" is implemented');
  if (c.timestep_type !== undefined && c.timestep_type !== 'discrete')
    bad(`timestep_type="${c.timestep_type}"`, 'only "discrete" is implemented');
}

/**
 * x0 = px * x + pm * m for a model output m at a variance-preserving level with cumulative
 * alpha `abar` (x = sqrt(abar) x0 + sqrt(1-abar) eps), and eps = ex * x + em * m.
 */
export function vpParametrisation(pred: PredictionType, abar: number): { px: number; pm: number; ex: number; em: number } {
  const a = Math.sqrt(abar);
  const b = Math.sqrt(1 - abar);
  switch (pred) {
    case 'epsilon':
      return { px: 1 / a, pm: -b / a, ex: 0, em: 1 };
    case 'v_prediction':
      return { px: a, pm: -b, ex: b, em: a };
    case 'sample':
      return { px: 0, pm: 1, ex: 1 / b, em: -a / b };
  }
}

/**
 * x0 = px * x + pm * m at noise level sigma of the variance-exploding (k-diffusion) form
 * x = x0 + sigma * eps, as diffusers' Euler/LMS compute `pred_original_sample`.
 */
export function veParametrisation(pred: PredictionType, sigma: number): { px: number; pm: number } {
  switch (pred) {
    case 'epsilon':
      return { px: 1, pm: -sigma };
    case 'v_prediction':
      return { px: 1 / (sigma * sigma + 1), pm: -sigma / Math.sqrt(sigma * sigma + 1) };
    case 'sample':
      return { px: 0, pm: 1 };
  }
}
