/**
 * The k-diffusion style sigma schedule shared by Euler, LMS and Turbo (diffusers'
 * EulerDiscreteScheduler / LMSDiscreteScheduler `set_timesteps`): pick train timesteps by the
 * spacing rule, interpolate sigma_t = sqrt((1-abar_t)/abar_t) at them, optionally replace by
 * the Karras ramp, append the final sigma.
 */
import { EngineError } from '../../errors.js';
import {
  alphasCumprod,
  checkSteps,
  interpGrid,
  karrasSigmas,
  sigmaToT,
  spacedTimesteps,
  trainSigmas,
  type DiffusersSchedulerConfig,
  type TimestepSpacing,
} from './noise-schedule.js';
import type { SchedulerConfig } from './types.js';

export interface SigmaSchedule {
  /** UNet timesteps, float32-valued as diffusers stores them (fractional for linspace/Karras). */
  timesteps: number[];
  /** steps + 1 values; sigmas[i] is the level at step i, the last one the level after the final step. */
  sigmas: number[];
  initNoiseSigma: number;
}

export interface SigmaScheduleOptions {
  /** Spacing when the config names none (each diffusers class has its own default). */
  defaultSpacing: TimestepSpacing;
  /** Overrides the config's spacing (Turbo always samples trailing). */
  forceSpacing?: TimestepSpacing;
  /** EulerDiscreteScheduler honours rescale_betas_zero_snr, sigma_min/max and final_sigmas_type; LMS does not. */
  eulerOptions: boolean;
}

export function sigmaSchedule(config: SchedulerConfig, steps: number, opts: SigmaScheduleOptions): SigmaSchedule {
  checkSteps(steps, config);
  const c = config as DiffusersSchedulerConfig;
  const eulerOnly = opts.eulerOptions;
  const abar = alphasCumprod(eulerOnly ? c : { ...c, rescale_betas_zero_snr: false });
  // With zero terminal SNR abar_T = 0 and sigma_T would be infinite; diffusers pins it to fp16's
  // smallest subnormal so the first sigma stays finite.
  if (eulerOnly && c.rescale_betas_zero_snr) abar[abar.length - 1] = 2 ** -24;
  const train = trainSigmas(abar);
  const spacing = opts.forceSpacing ?? config.timestep_spacing ?? opts.defaultSpacing;

  let timesteps = spacedTimesteps(spacing, config.num_train_timesteps, steps, config.steps_offset ?? 0, false).map(Math.fround);
  let sigmas = timesteps.map((t) => interpGrid(t, train));

  if (c.use_karras_sigmas) {
    const sMin = (eulerOnly ? c.sigma_min : undefined) ?? sigmas[sigmas.length - 1]!;
    const sMax = (eulerOnly ? c.sigma_max : undefined) ?? sigmas[0]!;
    sigmas = karrasSigmas(sMin, sMax, steps);
    const logSigmas = train.map(Math.log);
    timesteps = sigmas.map((s) => Math.fround(sigmaToT(s, logSigmas)));
  }

  const finalType = eulerOnly ? (c.final_sigmas_type ?? 'zero') : 'zero';
  if (finalType !== 'zero' && finalType !== 'sigma_min')
    throw new EngineError(
      'INVALID_ARGUMENT',
      `final_sigmas_type must be "zero" or "sigma_min" (got "${finalType}"); fix scheduler_config.json.`,
    );
  sigmas.push(finalType === 'zero' ? 0 : train[0]!);

  const maxSigma = Math.max(...sigmas);
  const initNoiseSigma = spacing === 'linspace' || spacing === 'trailing' ? maxSigma : Math.sqrt(maxSigma ** 2 + 1);
  return { timesteps, sigmas, initNoiseSigma };
}

/** diffusers' `scale_model_input` for sigma schedules: x / sqrt(sigma^2 + 1). */
export function sigmaInputScale(sigma: number): number {
  return 1 / Math.sqrt(sigma * sigma + 1);
}
