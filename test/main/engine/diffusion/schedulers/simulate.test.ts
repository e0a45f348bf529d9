import { describe, expect, it } from 'vitest';
import { EngineError } from '../../../../../src/main/engine/errors.js';
import { gaussian } from '../../../../../src/main/engine/diffusion/rng.js';
import { applyStep, euler, lms, SD15_SCHEDULER_CONFIG, simulate } from '../../../../../src/main/engine/diffusion/schedulers/index.js';

describe('applyStep', () => {
  it('computes xCoef*x + sum_k epsCoefs[k]*eps[k] + noiseCoef*z per element', () => {
    const x = new Float32Array([1, 2]);
    const e0 = new Float32Array([10, 20]);
    const e1 = new Float32Array([100, 200]);
    const z = new Float32Array([0.5, -0.5]);
    const out = applyStep({ xCoef: 2, epsCoefs: [0.1, 0.01], noiseCoef: 4 }, x, [e0, e1], z);
    expect(Array.from(out)).toEqual([2 + 1 + 1 + 2, 4 + 2 + 2 - 2]);
  });

  it('checks history length, shapes and noise', () => {
    const x = new Float32Array(3);
    expect(() => applyStep({ xCoef: 1, epsCoefs: [1, 1], noiseCoef: 0 }, x, [x])).toThrow(/history/);
    expect(() => applyStep({ xCoef: 1, epsCoefs: [1], noiseCoef: 0 }, x, [new Float32Array(2)])).toThrow(EngineError);
    expect(() => applyStep({ xCoef: 1, epsCoefs: [1], noiseCoef: 1 }, x, [x])).toThrow(/noise/);
  });
});

describe('simulate', () => {
  it('feeds the model the scaled latent at each timestep and keeps LMS history in order', () => {
    const plan = lms.plan(SD15_SCHEDULER_CONFIG, 5);
    const z = gaussian(0, 16);
    const seen: number[] = [];
    let step = 0;
    // model output = step index, so the final latent is sigma_max*z + sum_i i * (sum of coefficients that hit eps_i)
    const out = simulate(plan, {
      initialNoise: z,
      model: (input, t, i) => {
        expect(i).toBe(step++);
        expect(t).toBe(plan.timesteps[i]);
        seen.push(input[0]!);
        return new Float32Array(16).fill(i);
      },
    });
    let expected = 0;
    plan.coefficients.forEach((c, i) => c.epsCoefs.forEach((v, k) => (expected += v * (i - k))));
    expect(out[3]).toBeCloseTo(plan.initNoiseSigma * z[3]! + expected, 4);
    expect(seen[0]).toBeCloseTo(plan.modelInputScale[0]! * plan.initNoiseSigma * z[0]!, 5);
  });

  it('is bit-identical across runs', () => {
    const plan = euler.plan(SD15_SCHEDULER_CONFIG, 10);
    const run = (): Float32Array =>
      simulate(plan, { initialNoise: gaussian(9, 64), model: (x, t) => Float32Array.from(x, (v) => Math.tanh(v) * (t / 1000)) });
    expect(Buffer.from(run().buffer).equals(Buffer.from(run().buffer))).toBe(true);
  });

  it('rejects a model output of the wrong size', () => {
    const plan = euler.plan(SD15_SCHEDULER_CONFIG, 2);
    expect(() => simulate(plan, { initialNoise: new Float32Array(4), model: () => new Float32Array(3) })).toThrow(
      /model returned 3 values/,
    );
  });
});
