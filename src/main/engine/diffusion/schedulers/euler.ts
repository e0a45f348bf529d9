/**
 * Euler (Karras et al. 2022, Algorithm 2 with s_churn = 0) as diffusers' EulerDiscreteScheduler:
 * default spacing "linspace" (fractional timesteps), UNet input x / sqrt(sigma^2 + 1), and
 *
 *   x0 = x - sigma * eps;  d = (x - x0) / sigma;  x' = x + (sigma_next - sigma) * d
 *
 * i.e. x' = x + (sigma_next - sigma) * eps for epsilon models.
 */
import { predictionType, rejectUnsupported, veParametrisation } from './common.js';
import { sigmaInputScale, sigmaSchedule, type SigmaScheduleOptions } from './sigmas.js';
import type { SamplingPlan, SchedulerConfig, SchedulerFactory, SchedulerName, StepCoefficients } from './types.js';

/** Plans an Euler run; shared with `turbo`, which forces trailing spacing. */
export function planEuler(
  name: SchedulerName,
  config: SchedulerConfig,
  steps: number,
  opts: Omit<SigmaScheduleOptions, 'eulerOptions'>,
): SamplingPlan {
  rejectUnsupported(name, config);
  const pred = predictionType(config);
  const { timesteps, sigmas, initNoiseSigma } = sigmaSchedule(config, steps, { ...opts, eulerOptions: true });
  const coefficients: StepCoefficients[] = timesteps.map((_, i) => {
    const sigma = sigmas[i]!;
    const dt = sigmas[i + 1]! - sigma;
    if (pred === 'epsilon') return { xCoef: 1, epsCoefs: [dt], noiseCoef: 0 };
    // d = ((1 - px) x - pm m) / sigma, x' = x + dt * d
    const { px, pm } = veParametrisation(pred, sigma);
    return { xCoef: 1 + (dt * (1 - px)) / sigma, epsCoefs: [(-dt * pm) / sigma], noiseCoef: 0 };
  });
  return {
    name,
    steps,
    timesteps,
    initNoiseSigma,
    modelInputScale: sigmas.slice(0, steps).map(sigmaInputScale),
    coefficients,
  };
}

export const euler: SchedulerFactory = {
  name: 'euler',
  plan: (config, steps) => planEuler('euler', config, steps, { defaultSpacing: 'linspace' }),
};
