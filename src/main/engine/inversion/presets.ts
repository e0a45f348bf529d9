/**
 * Inversion settings and the two presets.
 *
 * `paper` is the EDITOR reference (docs/inversion.md, "The EDITOR reference"): pixel-space MSE after a 5-step LMS sampler with
 * guidance 7.5 from seed-0 noise, AdamW with the cyclic 0.05–0.1 schedule, 1000 iterations,
 * snapshots every 50.
 * `fast` is chosen from the planted-prompt benchmark (`npm run bench:invert`, table in
 * docs/inversion.md): 100 iterations of the `latent` objective, which skips the decoder's
 * backward pass and cut its loss as much as `pixel` did (both ~30x on average in 100 iterations) at
 * 10-30% less time per iteration; `denoise` is ~10x cheaper still but drives c far from the
 * prompt manifold (distance to T(P*) x10). On the demo set no objective recovered the planted
 * prompts yet (F1 unchanged), so the choice rests on cost for the same loss reduction.
 */
import { z } from 'zod';

export const objectiveSchema = z.enum(['pixel', 'latent', 'denoise']);
export type ObjectiveName = z.infer<typeof objectiveSchema>;

export const invertSettingsSchema = z.object({
  objective: objectiveSchema,
  iterations: z.number().int().min(1).max(100_000),
  /** Sampler steps K the objective differentiates through (pixel/latent). */
  steps: z.number().int().min(1).max(100),
  scheduler: z.enum(['ddim', 'euler', 'lms', 'turbo']),
  guidance: z.number().min(1).max(30),
  seed: z.number().int().min(0),
  optimiser: z.enum(['adamw', 'sgd']),
  lrBase: z.number().positive(),
  lrMax: z.number().positive(),
  lrStepsUp: z.number().int().positive(),
  lrStepsDown: z.number().int().positive(),
  snapshotEvery: z.number().int().positive(),
  /** Also optimise the padding positions after EOS (the reference does not). */
  includePadding: z.boolean(),
  /** Render a preview every this many iterations (0 = never). */
  previewEvery: z.number().int().min(0),
  /** Sampler steps when regenerating candidates for ranking. */
  rankSteps: z.number().int().min(1).max(200),
  /**
   * Runner-up texts of the best snapshot's decoding (the decoder's n-best list) that are
   * regenerated and ranked too. The reference ranks one text per snapshot (0).
   */
  rankAlternatives: z.number().int().min(0).max(16),
  /** E2T beam width and max edit rounds per candidate. */
  e2tBeam: z.number().int().min(1).max(32),
  e2tRounds: z.number().int().min(0).max(500),
  /**
   * Weight of the E2T fluency term (mean GPT-2 token NLL, nats, added to the embedding
   * distance). Only used when a language model is given; unset = DEFAULT_LM_FLUENCY_WEIGHT then.
   */
  fluencyWeight: z.number().min(0).max(100).optional(),
});
export type InvertSettings = z.infer<typeof invertSettingsSchema>;

/**
 * Fluency weight when a language model is given and the settings leave it unset: small enough
 * that it never outweighs a one-word change of the text on the demo encoder (smallest such
 * distance 0.09 with prompt matching, i.e. ~9 nats of mean NLL), large enough to decide between
 * texts whose distances differ by ~0.01-0.02 (docs/inversion.md, "Language model").
 */
export const DEFAULT_LM_FLUENCY_WEIGHT = 0.01;

const PAPER = {
  objective: 'pixel',
  iterations: 1000,
  steps: 5,
  scheduler: 'lms',
  guidance: 7.5,
  seed: 0,
  optimiser: 'adamw',
  lrBase: 0.05,
  lrMax: 0.1,
  lrStepsUp: 50,
  lrStepsDown: 50,
  snapshotEvery: 50,
  includePadding: false,
  previewEvery: 50,
  rankSteps: 50,
  rankAlternatives: 0,
  e2tBeam: 4,
  e2tRounds: 30,
} as const satisfies InvertSettings;

export const PRESETS = {
  paper: PAPER,
  // fast differs from paper only where the benchmark says so (see the file comment).
  fast: {
    ...PAPER,
    objective: 'latent',
    iterations: 100,
    snapshotEvery: 25,
    previewEvery: 10,
    rankSteps: 5,
    rankAlternatives: 3,
    e2tRounds: 20,
  },
} as const satisfies Record<string, InvertSettings>;

export type PresetName = keyof typeof PRESETS;

export function presetSettings(name: PresetName, overrides: Partial<InvertSettings> = {}): InvertSettings {
  return invertSettingsSchema.parse({ ...PRESETS[name], ...overrides });
}
