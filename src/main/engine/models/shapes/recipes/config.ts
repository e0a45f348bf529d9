/**
 * Training configurations of the shapes set: `full` (what `npm run train:shapes` runs and what is
 * committed under models/shapes/, budgeted to <= 2 hours on the 2-core development machine),
 * `quick` (the same networks, a fraction of the steps: a check that every phase learns), and
 * `tiny` (toy networks, a few steps: tests and plumbing).
 */
import { FULL_ARCHITECTURE, TINY_ARCHITECTURE, type ShapesArchitecture } from '../architecture.js';

export interface ShapesTrainConfig {
  name: 'full' | 'quick' | 'tiny';
  arch: ShapesArchitecture;
  /** Seed of every phase (each phase derives its own streams from it). */
  seed: number;
  clip: { steps: number; batch: number; lr: number; warmup: number; textLength: number };
  vae: { steps: number; batch: number; lr: number; warmup: number; klWeight: number; l1Weight: number; objectWeight: number };
  captioner: { steps: number; batch: number; lr: number; warmup: number; roundTripFraction: number };
  unet: {
    steps: number;
    batch: number;
    lr: number;
    warmup: number;
    emaDecay: number;
    /** Fraction of training captions replaced by the empty prompt (classifier-free guidance). */
    cfgDropout: number;
    /** Rendered and encoded training images kept as latents. */
    poolSize: number;
    /** min-SNR loss weighting gamma (0: plain MSE). */
    minSnrGamma: number;
  };
  /** Held-out prompts generated after training to choose the defaults and report fidelity. */
  eval: { prompts: number; guidances: number[]; steps: number[]; captionerScenes: number };
}

export const FULL_TRAIN_CONFIG: ShapesTrainConfig = {
  name: 'full',
  arch: FULL_ARCHITECTURE,
  seed: 20261204,
  clip: { steps: 700, batch: 64, lr: 1e-3, warmup: 100, textLength: 24 },
  vae: { steps: 2000, batch: 16, lr: 1e-3, warmup: 100, klWeight: 1e-4, l1Weight: 1, objectWeight: 8 },
  captioner: { steps: 600, batch: 64, lr: 1e-3, warmup: 50, roundTripFraction: 0.5 },
  unet: { steps: 5000, batch: 64, lr: 5e-4, warmup: 250, emaDecay: 0.999, cfgDropout: 0.1, poolSize: 40000, minSnrGamma: 5 },
  eval: { prompts: 64, guidances: [3, 5, 7.5], steps: [20], captionerScenes: 500 },
};

export const QUICK_TRAIN_CONFIG: ShapesTrainConfig = {
  ...FULL_TRAIN_CONFIG,
  name: 'quick',
  clip: { ...FULL_TRAIN_CONFIG.clip, steps: 200 },
  vae: { ...FULL_TRAIN_CONFIG.vae, steps: 400 },
  captioner: { ...FULL_TRAIN_CONFIG.captioner, steps: 150 },
  unet: { ...FULL_TRAIN_CONFIG.unet, steps: 600, poolSize: 6000, warmup: 100 },
  eval: { prompts: 16, guidances: [5], steps: [20], captionerScenes: 256 },
};

export const TINY_TRAIN_CONFIG: ShapesTrainConfig = {
  name: 'tiny',
  arch: TINY_ARCHITECTURE,
  seed: 7,
  clip: { steps: 6, batch: 8, lr: 1e-3, warmup: 2, textLength: 24 },
  vae: { steps: 6, batch: 4, lr: 1e-3, warmup: 2, klWeight: 1e-4, l1Weight: 0.5, objectWeight: 8 },
  captioner: { steps: 6, batch: 8, lr: 1e-3, warmup: 2, roundTripFraction: 0.5 },
  unet: { steps: 6, batch: 8, lr: 5e-4, warmup: 2, emaDecay: 0.99, cfgDropout: 0.1, poolSize: 32, minSnrGamma: 5 },
  eval: { prompts: 2, guidances: [5], steps: [4], captionerScenes: 8 },
};

export function trainConfig(name: string): ShapesTrainConfig {
  if (name === 'full') return FULL_TRAIN_CONFIG;
  if (name === 'quick') return QUICK_TRAIN_CONFIG;
  if (name === 'tiny') return TINY_TRAIN_CONFIG;
  throw new Error(`unknown training configuration '${name}' (full, quick, tiny)`);
}
