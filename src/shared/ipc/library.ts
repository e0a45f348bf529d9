/**
 * Library: every generation and inversion, persisted as PNGs (with embedded parameters) plus an
 * `index.json`. Clients show images through `StudioApi.imageUrl(item.file)`.
 */
import { z } from 'zod';
import {
  IdSchema,
  ImageSideSchema,
  NameSchema,
  PromptSchema,
  SchedulerSchema,
  SeedSchema,
  TimestampSchema,
  InversionPresetSchema,
  ModelSetRefSchema,
} from './common.js';
import { MAX_CANDIDATES, MAX_ITERATIONS, MAX_LIST_ITEMS } from './limits.js';
import { editRecordShape } from './edit.js';
import { ItemFusionSchema } from './fusion-record.js';
import { InversionMethodSchema, MethodObjectiveSchema } from './methods.js';

/** A library file name: `<id>.png` style, no directories (the library folder is flat). */
export const LibraryFileSchema = z
  .string()
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\.(png|jpg|jpeg|webp)$/, 'expected a plain library file name');

/** Parameters of one generation; embedded in its PNG (A1111 `parameters` chunk + our JSON chunk). */
export const GenerationParamsSchema = z.strictObject({
  prompt: PromptSchema,
  negativePrompt: PromptSchema,
  seed: SeedSchema,
  steps: z.number().int().min(1).max(150),
  scheduler: SchedulerSchema,
  guidance: z.number().min(0).max(30),
  width: ImageSideSchema,
  height: ImageSideSchema,
  /** Model set used (name or folder). */
  model: ModelSetRefSchema,
});
export type GenerationParams = z.infer<typeof GenerationParamsSchema>;

export const CandidateSchema = z.strictObject({
  prompt: PromptSchema,
  /** Higher is better (CLIP image similarity where installed, otherwise negative loss). */
  score: z.number(),
  /** Iteration at which this candidate's embedding was snapshotted. */
  iteration: z.number().int().min(0).optional(),
  /** Regenerated image of this candidate in the library, if one was kept. */
  file: LibraryFileSchema.optional(),
});
export type Candidate = z.infer<typeof CandidateSchema>;

/** Everything an inversion produced. */
export const InversionRecordSchema = z.strictObject({
  prompt: PromptSchema,
  initialPrompt: PromptSchema,
  candidates: z.array(CandidateSchema).max(MAX_CANDIDATES),
  /** One loss value per iteration. */
  loss: z.array(z.number()).max(MAX_ITERATIONS),
  iterations: z.number().int().min(0),
  seconds: z.number().min(0),
  preset: InversionPresetSchema,
  /** EDITOR's objective, or a baseline's (PH2P `denoise`, PEZ `clip-text`, caption `none`). */
  objective: MethodObjectiveSchema,
  /** The method (absent: EDITOR). */
  method: InversionMethodSchema.optional(),
  model: ModelSetRefSchema,
  /** The target image (copied into the library). */
  targetFile: LibraryFileSchema,
  /** True when the job was cancelled and this is its best result so far. */
  partial: z.boolean(),
});
export type InversionRecord = z.infer<typeof InversionRecordSchema>;

const ItemBase = {
  id: IdSchema,
  createdAt: TimestampSchema,
  /** The image shown for this item (generation output; inversion: the best candidate's regeneration or the target). */
  file: LibraryFileSchema,
  width: z.number().int().min(1),
  height: z.number().int().min(1),
  /** Optional user-facing title (e.g. the dropped file's name). */
  title: NameSchema.optional(),
};

/**
 * How an edit was made from its source (docs/editing.md, "Studio"); `sourceFile` is the source
 * image as it was edited, stored with the edit (so deleting the source keeps the before image).
 */
export const ItemEditSchema = z.strictObject({ ...editRecordShape, sourceFile: LibraryFileSchema });
export type ItemEdit = z.infer<typeof ItemEditSchema>;

export const LibraryItemSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('generation'),
    ...ItemBase,
    params: GenerationParamsSchema,
    /** An edit: the library item it was made from (absent for an edit of an uploaded image). */
    editOf: IdSchema.optional(),
    /** An edit: its source, diff, mode and report (`params` are the edited prompt with the source's settings). */
    edit: ItemEditSchema.optional(),
    /** A fusion of two or more parents (docs/fusion-evolution.md): mode, weights, parents, decoded text; `params` hold its render settings. */
    fusion: ItemFusionSchema.optional(),
  }),
  z.strictObject({ kind: z.literal('inversion'), ...ItemBase, inversion: InversionRecordSchema }),
]);
export type LibraryItem = z.infer<typeof LibraryItemSchema>;
export type LibraryItemKind = LibraryItem['kind'];

/** `index.json` on disk: newest first. */
export const LibraryIndexSchema = z.strictObject({
  version: z.literal(1),
  items: z.array(LibraryItemSchema).max(MAX_LIST_ITEMS * 10),
});
export type LibraryIndex = z.infer<typeof LibraryIndexSchema>;
