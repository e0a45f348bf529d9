/**
 * Scheduler contract shared by generation (pipeline), inversion (which backpropagates through
 * the sampler) and the tests.
 *
 * Every sampler we support (DDIM, Euler, LMS, Turbo/LCM single step, for epsilon-prediction
 * models) advances the latent by a step that is LINEAR in the current latent and the noise
 * predictions, plus optional fresh noise:
 *
 *   x_{i+1} = xCoef[i] * x_i + sum_k epsCoefs[i][k] * eps_{i-k} + noiseCoef[i] * z_i
 *
 * where eps_j is the (guided) UNet output of step j and z_i ~ N(0, I) from the seeded RNG.
 * Exposing the coefficients instead of an opaque `step()` lets the inversion engine chain
 * per-step VJPs exactly (gradients flow into earlier eps through LMS's history).
 */
export type SchedulerName = 'ddim' | 'euler' | 'lms' | 'turbo';

/** diffusers `scheduler_config.json` fields we honour (snake_case as in the file). */
export interface SchedulerConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: 'scaled_linear' | 'linear' | 'squaredcos_cap_v2';
  timestep_spacing?: 'leading' | 'trailing' | 'linspace';
  steps_offset?: number;
  prediction_type?: 'epsilon' | 'v_prediction' | 'sample';
  set_alpha_to_one?: boolean;
  clip_sample?: boolean;
}

export interface StepCoefficients {
  /** Multiplier of the current latent x_i. */
  xCoef: number;
  /** epsCoefs[k] multiplies eps_{i-k} (k = 0 is the current step's prediction). */
  epsCoefs: number[];
  /** Multiplier of fresh standard-normal noise (0 for deterministic samplers). */
  noiseCoef: number;
}

/** A fully planned sampling run: everything precomputed for `steps` steps. */
export interface SamplingPlan {
  name: SchedulerName;
  steps: number;
  /** Value fed to the UNet's `timestep` input at step i (diffusers' `timesteps[i]`). */
  timesteps: number[];
  /** The initial latent is `initNoiseSigma * z` with z ~ N(0, I). */
  initNoiseSigma: number;
  /** UNet input at step i is `modelInputScale[i] * x_i` (diffusers' `scale_model_input`). */
  modelInputScale: number[];
  /** Step update coefficients, one entry per step. */
  coefficients: StepCoefficients[];
}

export interface SchedulerFactory {
  name: SchedulerName;
  /** Plan `steps` steps under `config` (diffusers' `set_timesteps`). */
  plan(config: SchedulerConfig, steps: number): SamplingPlan;
}
