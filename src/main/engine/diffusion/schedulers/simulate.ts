/**
 * Reference executor for a SamplingPlan on plain Float32Arrays: the tests use it with analytic
 * "models", and the pipeline's tests compare their ONNX runs against it. Arithmetic per element
 * is float64, stored as float32 after every step (the latent lives in float32 tensors).
 */
import { EngineError } from '../../errors.js';
import { gaussian } from '../rng.js';
import type { SamplingPlan, StepCoefficients } from './types.js';

/**
 * One linear step: out = c.xCoef * x + sum_k c.epsCoefs[k] * eps[k] + c.noiseCoef * z.
 * `eps[k]` is the model output of step i-k (eps[0] the current one); all arrays have x's length.
 */
export function applyStep(
  c: StepCoefficients,
  x: Float32Array,
  eps: readonly Float32Array[],
  z?: Float32Array,
  out: Float32Array = new Float32Array(x.length),
): Float32Array {
  const n = x.length;
  const k = c.epsCoefs.length;
  if (eps.length < k) throw new EngineError('INVALID_ARGUMENT', `step needs ${k} model outputs of history, got ${eps.length}.`);
  for (let j = 0; j < k; j++)
    if (eps[j]!.length !== n) throw new EngineError('SHAPE_MISMATCH', `model output ${j} has ${eps[j]!.length} values, latent has ${n}.`);
  if (c.noiseCoef !== 0 && (z === undefined || z.length !== n))
    throw new EngineError('INVALID_ARGUMENT', `this step adds fresh noise: pass ${n} standard-normal values.`);
  for (let e = 0; e < n; e++) {
    let v = c.xCoef * x[e]!;
    for (let j = 0; j < k; j++) v += c.epsCoefs[j]! * eps[j]![e]!;
    if (c.noiseCoef !== 0) v += c.noiseCoef * z![e]!;
    out[e] = v;
  }
  return out;
}

export interface SimulateOptions {
  /** Standard-normal starting noise z; the run starts from x_0 = initNoiseSigma * z. */
  initialNoise: Float32Array;
  /**
   * The "UNet": model output (eps, v or x0 as the config's prediction_type says) for the
   * scaled input `modelInputScale[step] * x`, at `timestep` = plan.timesteps[step].
   */
  model: (input: Float32Array, timestep: number, step: number) => Float32Array;
  /** Fresh N(0, I) noise for steps with noiseCoef != 0. Default: gaussian(seed, n, 1 + step). */
  stepNoise?: (step: number) => Float32Array;
  /** Seed for the default stepNoise (default 0). */
  seed?: number;
  /** Called after each step with the new latent (do not keep the array: it is reused only if you copy). */
  onStep?: (step: number, latent: Float32Array) => void;
}

/** Runs `plan` to the end and returns the final latent (same length as initialNoise). */
export function simulate(plan: SamplingPlan, opts: SimulateOptions): Float32Array {
  const n = opts.initialNoise.length;
  let x: Float32Array = new Float32Array(n);
  for (let e = 0; e < n; e++) x[e] = plan.initNoiseSigma * opts.initialNoise[e]!;
  const history: Float32Array[] = [];
  const maxHistory = Math.max(1, ...plan.coefficients.map((c) => c.epsCoefs.length));
  const input = new Float32Array(n);
  for (let i = 0; i < plan.steps; i++) {
    const scale = plan.modelInputScale[i]!;
    for (let e = 0; e < n; e++) input[e] = scale * x[e]!;
    const m = opts.model(input, plan.timesteps[i]!, i);
    if (m.length !== n) throw new EngineError('SHAPE_MISMATCH', `model returned ${m.length} values for a latent of ${n}.`);
    history.unshift(Float32Array.from(m));
    if (history.length > maxHistory) history.pop();
    const c = plan.coefficients[i]!;
    const z = c.noiseCoef !== 0 ? (opts.stepNoise?.(i) ?? gaussian(opts.seed ?? 0, n, 1 + i)) : undefined;
    x = applyStep(c, x, history, z);
    opts.onStep?.(i, x);
  }
  return x;
}
