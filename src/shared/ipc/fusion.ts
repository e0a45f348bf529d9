/**
 * The `fuse` job (docs/fusion-evolution.md, "Studio"): two or more parents — library images
 * (fused by their recorded prompt, or inverted on the fly) or typed prompts — fused in one mode,
 * or a grid of modes × weight sets. The fused image is saved in the library as a generation with a
 * `fusion` record naming its parents (fusion-record.ts).
 */
import { z } from 'zod';
import { IdSchema, ImageSideSchema, ModelSetRefSchema, PromptSchema, SchedulerSchema, SeedSchema, TextSchema } from './common.js';
import { FUSE_MODES, FuseModeSchema, FuseRegionSchema, FuseWeightsSchema } from './fusion-record.js';
import { LibraryFileSchema, LibraryItemSchema } from './library.js';
import { CLIP_CONTEXT_LENGTH, MAX_FUSE_GRID_COLUMNS, MAX_FUSE_PARENTS } from './limits.js';

const unique = <T>(xs: readonly T[]): boolean => new Set(xs).size === xs.length;

/** A parent: a typed prompt, or a library image (its own image, or with `file` another of its images). */
export const FuseParentSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('prompt'),
    text: PromptSchema.refine((t) => t.trim() !== '', 'a prompt parent is empty'),
  }),
  z.strictObject({
    kind: z.literal('library'),
    id: IdSchema,
    file: LibraryFileSchema.optional(),
    /** Invert the image even when it records the prompt it was made from. */
    reinvert: z.boolean().optional(),
  }),
]);
export type FuseParent = z.infer<typeof FuseParentSchema>;

/** A grid: every mode of `modes` (rows, default all five) × every weight set (columns, default 3:1, 1:1, 1:3 for two parents). */
export const FuseGridSchema = z.strictObject({
  modes: z.array(FuseModeSchema).min(1).max(FUSE_MODES.length).refine(unique, 'a mode is listed twice').optional(),
  weightSets: z.array(FuseWeightsSchema).min(1).max(MAX_FUSE_GRID_COLUMNS).optional(),
});
export type FuseGrid = z.infer<typeof FuseGridSchema>;

/** Fields left out take the model set's defaults (seed: 0; model set: settings.modelSet). */
export const FuseRequestSchema = z
  .strictObject({
    type: z.literal('fuse'),
    parents: z.array(FuseParentSchema).min(2, 'a fusion needs at least two parents (library images or prompts)').max(MAX_FUSE_PARENTS),
    /** The mode (required unless `grid` is given). */
    mode: FuseModeSchema.optional(),
    /** One per parent (default equal). */
    weights: FuseWeightsSchema.optional(),
    /** Render modes × weight sets into one tiled image instead of one mode. */
    grid: FuseGridSchema.optional(),
    seed: SeedSchema.optional(),
    steps: z.number().int().min(1).max(150).optional(),
    scheduler: SchedulerSchema.optional(),
    guidance: z.number().min(0).max(30).optional(),
    width: ImageSideSchema.optional(),
    height: ImageSideSchema.optional(),
    negativePrompt: PromptSchema.optional(),
    modelSet: ModelSetRefSchema.optional(),
    /** concat: the joining word (default "and"). */
    connective: z.string().min(1).max(32).optional(),
    /** concat: words the token budget must not drop. */
    keepWords: z.array(z.string().min(1).max(64)).max(CLIP_CONTEXT_LENGTH).optional(),
    /** blend: slerp (default) or lerp. */
    interpolation: z.enum(['slerp', 'lerp']).optional(),
    /** regions: one per parent (default: vertical strips in parent order). */
    regions: z.array(FuseRegionSchema).max(MAX_FUSE_PARENTS).optional(),
  })
  .refine((r) => r.mode !== undefined || r.grid !== undefined, { message: 'choose a fusion mode (or a grid)', path: ['mode'] })
  .refine((r) => !r.weights || r.weights.length === r.parents.length, {
    message: 'give one weight per parent',
    path: ['weights'],
  })
  .refine((r) => !r.regions || r.regions.length === r.parents.length, {
    message: 'give one region per parent',
    path: ['regions'],
  })
  .refine((r) => !r.grid?.weightSets || r.grid.weightSets.every((w) => w.length === r.parents.length), {
    message: 'every weight set of the grid needs one weight per parent',
    path: ['grid', 'weightSets'],
  });
export type FuseRequest = z.infer<typeof FuseRequestSchema>;

/** The fused image as saved: the library item (its `fusion` record says mode, weights, parents, decoded text). */
export const FuseResultSchema = z.strictObject({
  kind: z.literal('fuse'),
  item: LibraryItemSchema,
  seconds: z.number().min(0),
  /** E.g. "the token budget dropped 3 words", "parent A was inverted: it carries no prompt". */
  warnings: z.array(TextSchema).max(32),
});
export type FuseResult = z.infer<typeof FuseResultSchema>;
