/** Model sets and support models as the Models view lists them. */
import { z } from 'zod';
import { IdSchema, NameSchema, PathSchema, TextSchema } from './common.js';

export const ModelKindSchema = z.enum(['diffusion', 'captioner', 'clip', 'language-model', 'e2t', 'other']);
export const ModelInfoSchema = z.strictObject({
  /** Stable id: 'demo', 'sd15', 'sd15-fp16', 'sd-turbo', 'florence2-base', or `local-<hash>` for imports. */
  id: IdSchema,
  name: NameSchema,
  kind: ModelKindSchema,
  /** demo = generated locally; hub = downloadable by manifest; local = imported folder. */
  source: z.enum(['demo', 'hub', 'local']),
  installed: z.boolean(),
  /** Total size in bytes when known. */
  sizeBytes: z.number().int().min(0).optional(),
  /** Bytes already in the cache (a resumable partial download when < sizeBytes). */
  downloadedBytes: z.number().int().min(0).optional(),
  /** Folder on disk when installed. */
  path: PathSchema.optional(),
  description: TextSchema.optional(),
});
export type ModelInfo = z.infer<typeof ModelInfoSchema>;
