/**
 * Editing by prompt on the wire (docs/editing.md, "Studio"): the pieces of the `edit` job's
 * request (requests.ts), its result (jobs.ts) and of the record an edit keeps in the library
 * (library.ts). Leaf module: imports only the common blocks, so library.ts can use it.
 *
 * The edit's mask travels as a compact uint8 grid on the latent grid (one cell per 8×8 image
 * pixels, 0 outside / 1 inside), base64, never as floats at image size; PSNR values that are not
 * finite (identical region: ∞; empty region: undefined) are `null`.
 */
import { z } from 'zod';
import { ModelSetRefSchema, PromptSchema, SchedulerSchema, SeedSchema, TextSchema } from './common.js';
import { CLIP_CONTEXT_LENGTH } from './limits.js';

export const EDIT_MODES = ['regenerate', 'attention', 'blend'] as const;
/** How the edit is made: regenerate (same seed, nothing shared), attention (prompt-to-prompt), blend (attention + local blend). */
export const EditModeSchema = z.enum(EDIT_MODES);
export type EditMode = z.infer<typeof EditModeSchema>;
/** A mode, or `auto`: chosen from the word diff (removal/replacement → blend, insertion/reweight → attention). */
export const EditModeChoiceSchema = z.enum(['auto', ...EDIT_MODES]);
export type EditModeChoice = z.infer<typeof EditModeChoiceSchema>;

/** A fraction of the steps, or a threshold on a normalised map. */
export const FractionSchema = z.number().min(0).max(1);

/** Local blend settings a request may give. */
export const EditBlendSchema = z.strictObject({
  /** Mask threshold on the edited words' max-normalised attention map (default 0.3). */
  threshold: FractionSchema.optional(),
  /** Mask dilation in latent pixels (default: 1/16 of the latent's shorter side, at least 1). */
  dilate: z.number().int().min(0).max(64).optional(),
});
export type EditBlend = z.infer<typeof EditBlendSchema>;

/** One change the word diff found (punctuation-only changes are left out). */
export const EditChangeSchema = z.strictObject({
  kind: z.enum(['removal', 'insertion', 'replacement', 'reweight']),
  /** The words on each side as the encoder reads them (empty for an insertion's source / a removal's edit). */
  source: PromptSchema,
  edited: PromptSchema,
  /** A reweight's emphasis before and after. */
  weight: z.strictObject({ source: z.number(), edited: z.number() }).optional(),
});
export type EditChange = z.infer<typeof EditChangeSchema>;

/** The diff of the source and the edited prompt, as the engine read it. */
export const EditDiffSchema = z.strictObject({
  /** E.g. `removal of "and a blue ball"`. */
  summary: TextSchema,
  edits: z.array(EditChangeSchema).max(CLIP_CONTEXT_LENGTH * 2),
});
export type EditDiff = z.infer<typeof EditDiffSchema>;

/** PSNR in dB; null when infinite (no change) or undefined (empty region). */
const PsnrSchema = z.number().nullable();

export const RegionChangeSchema = z.strictObject({
  /** Pixels in the region. */
  pixels: z.number().int().min(0),
  /** Fraction of them with a channel off by more than `tolerance` levels. */
  changed: FractionSchema,
  psnr: PsnrSchema,
});
export type RegionChange = z.infer<typeof RegionChangeSchema>;

/** What the edit changed, against the source image as the artist has it, inside and outside the mask. */
export const EditReportSchema = z.strictObject({
  /** Fraction of the image inside the mask. */
  maskArea: FractionSchema,
  outside: RegionChangeSchema,
  inside: RegionChangeSchema,
  whole: RegionChangeSchema,
  /** 8-bit levels a channel may differ by and still count as unchanged. */
  tolerance: z.number().int().min(0).max(255),
});
export type EditReport = z.infer<typeof EditReportSchema>;

/** The source as the edit used it (a library generation, an inversion's answer, or an upload's parameters). */
export const EditSourceSummarySchema = z.strictObject({
  kind: z.enum(['generation', 'inversion', 'upload']),
  prompt: PromptSchema,
  negativePrompt: PromptSchema,
  seed: SeedSchema,
  steps: z.number().int().min(1).max(150),
  scheduler: SchedulerSchema,
  guidance: z.number().min(0).max(30),
  width: z.number().int().min(1),
  height: z.number().int().min(1),
  /** The model set the source was made with (and the edit ran on). */
  model: ModelSetRefSchema,
});
export type EditSourceSummary = z.infer<typeof EditSourceSummarySchema>;

/**
 * What an edit keeps in the library (library.ts adds `sourceFile`, the before image stored with
 * the edit): the source, the diff, the mode and its reason, the settings and the report.
 */
export const editRecordShape = {
  source: EditSourceSummarySchema,
  mode: EditModeSchema,
  requestedMode: EditModeChoiceSchema,
  modeReason: TextSchema,
  diff: EditDiffSchema,
  crossSteps: FractionSchema,
  selfSteps: FractionSchema,
  /** Blend mode's mask settings as used. */
  blend: z.strictObject({ threshold: FractionSchema, dilate: z.number().int().min(0).max(64) }).optional(),
  /** Negative guidance on the removed words was on. */
  suppress: z.boolean().optional(),
  report: EditReportSchema,
  /** Whether sampling the source again reproduced the source image (the report compares with the image given either way). */
  sourceReproduced: z.boolean().optional(),
};

/** Longest latent-grid side the contract accepts (an image side of 2048 px / 8). */
export const MAX_EDIT_MASK_SIDE = 256;

/** Characters of the base64 form of `n` bytes (with padding). */
const base64Chars = (n: number): number => 4 * Math.ceil(n / 3);

/** The edit's mask on the latent grid (what the blend kept from the source outside of). */
export const EditMaskSchema = z
  .strictObject({
    /** Grid size in cells (image size / 8). */
    width: z.number().int().min(1).max(MAX_EDIT_MASK_SIDE),
    height: z.number().int().min(1).max(MAX_EDIT_MASK_SIDE),
    /** width×height bytes, row-major, 0 = outside, 1 = inside; base64. */
    data: z
      .string()
      .max(base64Chars(MAX_EDIT_MASK_SIDE * MAX_EDIT_MASK_SIDE))
      .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64'),
    /** The words whose attention maps made it, per side. */
    words: z.strictObject({
      source: z.array(z.string().max(256)).max(CLIP_CONTEXT_LENGTH),
      edited: z.array(z.string().max(256)).max(CLIP_CONTEXT_LENGTH),
    }),
  })
  .superRefine((m, ctx) => {
    const want = base64Chars(m.width * m.height);
    if (m.data.length !== want)
      ctx.addIssue({
        code: 'custom',
        path: ['data'],
        message: `the mask has ${m.data.length} base64 characters; a ${m.width}x${m.height} grid needs ${want}`,
      });
  });
export type EditMask = z.infer<typeof EditMaskSchema>;
