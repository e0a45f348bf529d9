/**
 * Jobs: long operations (generate, invert, segment, edit, model download/import) run one at a time in the engine
 * process. A job request is answered at once with `{ jobId }`; everything after that arrives as
 * job events (see events.ts), in this order:
 *   job.queued -> job.started -> job.progress* -> (job.result | job.failed | job.cancelled)
 */
import { z } from 'zod';
import { AttentionMapsSchema, AttentionSourceSchema } from './attention.js';
import { ErrorInfoSchema, IdSchema, PreviewDataUrlSchema, PromptSchema, TextSchema } from './common.js';
import { EditDiffSchema, EditMaskSchema, EditModeSchema, EditReportSchema } from './edit.js';
import { EvalProgressInfoSchema, EvalResultSchema } from './eval.js';
import { EvolutionJobResultSchema } from './evolution.js';
import { FuseResultSchema } from './fusion.js';
import { InversionMethodSchema } from './methods.js';
import { CandidateSchema, LibraryFileSchema, LibraryItemSchema } from './library.js';
import { MAX_CANDIDATES, MAX_ITERATIONS } from './limits.js';
import { ModelInfoSchema } from './models.js';

/**
 * Request types that start a job (each also a request in requests.ts, answered with `{ jobId }`,
 * with a result schema in JobResultSchema below). A new kind: add it here, its request and
 * result schemas, and its job module in src/main/host/jobs/.
 */
export const JOB_KINDS = [
  'generate',
  'invert',
  'segment',
  'edit',
  'eval',
  'fuse',
  'createEvolution',
  'breedEvolution',
  'reinvertEvolution',
  'downloadModel',
  'importModel',
] as const;
export const JobKindSchema = z.enum(JOB_KINDS);
export type JobKind = z.infer<typeof JobKindSchema>;

/**
 * Phases the engine reports. Free text on the wire (engines may add phases); these are the known ones:
 * generate: loading, encoding, denoising, decoding, saving;
 * invert: loading, captioning, encoding, refining, decoding, ranking, saving;
 * segment: loading, encoding, denoising (a generation sampled again), attending (the noising path), segmenting;
 * edit: loading, encoding, denoising (source and edit side by side), decoding, saving;
 * eval: loading, evaluating (the unit at work in `evaluation`), saving; invert with a baseline method also regenerating;
 * fuse: loading, inverting (image parents without a prompt), attending (concat's token budget, attention regions), denoising, decoding (blend's text);
 * evolution: loading, inverting, breeding, rendering, scoring, saving;
 * downloads: downloading, verifying; import: importing.
 */
export const KNOWN_PHASES = [
  'loading',
  'encoding',
  'denoising',
  'decoding',
  'saving',
  'captioning',
  'refining',
  'ranking',
  'attending',
  'segmenting',
  'evaluating',
  'regenerating',
  'inverting',
  'breeding',
  'rendering',
  'scoring',
  'downloading',
  'verifying',
  'importing',
] as const;
export type KnownPhase = (typeof KNOWN_PHASES)[number];

export const JobProgressSchema = z.strictObject({
  phase: z.string().min(1).max(64),
  /** Steps done in this phase (0..total). */
  step: z.number().int().min(0),
  total: z.number().int().min(0),
  /** Inversion: objective value at this iteration. */
  loss: z.number().optional(),
  /** Inversion: learning rate at this iteration. */
  lr: z.number().optional(),
  /** Estimated seconds until the job finishes. */
  etaSeconds: z.number().min(0).optional(),
  /** Current decoded image (inversion preview, generation intermediate) as a PNG data URL. */
  previewPng: PreviewDataUrlSchema.optional(),
  /** Downloads: bytes done / total, and rate in bytes per second. */
  bytes: z.number().int().min(0).optional(),
  totalBytes: z.number().int().min(0).optional(),
  bytesPerSecond: z.number().min(0).optional(),
  message: TextSchema.optional(),
  /** Evaluations: units done of all, the item, method and seed at work. */
  evaluation: EvalProgressInfoSchema.optional(),
});
export type JobProgress = z.infer<typeof JobProgressSchema>;

