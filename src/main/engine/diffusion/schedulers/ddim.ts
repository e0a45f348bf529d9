/**
 * DDIM (Song et al. 2020) with eta = 0, following diffusers' DDIMScheduler:
 * default spacing "leading"; the previous timestep is always t - T div n (even with trailing
 * spacing, as diffusers does); below 0 it uses `final_alpha_cumprod` = 1 when
 * set_alpha_to_one (diffusers' default) else alphas_cumprod[0].
 *
 *   x0   = (x - sqrt(1-a_t) eps) / sqrt(a_t)
 *   x'   = sqrt(a_prev) x0 + sqrt(1-a_prev) eps
 *        = sqrt(a_prev/a_t) x + (sqrt(1-a_prev) - sqrt(a_prev (1-a_t) / a_t)) eps
 */
import { EngineError } from '../../errors.js';
import { predictionType, rejectUnsupported, vpParametrisation } from './common.js';
import { alphasCumprod, checkSteps, spacedTimesteps, type DiffusersSchedulerConfig } from './noise-schedule.js';
import type { SamplingPlan, SchedulerConfig, SchedulerFactory, StepCoefficients } from './types.js';

export const ddim: SchedulerFactory = {
  name: 'ddim',
  plan(config: SchedulerConfig, steps: number): SamplingPlan {
    checkSteps(steps, config);
    rejectUnsupported('ddim', config);
    const pred = predictionType(config);
    const abar = alphasCumprod(config as DiffusersSchedulerConfig);
    const T = config.num_train_timesteps;
    const spacing = config.timestep_spacing ?? 'leading';
    const timesteps = spacedTimesteps(spacing, T, steps, config.steps_offset ?? 0, true);
    const finalAbar = (config.set_alpha_to_one ?? true) ? 1 : abar[0]!;
    const stride = Math.floor(T / steps);

    const coefficients: StepCoefficients[] = timesteps.map((t) => {
      const aT = abar[t];
      if (aT === undefined)
        throw new EngineError(
          'INVALID_ARGUMENT',
          `ddim: timestep ${t} is outside the training schedule (0..${T - 1}); lower steps_offset or steps.`,
        );
      const prev = t - stride;
      const aPrev = prev >= 0 ? abar[prev]! : finalAbar;
      const { px, pm, ex, em } = vpParametrisation(pred, aT);
      const sp = Math.sqrt(aPrev);
      const sn = Math.sqrt(1 - aPrev);
      return { xCoef: sp * px + sn * ex, epsCoefs: [sp * pm + sn * em], noiseCoef: 0 };
    });

    return {
      name: 'ddim',
      steps,
      timesteps,
      initNoiseSigma: 1,
      modelInputScale: timesteps.map(() => 1),
      coefficients,
    };
  },
};
