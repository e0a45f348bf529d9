/**
 * Cross-concept fusion on the wire (docs/fusion-evolution.md, "Studio"): the modes, the regions
 * and the record a fused image keeps in the library (`LibraryItem.fusion`). Leaf module: imports
 * only the common blocks, so library.ts can use it; the `fuse` request and result are in fusion.ts.
 */
import { z } from 'zod';
import { IdSchema, NameSchema, PromptSchema } from './common.js';
import { CLIP_CONTEXT_LENGTH, MAX_FUSE_GRID_COLUMNS, MAX_FUSE_PARENTS, MAX_FUSE_WEIGHT } from './limits.js';

export const FUSE_MODES = ['concat', 'blend', 'compose', 'alternate', 'regions'] as const;
/**
 * concat: "A and B" fitted to the token window; blend: the embeddings interpolated and decoded to
 * text; compose: A1111 `AND` (noise predictions combined); alternate: `[a|b]` per sampler step;
 * regions: each parent steers its region.
 */
export const FuseModeSchema = z.enum(FUSE_MODES);
export type FuseMode = z.infer<typeof FuseModeSchema>;

export const FUSE_REGIONS = ['left', 'right', 'top', 'bottom', 'full', 'attention'] as const;
/** Where a parent steers in `regions` mode: a half of the canvas, all of it, or its own attention mask. */
export const FuseRegionSchema = z.enum(FUSE_REGIONS);
export type FuseRegion = z.infer<typeof FuseRegionSchema>;

/** One parent's weight (concat: emphasis; blend: interpolation share; compose: AND weight; alternate: share of steps; regions: mask scale). */
export const FuseWeightSchema = z.number().min(0).max(MAX_FUSE_WEIGHT);
export const FuseWeightsSchema = z.array(FuseWeightSchema).min(2).max(MAX_FUSE_PARENTS);

/** A parent as the fusion read it: its text, and where the text came from. */
export const FusedParentSchema = z.strictObject({
  /** "A", "B", … or the library item's title. */
  label: NameSchema,
  prompt: PromptSchema,
  /** prompt: typed; recorded: the library image's own prompt; inverted: EDITOR read the image. */
  source: z.enum(['prompt', 'recorded', 'inverted', 'embedding']),
  /** The library item the parent is (absent for a typed prompt). */
  item: IdSchema.optional(),
});
export type FusedParent = z.infer<typeof FusedParentSchema>;

/** blend: the fused embedding decoded back to text, its embedding distance, and the decoder. */
export const FuseDecodedSchema = z.strictObject({
  text: PromptSchema,
  distance: z.number(),
  decoder: z.enum(['vec2text', 'search']),
});
export type FuseDecoded = z.infer<typeof FuseDecodedSchema>;

/** A word concat dropped to fit the token window, with its share of its parent's attention mass. */
export const FuseDroppedWordSchema = z.strictObject({
  parent: z.number().int().min(0).max(MAX_FUSE_PARENTS),
  word: z.string().max(256),
  mass: z.number(),
});

/** One cell of a grid: its mode and weights, the text shown with it, the decoded text for blend. */
export const FuseGridCellSchema = z.strictObject({
  mode: FuseModeSchema,
  weights: FuseWeightsSchema,
  prompt: PromptSchema,
  decoded: FuseDecodedSchema.optional(),
});
export type FuseGridCell = z.infer<typeof FuseGridCellSchema>;

/** The record of a fused image in the library (`LibraryItem.fusion`; the item's `params` hold its render settings). */
export const ItemFusionSchema = z.strictObject({
  /** The mode, or `grid`: the image tiles modes (rows) × weight sets (columns). */
  mode: z.enum([...FUSE_MODES, 'grid']),
  /** The weights as applied (normalised for blend; as given for compose); absent for a grid. */
  weights: z.array(z.number()).max(MAX_FUSE_PARENTS).optional(),
  parents: z.array(FusedParentSchema).min(2).max(MAX_FUSE_PARENTS),
  /** The text shown with the image: the joined prompt, the decoded blend, `A AND B`, `[A|B]`. */
  prompt: PromptSchema,
  decoded: FuseDecodedSchema.optional(),
  interpolation: z.enum(['slerp', 'lerp']).optional(),
  /** concat: words the token budget dropped. */
  dropped: z
    .array(FuseDroppedWordSchema)
    .max(4 * CLIP_CONTEXT_LENGTH)
    .optional(),
  /** regions: each parent's region and the share of the canvas it steers. */
  regions: z
    .array(z.strictObject({ parent: z.number().int().min(0), region: z.string().max(32), share: z.number() }))
    .max(MAX_FUSE_PARENTS)
    .optional(),
  /** A grid's rows and columns, and every cell (cells[row][column]). */
  grid: z
    .strictObject({
      modes: z.array(FuseModeSchema).min(1).max(FUSE_MODES.length),
      weightSets: z.array(FuseWeightsSchema).min(1).max(MAX_FUSE_GRID_COLUMNS),
      cells: z.array(z.array(FuseGridCellSchema).max(MAX_FUSE_GRID_COLUMNS)).max(FUSE_MODES.length),
      /** Pixels between cells in the tiled image. */
      gap: z.number().int().min(0).max(64),
    })
    .optional(),
});
export type ItemFusion = z.infer<typeof ItemFusionSchema>;