export const GenerateResultSchema = z.strictObject({
  kind: z.literal('generate'),
  /** The saved image (library item of kind 'generation'). */
  item: LibraryItemSchema,
  seconds: z.number().min(0),
  /** E.g. "prompt truncated to 77 tokens; dropped: ...". */
  warnings: z.array(TextSchema).max(32),
  /** Cross-attention maps of the prompt's words, captured during this generation (when asked: `attentionMaps`). */
  attention: AttentionMapsSchema.optional(),
});
export const InvertResultSchema = z.strictObject({
  kind: z.literal('invert'),
  /** The saved inversion (library item of kind 'inversion'). */
  item: LibraryItemSchema,
  prompt: PromptSchema,
  initialPrompt: PromptSchema,
  candidates: z.array(CandidateSchema).max(MAX_CANDIDATES),
  loss: z.array(z.number()).max(MAX_ITERATIONS),
  iterations: z.number().int().min(0),
  seconds: z.number().min(0),
  warnings: z.array(TextSchema).max(32),
  /** The method that answered (absent: EDITOR). */
  method: InversionMethodSchema.optional(),
});
/** Per-word cross-attention maps of one image (docs/segmentation.md). */
export const SegmentResultSchema = z.strictObject({
  kind: z.literal('segment'),
  maps: AttentionMapsSchema,
  /** `generation`: captured while the library generation was sampled again with its seed; `noising`: any other image. */
  source: AttentionSourceSchema,
  seconds: z.number().min(0),
  /** E.g. "the image differs from its regeneration: used the noising path". */
  warnings: z.array(TextSchema).max(32),
});
/** An edit by prompt (docs/editing.md, "Studio"): saved in the library, linked to its source. */
export const EditResultSchema = z.strictObject({
  kind: z.literal('edit'),
  /** The edited image (library item of kind 'generation' with `edit`, and `editOf` the source item). */
  item: LibraryItemSchema,
  /** The source image as it was edited (a library file stored with the edit: the "before"). */
  sourceFile: LibraryFileSchema,
  diff: EditDiffSchema,
  mode: EditModeSchema,
  /** Why this mode (auto), or 'asked for'. */
  modeReason: TextSchema,
  mask: EditMaskSchema,
  report: EditReportSchema,
  seconds: z.number().min(0),
  /** E.g. "the source image differs from its regeneration…". */
  warnings: z.array(TextSchema).max(32),
});
export const ModelJobResultSchema = z.strictObject({
  kind: z.enum(['downloadModel', 'importModel']),
  model: ModelInfoSchema,
});
export const JobResultSchema = z.discriminatedUnion('kind', [
  GenerateResultSchema,
  InvertResultSchema,
  SegmentResultSchema,
  EditResultSchema,
  EvalResultSchema,
  FuseResultSchema,
  EvolutionJobResultSchema,
  ModelJobResultSchema,
]);
export type GenerateResult = z.infer<typeof GenerateResultSchema>;
export type InvertResult = z.infer<typeof InvertResultSchema>;
export type SegmentResult = z.infer<typeof SegmentResultSchema>;
export type EditResult = z.infer<typeof EditResultSchema>;
export type ModelJobResult = z.infer<typeof ModelJobResultSchema>;
export type JobResult = z.infer<typeof JobResultSchema>;

export const JobStateSchema = z.enum(['queued', 'running', 'done', 'failed', 'cancelled']);
export type JobState = z.infer<typeof JobStateSchema>;

/** Snapshot of a job, e.g. for a UI that (re)connects while jobs are running. */
export const JobInfoSchema = z.strictObject({
  jobId: IdSchema,
  kind: JobKindSchema,
  state: JobStateSchema,
  /** Short human label (prompt or file name). */
  label: TextSchema,
  progress: JobProgressSchema.optional(),
  error: ErrorInfoSchema.optional(),
});
export type JobInfo = z.infer<typeof JobInfoSchema>;
