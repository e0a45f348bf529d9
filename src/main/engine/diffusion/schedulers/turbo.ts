/**
 * `turbo`: the few-step sampler of distilled models (1-4 steps).
 *
 * - SD-Turbo / SDXL-Turbo (adversarial diffusion distillation) ship an EulerDiscreteScheduler
 *   config with `timestep_spacing: "trailing"`, and diffusers' Turbo docs say to sample them with
 *   trailing spacing, guidance 0, 1-4 steps. So `turbo` is Euler with the spacing forced to
 *   trailing whatever the config says: one step starts at t = T-1 (999) with sigma_max and
 *   lands on x0 = x - sigma_max * eps. (Front ends often use Euler *ancestral* for Turbo; with
 *   one step the two are identical since the ancestral noise term is sigma_up = 0 at the end.)
 * - When the model's scheduler_config.json names `LCMScheduler` (latent consistency models),
 *   `turbo` plans diffusers' LCMScheduler instead: timesteps from the distillation schedule
 *   (original_inference_steps = 50 -> 999, 979, ..., 19), boundary-condition scalings
 *   c_skip = s^2/((10t)^2+s^2), c_out = 10t/sqrt((10t)^2+s^2) with s = 0.5, and fresh noise
 *   between steps (none after the last). Such UNets also take a `timestep_cond` guidance
 *   embedding, which the pipeline supplies.
 */
import { EngineError } from '../../errors.js';
import { predictionType, rejectUnsupported, vpParametrisation } from './common.js';
import { planEuler } from './euler.js';
import { alphasCumprod, checkSteps, type DiffusersSchedulerConfig } from './noise-schedule.js';
import type { SamplingPlan, SchedulerConfig, SchedulerFactory, StepCoefficients } from './types.js';

/** LCM boundary-condition data std (diffusers hard-codes 0.5). */
const SIGMA_DATA = 0.5;

/** diffusers' LCMScheduler.set_timesteps (strength 1, no custom timesteps). */
export function lcmTimesteps(config: SchedulerConfig, steps: number): number[] {
  const c = config as DiffusersSchedulerConfig;
  const T = config.num_train_timesteps;
  const original = c.original_inference_steps ?? 50;
  if (original > T) throw new EngineError('INVALID_ARGUMENT', `original_inference_steps (${original}) exceeds num_train_timesteps (${T}).`);
  if (steps > original)
    throw new EngineError(
      'INVALID_ARGUMENT',
      `an LCM model samples at most original_inference_steps = ${original} steps (asked for ${steps}).`,
    );
  const k = Math.floor(T / original);
  const origin: number[] = [];
  for (let i = original; i >= 1; i--) origin.push(i * k - 1);
  // np.linspace(0, len, num=steps, endpoint=False) floored: i * len / steps
  const step = origin.length / steps;
  const out: number[] = [];
  for (let i = 0; i < steps; i++) out.push(origin[Math.floor(i * step)]!);
  return out;
}

export function planLcm(config: SchedulerConfig, steps: number): SamplingPlan {
  checkSteps(steps, config);
  rejectUnsupported('turbo', config);
  const pred = predictionType(config);
  const c = config as DiffusersSchedulerConfig;
  const abar = alphasCumprod(c);
  const scaling = c.timestep_scaling ?? 10;
  const timesteps = lcmTimesteps(config, steps);
  const coefficients: StepCoefficients[] = timesteps.map((t, i) => {
    const scaled = t * scaling;
    const cSkip = SIGMA_DATA ** 2 / (scaled ** 2 + SIGMA_DATA ** 2);
    const cOut = scaled / Math.sqrt(scaled ** 2 + SIGMA_DATA ** 2);
    const { px, pm } = vpParametrisation(pred, abar[t]!);
    // denoised = c_out * x0 + c_skip * x
    const dx = cOut * px + cSkip;
    const dm = cOut * pm;
    if (i === steps - 1) return { xCoef: dx, epsCoefs: [dm], noiseCoef: 0 };
    const aPrev = abar[timesteps[i + 1]!]!;
    const f = Math.sqrt(aPrev);
    return { xCoef: f * dx, epsCoefs: [f * dm], noiseCoef: Math.sqrt(1 - aPrev) };
  });
  return {
    name: 'turbo',
    steps,
    timesteps,
    initNoiseSigma: 1,
    modelInputScale: timesteps.map(() => 1),
    coefficients,
  };
}

/** True when the config was written for diffusers' LCMScheduler. */
export function isLcmConfig(config: SchedulerConfig): boolean {
  return (config as DiffusersSchedulerConfig)._class_name === 'LCMScheduler';
}

export const turbo: SchedulerFactory = {
  name: 'turbo',
  plan(config: SchedulerConfig, steps: number): SamplingPlan {
    if (isLcmConfig(config)) return planLcm(config, steps);
    return planEuler('turbo', config, steps, { defaultSpacing: 'trailing', forceSpacing: 'trailing' });
  },
};
