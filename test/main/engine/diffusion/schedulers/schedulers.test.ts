/**
 * Scheduler plans checked against formulas written out here from the papers / diffusers docs,
 * and against facts about diffusers' SD 1.5 setup (timesteps 981..1, sigma_max 14.6146).
 */
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../../../../src/main/engine/errors.js';
import {
  alphasCumprod,
  ddim,
  euler,
  getScheduler,
  lms,
  SCHEDULER_NAMES,
  SD15_SCHEDULER_CONFIG,
  simulate,
  turbo,
  type DiffusersSchedulerConfig,
  type SamplingPlan,
} from '../../../../../src/main/engine/diffusion/schedulers/index.js';

const SD15 = SD15_SCHEDULER_CONFIG;
const SD_TURBO: DiffusersSchedulerConfig = {
  _class_name: 'EulerDiscreteScheduler',
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  timestep_spacing: 'trailing',
  steps_offset: 1,
  prediction_type: 'epsilon',
  clip_sample: false,
  set_alpha_to_one: false,
  interpolation_type: 'linear',
  use_karras_sigmas: false,
};
const LCM: DiffusersSchedulerConfig = {
  _class_name: 'LCMScheduler',
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  original_inference_steps: 50,
  timestep_scaling: 10,
  set_alpha_to_one: true,
  steps_offset: 1,
  clip_sample: false,
};

// ---- the published formulas, written independently of the implementation ----

/** LDM "scaled_linear": beta_i = (sqrt(b0) + i/(T-1) (sqrt(b1) - sqrt(b0)))^2, abar_t = prod (1 - beta_i). */
function abarScaledLinear(t: number, b0 = 0.00085, b1 = 0.012, T = 1000): number {
  let p = 1;
  for (let i = 0; i <= t; i++) {
    const s = Math.sqrt(b0) + (i / (T - 1)) * (Math.sqrt(b1) - Math.sqrt(b0));
    p *= 1 - s * s;
  }
  return p;
}
/** sigma_t = sqrt((1 - abar_t) / abar_t), linearly interpolated between integer t. */
function sigmaAt(t: number): number {
  const sig = (k: number): number => Math.sqrt((1 - abarScaledLinear(k)) / abarScaledLinear(k));
  const lo = Math.floor(t);
  if (lo >= 999) return sig(999);
  return sig(lo) + (t - lo) * (sig(lo + 1) - sig(lo));
}

function rel(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
}

