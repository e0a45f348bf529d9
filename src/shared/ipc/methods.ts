/**
 * Inversion methods (docs/evaluation.md): EDITOR and the baselines the paper compares it with. The
 * `invert` request takes one (`method`, default `editor`), the `eval` job several; `listMethods`
 * says, for a model set, which can run here and, for the others, what to install. The names are
 * the engine's (`METHOD_NAMES` in src/main/engine/inversion/methods/types.ts).
 */
import { z } from 'zod';
import { ModelSetRefSchema, TextSchema } from './common.js';

export const INVERSION_METHODS = ['editor', 'ph2p', 'pez', 'caption'] as const;
export const InversionMethodSchema = z.enum(INVERSION_METHODS);
export type InversionMethod = z.infer<typeof InversionMethodSchema>;

/** How the studio names each method. */
export const METHOD_LABELS: Record<InversionMethod, string> = {
  editor: 'EDITOR',
  ph2p: 'PH2P',
  pez: 'PEZ',
  caption: 'Caption only',
};

/**
 * What an inversion optimised: EDITOR's objectives, PH2P's noise prediction (`denoise`), PEZ's
 * CLIP text–image cosine (`clip-text`), nothing for the caption baseline (`none`).
 */
export const MethodObjectiveSchema = z.enum(['pixel', 'latent', 'denoise', 'clip-text', 'none']);
export type MethodObjective = z.infer<typeof MethodObjectiveSchema>;

export const MethodInfoSchema = z.strictObject({
  method: InversionMethodSchema,
  available: z.boolean(),
  /** Why it cannot run with this model set, and what to install (when not available). */
  reason: TextSchema.optional(),
});
export type MethodInfo = z.infer<typeof MethodInfoSchema>;

/** Which methods can run with a model set (default: settings.modelSet). Looks at files only; loads nothing. */
export const ListMethodsRequestSchema = z.strictObject({
  type: z.literal('listMethods'),
  modelSet: ModelSetRefSchema.optional(),
});
export const ListMethodsResultSchema = z.strictObject({
  modelSet: ModelSetRefSchema,
  /** One per method, in INVERSION_METHODS order. */
  methods: z.array(MethodInfoSchema).max(INVERSION_METHODS.length),
});
export type ListMethodsResult = z.infer<typeof ListMethodsResultSchema>;
