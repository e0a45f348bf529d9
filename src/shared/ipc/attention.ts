/**
 * Cross-attention maps on the wire (docs/segmentation.md, "For the studio"): per word a small uint8
 * grid of its normalised heat map, base64 in JSON, never float arrays of the full image. The
 * overlay upsamples the grids itself, thresholds them with its own slider and ranks the words per
 * pixel; full-resolution masks are written only on export (`exportSegmentation`).
 *
 * `AttentionMapPayloadSchema` is the engine's `AttentionMapPayload`
 * (src/main/engine/attention/payload.ts); `AttentionMapsSchema` adds what the studio needs around
 * it: the id to export by, the prompt and where the maps came from.
 */
import { z } from 'zod';
import { IdSchema, PromptSchema } from './common.js';
import { CLIP_CONTEXT_LENGTH } from './limits.js';

/** Longest grid side the contract accepts, cells (the engine sends 64 by default). */
export const MAX_ATTENTION_GRID_SIDE = 1024;
/** Words per payload: at most one per prompt token CLIP reads (75). */
export const MAX_ATTENTION_WORDS = CLIP_CONTEXT_LENGTH - 2;
/** Largest image side the maps may describe, pixels. */
export const MAX_ATTENTION_IMAGE_SIDE = 16384;

/** Characters of the base64 form of `n` bytes (with padding). */
export function base64Length(n: number): number {
  return 4 * Math.ceil(n / 3);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const side = (max: number) => z.number().int().min(1).max(max);

export const AttentionWordSchema = z.strictObject({
  word: z.string().min(1).max(256),
  /** The word's CLIP tokens (BPE pieces). */
  tokens: z.array(z.string().max(256)).max(CLIP_CONTEXT_LENGTH),
  /** Mask area at the payload's threshold, fraction of the image. */
  area: z.number().min(0).max(1),
  /** width×height bytes, row-major, 0–255 = normalised heat 0–1; base64. */
  grid: z
    .string()
    .max(base64Length(MAX_ATTENTION_GRID_SIDE * MAX_ATTENTION_GRID_SIDE))
    .regex(BASE64, 'expected base64'),
});
export type AttentionWord = z.infer<typeof AttentionWordSchema>;

const payloadShape = {
  /** Grid size in cells (the image's aspect ratio). */
  width: side(MAX_ATTENTION_GRID_SIDE),
  height: side(MAX_ATTENTION_GRID_SIDE),
  /** Size of the image the grids cover, pixels. */
  imageWidth: side(MAX_ATTENTION_IMAGE_SIDE),
  imageHeight: side(MAX_ATTENTION_IMAGE_SIDE),
  /** The threshold the engine's masks used (the overlay's slider default). */
  threshold: z.number().min(0).max(1),
  words: z.array(AttentionWordSchema).max(MAX_ATTENTION_WORDS),
};

/** Every grid must hold exactly width×height bytes. */
function checkGrids(p: { width: number; height: number; words: AttentionWord[] }, ctx: z.RefinementCtx): void {
  const want = base64Length(p.width * p.height);
  p.words.forEach((w, k) => {
    if (w.grid.length !== want)
      ctx.addIssue({
        code: 'custom',
        path: ['words', k, 'grid'],
        message: `grid of "${w.word.slice(0, 40)}" has ${w.grid.length} base64 characters; a ${p.width}x${p.height} grid needs ${want}`,
      });
  });
}

export const AttentionMapPayloadSchema = z.strictObject(payloadShape).superRefine(checkGrids);
export type AttentionMapPayload = z.infer<typeof AttentionMapPayloadSchema>;

/** Where the maps came from: captured while the image was (re)generated, or by noising the image. */
export const AttentionSourceSchema = z.enum(['generation', 'noising']);

/** A payload as a job result carries it. */
export const AttentionMapsSchema = z
  .strictObject({
    ...payloadShape,
    /** Id to export the full-resolution masks by (kept by the engine for a while; see exportSegmentation). */
    id: IdSchema,
    /** The prompt the maps were computed with. */
    prompt: PromptSchema,
    source: AttentionSourceSchema,
  })
  .superRefine(checkGrids);
export type AttentionMaps = z.infer<typeof AttentionMapsSchema>;