describe('training noise schedule', () => {
  it('scaled_linear alphas_cumprod matches the product formula', () => {
    const abar = alphasCumprod(SD15);
    expect(abar.length).toBe(1000);
    for (const t of [0, 1, 20, 500, 981, 999]) expect(rel(abar[t]!, abarScaledLinear(t))).toBeLessThan(1e-12);
    expect(abar[0]).toBeCloseTo(1 - 0.00085, 15);
    // well-known SD values: abar_999 ~ 0.004660, sigma_max ~ 14.6146
    expect(abar[999]).toBeCloseTo(0.00466, 5);
  });

  it('linear betas', () => {
    const abar = alphasCumprod({ ...SD15, beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02 });
    let p = 1;
    for (let i = 0; i < 1000; i++) {
      p *= 1 - (0.0001 + (i * (0.02 - 0.0001)) / 999);
      if (i % 111 === 0) expect(rel(abar[i]!, p)).toBeLessThan(1e-12);
    }
  });

  it('squaredcos_cap_v2 telescopes to f(t+1)/f(0) while beta < 0.999', () => {
    const f = (x: number): number => Math.cos(((x + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    const abar = alphasCumprod({ ...SD15, beta_schedule: 'squaredcos_cap_v2' });
    for (const t of [0, 10, 300, 700, 950]) expect(rel(abar[t]!, f((t + 1) / 1000) / f(0))).toBeLessThan(1e-10);
  });

  it('trained_betas override the schedule', () => {
    const tb = Array.from({ length: 10 }, (_, i) => 0.01 * (i + 1));
    const abar = alphasCumprod({ ...SD15, num_train_timesteps: 10, trained_betas: tb });
    expect(abar[1]).toBeCloseTo(0.99 * 0.98, 15);
  });
});

describe('ddim', () => {
  it('SD 1.5, 50 steps: leading spacing + steps_offset 1 gives 981, 961, ..., 1', () => {
    const plan = ddim.plan(SD15, 50);
    expect(plan.timesteps).toEqual(Array.from({ length: 50 }, (_, i) => 981 - 20 * i));
    expect(plan.initNoiseSigma).toBe(1);
    expect(plan.modelInputScale.every((s) => s === 1)).toBe(true);
  });

  it('coefficients are sqrt(a_prev/a_t) and sqrt(1-a_prev) - sqrt(a_prev) sqrt(1-a_t)/sqrt(a_t)', () => {
    const plan = ddim.plan(SD15, 50);
    plan.timesteps.forEach((t, i) => {
      const prev = t - 20;
      const aT = abarScaledLinear(t);
      // set_alpha_to_one = false: the final step uses abar_0
      const aP = prev >= 0 ? abarScaledLinear(prev) : abarScaledLinear(0);
      const c = plan.coefficients[i]!;
      expect(rel(c.xCoef, Math.sqrt(aP / aT))).toBeLessThan(1e-12);
      expect(c.epsCoefs).toHaveLength(1);
      expect(rel(c.epsCoefs[0]!, Math.sqrt(1 - aP) - (Math.sqrt(aP) * Math.sqrt(1 - aT)) / Math.sqrt(aT))).toBeLessThan(1e-10);
      expect(c.noiseCoef).toBe(0);
    });
  });

  it('set_alpha_to_one makes the last step return the x0 prediction', () => {
    const plan = ddim.plan({ ...SD15, set_alpha_to_one: true }, 50);
    const last = plan.coefficients[49]!;
    const a1 = abarScaledLinear(1);
    expect(rel(last.xCoef, 1 / Math.sqrt(a1))).toBeLessThan(1e-12);
    expect(rel(last.epsCoefs[0]!, -Math.sqrt(1 - a1) / Math.sqrt(a1))).toBeLessThan(1e-12);
  });

  it('spacing variants: trailing, linspace, leading', () => {
    expect(ddim.plan({ ...SD15, timestep_spacing: 'trailing' }, 4).timesteps).toEqual([999, 749, 499, 249]);
    expect(ddim.plan({ ...SD15, timestep_spacing: 'trailing' }, 3).timesteps).toEqual([999, 666, 332]);
    expect(ddim.plan({ ...SD15, timestep_spacing: 'linspace' }, 4).timesteps).toEqual([999, 666, 333, 0]);
    expect(ddim.plan({ ...SD15, timestep_spacing: 'leading', steps_offset: 0 }, 4).timesteps).toEqual([750, 500, 250, 0]);
    // numpy rounds half to even: linspace(0, 999, 7) = 0, 166.5, 333, 499.5, 666, 832.5, 999
    expect(ddim.plan({ ...SD15, timestep_spacing: 'linspace' }, 7).timesteps).toEqual([999, 832, 666, 500, 333, 166, 0]);
  });

  it('with an exact noise oracle, every prediction type lands on x0', () => {
    const x0 = 0.7;
    for (const prediction_type of ['epsilon', 'v_prediction', 'sample'] as const) {
      const cfg = { ...SD15, set_alpha_to_one: true, prediction_type };
      const plan = ddim.plan(cfg, 10);
      const a0 = abarScaledLinear(plan.timesteps[0]!);
      const z = new Float32Array([1.3]);
      // choose eps so that z is exactly x_t0 = sqrt(a) x0 + sqrt(1-a) eps
      const eps = (z[0]! - Math.sqrt(a0) * x0) / Math.sqrt(1 - a0);
      const out = simulate(plan, {
        initialNoise: z,
        model: (_x, t) => {
          const a = abarScaledLinear(t);
          const m = prediction_type === 'epsilon' ? eps : prediction_type === 'sample' ? x0 : Math.sqrt(a) * eps - Math.sqrt(1 - a) * x0;
          return new Float32Array([m]);
        },
      });
      expect(out[0]).toBeCloseTo(x0, 5);
    }
  });
});

describe('euler', () => {
  it('SD 1.5, 50 steps: linspace timesteps, sigma_max = init_noise_sigma = 14.6146', () => {
    const plan = euler.plan(SD15, 50);
    const expected = Array.from({ length: 50 }, (_, i) => Math.fround(999 - (i * 999) / 49));
    expect(plan.timesteps).toEqual(expected);
    expect(plan.timesteps[1]).toBeCloseTo(978.6122, 3);
    expect(plan.initNoiseSigma).toBeCloseTo(14.6146, 4);
    expect(rel(plan.initNoiseSigma, sigmaAt(999))).toBeLessThan(1e-12);
  });

  it('scale_model_input is 1/sqrt(sigma^2+1) and the step is x + (sigma_next - sigma) eps', () => {
    const plan = euler.plan(SD15, 25);
    const sig = plan.timesteps.map(sigmaAt).concat([0]);
    plan.timesteps.forEach((_, i) => {
      expect(rel(plan.modelInputScale[i]!, 1 / Math.sqrt(sig[i]! ** 2 + 1))).toBeLessThan(1e-10);
      const c = plan.coefficients[i]!;
      expect(c.xCoef).toBe(1);
      expect(rel(c.epsCoefs[0]!, sig[i + 1]! - sig[i]!)).toBeLessThan(1e-10);
      expect(c.noiseCoef).toBe(0);
    });
  });

  it('leading spacing: init_noise_sigma = sqrt(sigma_max^2 + 1)', () => {
    const plan = euler.plan({ ...SD15, timestep_spacing: 'leading' }, 50);
    expect(plan.timesteps[0]).toBe(981);
    expect(rel(plan.initNoiseSigma, Math.sqrt(sigmaAt(981) ** 2 + 1))).toBeLessThan(1e-12);
  });

  it('the scaled model input is the variance-preserving latent, and v/eps oracles land on x0', () => {
    const x0 = -0.4;
    for (const prediction_type of ['epsilon', 'v_prediction', 'sample'] as const) {
      const plan = euler.plan({ ...SD15, prediction_type }, 12);
      const z = new Float32Array([0.9]);
      // the start latent sigma_max * z equals x0 + sigma_max * eps for this eps
      const epsTrue = (plan.initNoiseSigma * z[0]! - x0) / plan.initNoiseSigma;
      const out = simulate(plan, {
        initialNoise: z,
        model: (input, t) => {
          const s = sigmaAt(t);
          const a = 1 / (s * s + 1);
          // on the exact path the UNet sees sqrt(a) x0 + sqrt(1-a) eps
          expect(input[0]).toBeCloseTo(Math.sqrt(a) * x0 + Math.sqrt(1 - a) * epsTrue, 5);
          const m =
            prediction_type === 'epsilon' ? epsTrue : prediction_type === 'sample' ? x0 : Math.sqrt(a) * epsTrue - Math.sqrt(1 - a) * x0;
          return new Float32Array([m]);
        },
      });
      expect(out[0]).toBeCloseTo(x0, 5);
    }
  });

  it('karras sigmas follow the rho = 7 ramp and map back to their timesteps', () => {
    const steps = 10;
    const plan = euler.plan({ ...SD15, use_karras_sigmas: true } as DiffusersSchedulerConfig, steps);
    const sMax = sigmaAt(999);
    const sMin = sigmaAt(0);
    const ramp = (i: number): number => (sMax ** (1 / 7) + (i / (steps - 1)) * (sMin ** (1 / 7) - sMax ** (1 / 7))) ** 7;
    const sig = Array.from({ length: steps }, (_, i) => ramp(i)).concat([0]);
    plan.coefficients.forEach((c, i) => expect(rel(c.epsCoefs[0]!, sig[i + 1]! - sig[i]!)).toBeLessThan(1e-9));
    // timesteps: log-sigma interpolation, so exp(interp(log sigma)) at t_i gives sigma_i back
    plan.timesteps.forEach((t, i) => {
      const lo = Math.min(Math.floor(t), 998);
      const ls = (k: number): number => Math.log(Math.sqrt((1 - abarScaledLinear(k)) / abarScaledLinear(k)));
      const back = Math.exp(ls(lo) + (t - lo) * (ls(lo + 1) - ls(lo)));
      expect(rel(back, sig[i]!)).toBeLessThan(1e-4); // t is stored as float32
    });
  });
});

describe('lms', () => {
  it("uses Euler's schedule and input scaling; order grows 1, 2, 3, 4, 4", () => {
    const plan = lms.plan(SD15, 5);
    const e = euler.plan(SD15, 5);
    expect(plan.timesteps).toEqual(e.timesteps);
    expect(plan.timesteps).toEqual([999, 749.25, 499.5, 249.75, 0]);
    expect(plan.initNoiseSigma).toBeCloseTo(14.6146, 4);
    expect(plan.modelInputScale).toEqual(e.modelInputScale);
    expect(plan.coefficients.map((c) => c.epsCoefs.length)).toEqual([1, 2, 3, 4, 4]);
    expect(lms.plan(SD15, 50).initNoiseSigma).toBeCloseTo(14.6146, 4);
  });

  it('order 1 and 2 coefficients equal their closed-form integrals', () => {
    const plan = lms.plan(SD15, 5);
    const s = plan.timesteps.map(sigmaAt).concat([0]);
    expect(rel(plan.coefficients[0]!.epsCoefs[0]!, s[1]! - s[0]!)).toBeLessThan(1e-10);
    // order 2 at step 1: l0(tau) = (tau - s0)/(s1 - s0), l1(tau) = (tau - s1)/(s0 - s1)
    const [a, b, p] = [s[1]!, s[2]!, s[0]!];
    const c0 = ((b - p) ** 2 - (a - p) ** 2) / (2 * (a - p));
    const c1 = ((b - a) ** 2 - 0) / (2 * (p - a));
    expect(rel(plan.coefficients[1]!.epsCoefs[0]!, c0)).toBeLessThan(1e-9);
    expect(rel(plan.coefficients[1]!.epsCoefs[1]!, c1)).toBeLessThan(1e-9);
  });

  it('integrates cubic derivative histories exactly (order 4) and constants at every order', () => {
    const plan = lms.plan(SD15, 8);
    const s = plan.timesteps.map(sigmaAt).concat([0]);
    const P = (x: number): number => 0.3 - 0.2 * x + 0.05 * x * x - 0.002 * x ** 3;
    const intP = (x: number): number => 0.3 * x - 0.1 * x * x + (0.05 / 3) * x ** 3 - 0.0005 * x ** 4;
    plan.coefficients.forEach((c, i) => {
      const sum = c.epsCoefs.reduce((acc, v) => acc + v, 0);
      expect(rel(sum, s[i + 1]! - s[i]!)).toBeLessThan(1e-9); // Lagrange basis sums to 1
      if (c.epsCoefs.length === 4) {
        const lms4 = c.epsCoefs.reduce((acc, v, k) => acc + v * P(s[i - k]!), 0);
        expect(lms4).toBeCloseTo(intP(s[i + 1]!) - intP(s[i]!), 9);
      }
    });
  });

  it('reference inversion setting: 5-step LMS of an exact-eps oracle ends on x0', () => {
    const plan = lms.plan(SD15, 5);
    const z = new Float32Array([0.25, -1.5]);
    const x0 = [0.1, 0.2];
    const eps = [0, 1].map((j) => (plan.initNoiseSigma * z[j]! - x0[j]!) / plan.initNoiseSigma);
    const out = simulate(plan, { initialNoise: z, model: () => Float32Array.from(eps) });
    expect(out[0]).toBeCloseTo(0.1, 5);
    expect(out[1]).toBeCloseTo(0.2, 5);
  });

  it('refuses v-prediction models with a clear error', () => {
    expect(() => lms.plan({ ...SD15, prediction_type: 'v_prediction' }, 5)).toThrow(/epsilon-prediction/);
  });
});

describe('turbo', () => {
  it('SD-Turbo config, 1 step: t = 999, sigma_max, x0 = x - sigma_max eps', () => {
    const plan = turbo.plan(SD_TURBO, 1);
    expect(plan.name).toBe('turbo');
    expect(plan.timesteps).toEqual([999]);
    expect(rel(plan.initNoiseSigma, sigmaAt(999))).toBeLessThan(1e-12);
    expect(rel(plan.coefficients[0]!.epsCoefs[0]!, -sigmaAt(999))).toBeLessThan(1e-12);
    expect(rel(plan.modelInputScale[0]!, Math.sqrt(abarScaledLinear(999)))).toBeLessThan(1e-10);
  });

  it('forces trailing spacing even for a leading-spacing config', () => {
    expect(turbo.plan(SD_TURBO, 4).timesteps).toEqual([999, 749, 499, 249]);
    expect(turbo.plan(SD15, 2).timesteps).toEqual([999, 499]);
    expect(turbo.plan(SD15, 2).initNoiseSigma).toBeCloseTo(14.6146, 4); // trailing: no +1
  });

  it('LCMScheduler configs: distillation timesteps and boundary-condition coefficients', () => {
    expect(turbo.plan(LCM, 1).timesteps).toEqual([999]);
    expect(turbo.plan(LCM, 2).timesteps).toEqual([999, 499]);
    expect(turbo.plan(LCM, 4).timesteps).toEqual([999, 759, 499, 259]);
    expect(turbo.plan(LCM, 8).timesteps).toEqual([999, 879, 759, 639, 499, 379, 259, 139]);
    const plan = turbo.plan(LCM, 4);
    expect(plan.initNoiseSigma).toBe(1);
    plan.timesteps.forEach((t, i) => {
      const a = abarScaledLinear(t);
      const cSkip = 0.25 / ((10 * t) ** 2 + 0.25);
      const cOut = (10 * t) / Math.sqrt((10 * t) ** 2 + 0.25);
      // denoised = c_out (x - sqrt(1-a) eps)/sqrt(a) + c_skip x
      const dx = cOut / Math.sqrt(a) + cSkip;
      const de = (-cOut * Math.sqrt(1 - a)) / Math.sqrt(a);
      const last = i === plan.steps - 1;
      const aPrev = last ? 1 : abarScaledLinear(plan.timesteps[i + 1]!);
      const c = plan.coefficients[i]!;
      expect(rel(c.xCoef, Math.sqrt(aPrev) * dx)).toBeLessThan(1e-10);
      expect(rel(c.epsCoefs[0]!, Math.sqrt(aPrev) * de)).toBeLessThan(1e-10);
      expect(c.noiseCoef).toBeCloseTo(last ? 0 : Math.sqrt(1 - aPrev), 12);
    });
    expect(() => turbo.plan(LCM, 51)).toThrow(/original_inference_steps/);
  });

  it('LCM multi-step runs are seeded: same seed same result, noise from the RNG streams', () => {
    const plan = turbo.plan(LCM, 4);
    const run = (seed: number): Float32Array =>
      simulate(plan, {
        initialNoise: new Float32Array([0.5, -0.5, 1, 0]),
        model: (x) => Float32Array.from(x, (v) => 0.5 * v),
        seed,
      });
    expect(Array.from(run(3))).toEqual(Array.from(run(3)));
    expect(Array.from(run(3))).not.toEqual(Array.from(run(4)));
    const calls: number[] = [];
    simulate(plan, {
      initialNoise: new Float32Array(4),
      model: (x) => new Float32Array(x.length),
      stepNoise: (i) => (calls.push(i), new Float32Array(4)),
    });
    expect(calls).toEqual([0, 1, 2]);
  });
});

describe('registry and validation', () => {
  it('getScheduler returns each factory and rejects unknown names', () => {
    for (const name of SCHEDULER_NAMES) expect(getScheduler(name).name).toBe(name);
    expect(getScheduler(' LMS ').name).toBe('lms');
    expect(() => getScheduler('pndm')).toThrow(/ddim, euler, lms, turbo/);
  });

  it('every plan has consistent lengths', () => {
    for (const name of SCHEDULER_NAMES)
      for (const steps of [1, 2, 5, 30]) {
        const plan: SamplingPlan = getScheduler(name).plan(SD15, steps);
        expect(plan.steps).toBe(steps);
        expect(plan.timesteps).toHaveLength(steps);
        expect(plan.modelInputScale).toHaveLength(steps);
        expect(plan.coefficients).toHaveLength(steps);
        for (const c of plan.coefficients) {
          expect(Number.isFinite(c.xCoef)).toBe(true);
          expect(c.epsCoefs.every(Number.isFinite)).toBe(true);
        }
      }
  });

  it('rejects bad step counts and non-linear options with engine errors', () => {
    expect(() => ddim.plan(SD15, 0)).toThrow(EngineError);
    expect(() => euler.plan(SD15, 1.5)).toThrow(/positive integer/);
    expect(() => lms.plan(SD15, 1001)).toThrow(/num_train_timesteps/);
    expect(() => ddim.plan({ ...SD15, clip_sample: true }, 10)).toThrow(/clip_sample/);
    expect(() => euler.plan({ ...SD15, thresholding: true } as DiffusersSchedulerConfig, 10)).toThrow(/thresholding/);
    expect(() => euler.plan({ ...SD15, interpolation_type: 'log_linear' } as DiffusersSchedulerConfig, 10)).toThrow(/interpolation_type/);
    expect(() => ddim.plan({ ...SD15, steps_offset: 1 }, 1000)).toThrow(/outside the training schedule/);
  });
});
