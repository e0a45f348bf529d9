/**
 * Linear multistep (order 4) as diffusers' LMSDiscreteScheduler (the sampler the EDITOR
 * reference code uses, 5 steps): same sigma schedule and input scaling as Euler (default
 * spacing "linspace"), and
 *
 *   x_{i+1} = x_i + sum_{k<order} c_{i,k} * d_{i-k},   d_j = (x_j - x0_j) / sigma_j = eps_j,
 *   c_{i,k} = integral from sigma_i to sigma_{i+1} of prod_{j != k} (tau - sigma_{i-j}) / (sigma_{i-k} - sigma_{i-j}) dtau
 *
 * with order = min(i + 1, 4). diffusers integrates the Lagrange basis with scipy's `quad`; the
 * integrand is a polynomial of degree <= 3, so 3-point Gauss-Legendre (exact to degree 5) gives
 * the same numbers to rounding.
 *
 * Only epsilon prediction: for v/sample models d_j depends on earlier latents x_j as well, which
 * the linear step contract (current x plus eps history) cannot express.
 */
import { EngineError } from '../../errors.js';
import { predictionType, rejectUnsupported } from './common.js';
import { sigmaInputScale, sigmaSchedule } from './sigmas.js';
import type { SamplingPlan, SchedulerConfig, SchedulerFactory, StepCoefficients } from './types.js';

export const LMS_ORDER = 4;

const GL_NODES = [-Math.sqrt(3 / 5), 0, Math.sqrt(3 / 5)];
const GL_WEIGHTS = [5 / 9, 8 / 9, 5 / 9];

/**
 * diffusers' `get_lms_coefficient(order, t, current_order)`: the integral over
 * [sigmas[t], sigmas[t+1]] of the Lagrange basis polynomial of node sigmas[t - current_order]
 * among nodes sigmas[t], sigmas[t-1], ..., sigmas[t-order+1].
 */
export function lmsCoefficient(sigmas: readonly number[], order: number, t: number, currentOrder: number): number {
  const basis = (tau: number): number => {
    let prod = 1;
    for (let k = 0; k < order; k++) {
      if (k === currentOrder) continue;
      prod *= (tau - sigmas[t - k]!) / (sigmas[t - currentOrder]! - sigmas[t - k]!);
    }
    return prod;
  };
  const a = sigmas[t]!;
  const b = sigmas[t + 1]!;
  const half = (b - a) / 2;
  const mid = (a + b) / 2;
  let sum = 0;
  for (let q = 0; q < GL_NODES.length; q++) sum += GL_WEIGHTS[q]! * basis(half * GL_NODES[q]! + mid);
  return half * sum;
}

export const lms: SchedulerFactory = {
  name: 'lms',
  plan(config: SchedulerConfig, steps: number): SamplingPlan {
    rejectUnsupported('lms', config);
    const pred = predictionType(config);
    if (pred !== 'epsilon')
      throw new EngineError(
        'INVALID_ARGUMENT',
        `scheduler "lms" supports epsilon-prediction models only (this model predicts ${pred}); use euler or ddim.`,
      );
    const { timesteps, sigmas, initNoiseSigma } = sigmaSchedule(config, steps, {
      defaultSpacing: 'linspace',
      eulerOptions: false,
    });
    const coefficients: StepCoefficients[] = timesteps.map((_, i) => {
      const order = Math.min(i + 1, LMS_ORDER);
      const epsCoefs: number[] = [];
      for (let k = 0; k < order; k++) epsCoefs.push(lmsCoefficient(sigmas, order, i, k));
      return { xCoef: 1, epsCoefs, noiseCoef: 0 };
    });
    return {
      name: 'lms',
      steps,
      timesteps,
      initNoiseSigma,
      modelInputScale: sigmas.slice(0, steps).map(sigmaInputScale),
      coefficients,
    };
  },
};
