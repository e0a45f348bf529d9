import { describe, expect, it } from 'vitest';
import type { SamplingPlan } from '../../../../src/main/engine/diffusion/schedulers/types.js';
import { sampleBackward, sampleForward, type EpsFn, type EpsVjpFn } from '../../../../src/main/engine/inversion/sampler-chain.js';

// A toy "UNet": eps = tanh(W x + V c), non-linear in both, with an analytic VJP.
const N = 6;
const D = 3;
function rand(seed: number, n: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5);
}
const W = rand(1, N * N);
const V = rand(2, N * D);

function toy(cond: Float32Array): { eps: EpsFn; vjp: EpsVjpFn } {
  const pre = (x: Float32Array) =>
    Float32Array.from({ length: N }, (_, r) => {
      let s = 0;
      for (let k = 0; k < N; k++) s += W[r * N + k]! * x[k]!;
      for (let k = 0; k < D; k++) s += V[r * D + k]! * cond[k]!;
      return s;
    });
  return {
    eps: async (_i, x) => pre(x).map(Math.tanh),
    vjp: async (_i, x, g) => {
      const p = pre(x);
      const gp = p.map((v, r) => g[r]! * (1 - Math.tanh(v) ** 2));
      const gxIn = Float32Array.from({ length: N }, (_, k) => gp.reduce((a, v, r) => a + v * W[r * N + k]!, 0));
      const gCond = Float32Array.from({ length: D }, (_, k) => gp.reduce((a, v, r) => a + v * V[r * D + k]!, 0));
      return { gxIn, gCond };
    },
  };
}

// Three steps with an LMS-like history (eps of earlier steps reused) and non-trivial scales.
const plan: SamplingPlan = {
  name: 'lms',
  steps: 3,
  timesteps: [900, 500, 100],
  initNoiseSigma: 2,
  modelInputScale: [0.4, 0.7, 0.9],
  coefficients: [
    { xCoef: 1, epsCoefs: [-0.8], noiseCoef: 0 },
    { xCoef: 0.9, epsCoefs: [-0.5, 0.2], noiseCoef: 0 },
    { xCoef: 1.1, epsCoefs: [-0.3, 0.1, -0.05], noiseCoef: 0 },
  ],
};

describe('differentiable sampler chain', () => {
  it('matches finite differences of <x_K, g> w.r.t. the conditioning', async () => {
    const z0 = rand(3, N);
    const g = rand(4, N);
    const cond = rand(5, D);
    const objective = async (c: Float32Array) => {
      const { latents } = await sampleForward(plan, z0, toy(c).eps);
      return latents[plan.steps]!.reduce((a, v, j) => a + v * g[j]!, 0);
    };
    const { eps, vjp } = toy(cond);
    const fwd = await sampleForward(plan, z0, eps);
    const { gCond } = await sampleBackward(plan, fwd, g, vjp);
    expect(gCond).toBeDefined();
    for (let k = 0; k < D; k++) {
      const h = 1e-2;
      const cp = Float32Array.from(cond);
      const cm = Float32Array.from(cond);
      cp[k] = cp[k]! + h;
      cm[k] = cm[k]! - h;
      const fd = ((await objective(cp)) - (await objective(cm))) / (2 * h);
      expect(gCond![k]!).toBeCloseTo(fd, 3);
    }
  });

  it('keeps one latent per step and honours cancellation', async () => {
    const { eps } = toy(rand(5, D));
    const fwd = await sampleForward(plan, rand(3, N), eps);
    expect(fwd.latents).toHaveLength(plan.steps + 1);
    const ac = new AbortController();
    ac.abort();
    await expect(sampleForward(plan, rand(3, N), eps, { signal: ac.signal })).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});
