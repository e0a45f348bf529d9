/**
 * Differentiable sampler: runs a SamplingPlan forward keeping only each step's latent, then
 * propagates a latent cotangent back through every step.
 *
 * Each step is linear in the latent and the (guided) noise predictions (see
 * schedulers/types.ts), so the only non-linear part is the UNet, whose VJP is recomputed per
 * step from the stored latent: memory holds K latents and one step's activations, never the
 * whole unrolled graph.
 */
import type { SamplingPlan } from '../diffusion/schedulers/types.js';
import { throwIfAborted } from '../errors.js';
import { applyStep } from '../diffusion/schedulers/index.js';

/** Guided noise prediction at step `i` for UNet input `xIn` (already multiplied by modelInputScale[i]). */
export type EpsFn = (i: number, xIn: Float32Array) => Promise<Float32Array>;

/**
 * VJP of the guided noise prediction at step i: given the cotangent of eps, returns the
 * cotangent of the UNet input `xIn` and of the conditioning embedding.
 */
export type EpsVjpFn = (i: number, xIn: Float32Array, gEps: Float32Array) => Promise<{ gxIn: Float32Array; gCond: Float32Array }>;

export interface ChainForward {
  /** Latents x_0..x_K (x_K is the sampler's result). */
  latents: Float32Array[];
}

function axpy(out: Float32Array, a: number, x: Float32Array): void {
  if (a === 0) return;
  for (let j = 0; j < out.length; j++) out[j] = out[j]! + a * x[j]!;
}

function scaled(x: Float32Array, a: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let j = 0; j < x.length; j++) out[j] = a * x[j]!;
  return out;
}

/**
 * Run the plan forward.
 * @param z0 standard-normal initial noise, shape of one latent (e.g. [1,4,H/8,W/8] flattened)
 * @param stepNoise fresh noise per step for ancestral samplers (ignored where noiseCoef = 0)
 */
export async function sampleForward(
  plan: SamplingPlan,
  z0: Float32Array,
  eps: EpsFn,
  opts: { signal?: AbortSignal; stepNoise?: (i: number) => Float32Array } = {},
): Promise<ChainForward> {
  const latents: Float32Array[] = [scaled(z0, plan.initNoiseSigma)];
  // Newest first, as applyStep expects: recent[k] = eps_{i-k}.
  const recent: Float32Array[] = [];
  for (let i = 0; i < plan.steps; i++) {
    throwIfAborted(opts.signal);
    const x = latents[i]!;
    recent.unshift(await eps(i, scaled(x, plan.modelInputScale[i]!)));
    const c = plan.coefficients[i]!;
    if (c.noiseCoef !== 0 && !opts.stepNoise) throw new Error(`sampler step ${i} needs fresh noise but no noise source was given`);
    // The same arithmetic as generate() (applyStep), so a rendering equals the generated image.
    latents.push(applyStep(c, x, recent, c.noiseCoef !== 0 ? opts.stepNoise!(i) : undefined));
  }
  return { latents };
}

/**
 * Back-propagate `gLast` (cotangent of x_K) through the sampler.
 * @returns the cotangent of the conditioning embedding, summed over steps, and of x_0.
 */
export async function sampleBackward(
  plan: SamplingPlan,
  fwd: ChainForward,
  gLast: Float32Array,
  vjp: EpsVjpFn,
  opts: { signal?: AbortSignal } = {},
): Promise<{ gCond: Float32Array | undefined; gx0: Float32Array }> {
  const K = plan.steps;
  const gEps: (Float32Array | undefined)[] = new Array(K);
  let gx: Float32Array = Float32Array.from(gLast);
  let gCond: Float32Array | undefined;
  for (let i = K - 1; i >= 0; i--) {
    throwIfAborted(opts.signal);
    const c = plan.coefficients[i]!;
    // x_{i+1} depends on eps_{i-k}: route gx to each of them before eps_i's VJP runs.
    c.epsCoefs.forEach((coef, k) => {
      const j = i - k;
      if (j < 0 || coef === 0) return;
      const acc = (gEps[j] ??= new Float32Array(gx.length));
      axpy(acc, coef, gx);
    });
    const gNext = scaled(gx, c.xCoef);
    const s = plan.modelInputScale[i]!;
    const ge = gEps[i];
    if (ge) {
      const { gxIn, gCond: gc } = await vjp(i, scaled(fwd.latents[i]!, s), ge);
      axpy(gNext, s, gxIn);
      if (gCond) axpy(gCond, 1, gc);
      else gCond = Float32Array.from(gc);
    }
    gEps[i] = undefined;
    gx = gNext;
  }
  return { gCond, gx0: gx };
}
