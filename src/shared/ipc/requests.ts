/**
 * Requests a client (renderer via preload, or the browser via the web bridge) sends to the engine
 * host, and the response each one gets. Every request is a strict object discriminated by `type`;
 * unknown types or fields are rejected.
 */
import { z } from 'zod';
import {
  IdSchema,
  ImageDataUrlSchema,
  ImageSideSchema,
  InversionObjectiveSchema,
  InversionPresetSchema,
  ModelSetRefSchema,
  NameSchema,
  PathSchema,
  PromptSchema,
  SchedulerSchema,
  SeedSchema,
} from './common.js';
import { MAX_ATTENTION_WORDS } from './attention.js';
import { EditBlendSchema, EditModeChoiceSchema, FractionSchema } from './edit.js';
import {
  EvalRequestSchema,
  EvaluationSchema,
  GetEvaluationRequestSchema,
  ListEvaluationsRequestSchema,
  ListEvaluationsResultSchema,
} from './eval.js';
import {
  BranchEvolutionRequestSchema,
  BreedEvolutionRequestSchema,
  CreateEvolutionRequestSchema,
  EvolutionSessionSchema,
  ExportEvolutionRequestSchema,
  ExportEvolutionResultSchema,
  ListEvolutionsRequestSchema,
  ListEvolutionsResultSchema,
  LockEvolutionRequestSchema,
  OpenEvolutionRequestSchema,
  ReinvertEvolutionRequestSchema,
} from './evolution.js';
import { FuseRequestSchema } from './fusion.js';
import { JOB_KINDS, JobInfoSchema, type JobKind } from './jobs.js';
import { LibraryFileSchema, LibraryItemSchema } from './library.js';
import { MAX_LIST_ITEMS, MAX_NAME_CHARS } from './limits.js';
import { InversionMethodSchema, ListMethodsRequestSchema, ListMethodsResultSchema } from './methods.js';
import { ModelInfoSchema } from './models.js';
import { MAX_NOTICES, NoticeSchema } from './notices.js';
import { SettingsPatchSchema, SettingsSchema } from './settings.js';

/**
 * Image given to an inversion or a segmentation: uploaded bytes, or an image already in the
 * library: the item's own image, or with `file` another image of that item (an inversion's
 * `targetFile` or a candidate's `file`).
 */
export const ImageInputSchema = z.discriminatedUnion('source', [
  z.strictObject({ source: z.literal('data'), dataUrl: ImageDataUrlSchema, name: NameSchema.optional() }),
  z.strictObject({ source: z.literal('library'), id: IdSchema, file: LibraryFileSchema.optional() }),
]);
export type ImageInput = z.infer<typeof ImageInputSchema>;

/** Fields left out take the values of `settings.defaults.generate` / `settings.modelSet`. */
export const GenerateRequestSchema = z.strictObject({
  type: z.literal('generate'),
  prompt: PromptSchema,
  negativePrompt: PromptSchema.optional(),
  seed: SeedSchema.optional(),
  steps: z.number().int().min(1).max(150).optional(),
  scheduler: SchedulerSchema.optional(),
  guidance: z.number().min(0).max(30).optional(),
  width: ImageSideSchema.optional(),
  height: ImageSideSchema.optional(),
  modelSet: ModelSetRefSchema.optional(),
  /** Also capture the cross-attention maps of the prompt's words (the result's `attention`). */
  attentionMaps: z.boolean().optional(),
});

export const InvertRequestSchema = z.strictObject({
  type: z.literal('invert'),
  image: ImageInputSchema,
  preset: InversionPresetSchema.optional(),
  objective: InversionObjectiveSchema.optional(),
  iterations: z.number().int().min(1).max(10_000).optional(),
  /** Start from this text instead of a caption. */
  init: PromptSchema.optional(),
  seed: SeedSchema.optional(),
  modelSet: ModelSetRefSchema.optional(),
  /** EDITOR (default) or a baseline: PH2P, PEZ, the caption alone (listMethods says which can run). */
  method: InversionMethodSchema.optional(),
});

/** A mask threshold on the normalised heat map. */
const ThresholdSchema = z.number().min(0).max(1);

/**
 * Per-word cross-attention maps of an image (docs/segmentation.md). The prompt: `prompt`, else the
 * library item's own (a generation's prompt, an inversion's answer for its target and best image,
 * a candidate's prompt for its image); an upload needs one. A library generation with its own
 * prompt is sampled again with its seed and settings and its maps captured during that sampling
 * (when that reproduces the image); any other image goes through the noising path.
 */
export const SegmentRequestSchema = z.strictObject({
  type: z.literal('segment'),
  image: ImageInputSchema,
  prompt: PromptSchema.optional(),
  /** Words to segment (default: the prompt's words without stop words). */
  words: z.array(z.string().min(1).max(256)).min(1).max(MAX_ATTENTION_WORDS).optional(),
  /** Mask threshold (default 0.4). */
  threshold: ThresholdSchema.optional(),
  /** Seed of the noising path's noise (default 0). */
  seed: SeedSchema.optional(),
  /** Default: the library item's model set, else settings.modelSet. */
  modelSet: ModelSetRefSchema.optional(),
});

/**
 * Edit an image by editing its prompt (docs/editing.md, "Studio"). The source: a library item
 * (a generation, or an inversion's answer: its image or, with `file`, a candidate's), or an
 * uploaded PNG carrying its generation parameters (ours or A1111's). The edit runs on the model
 * set the source was made with, from its seed and settings; it is saved in the library linked to
 * its source. Fields left out take the engine's defaults (mode auto, crossSteps 0.8, selfSteps 0.4).
 */
export const EditRequestSchema = z.strictObject({
  type: z.literal('edit'),
  source: ImageInputSchema,
  /** The edited prompt (prompt syntax allowed). */
  prompt: PromptSchema.refine((p) => p.trim() !== '', 'the edited prompt is empty'),
  mode: EditModeChoiceSchema.optional(),
  /** Fraction of the steps with the source's cross-attention. */
  crossSteps: FractionSchema.optional(),
  /** Fraction of the steps with the source's self-attention (coarse layers). */
  selfSteps: FractionSchema.optional(),
  blend: EditBlendSchema.optional(),
  /** Removals: also guide away from the removed words (SEGA-style negative guidance). */
  suppress: z.boolean().optional(),
});

/**
 * Write the full-resolution heat maps and masks of maps a job returned (`AttentionMaps.id`):
 * per word a heat map and a mask PNG, labels.png, overlay.png, summary.json (the CLI's layout).
 * `dir` is a folder on the machine running the engine (created if needed); default: a new folder
 * under `exports/` next to the library folder.
 */
export const ExportSegmentationRequestSchema = z.strictObject({
  type: z.literal('exportSegmentation'),
  id: IdSchema,
  dir: PathSchema.optional(),
  /** Threshold of the masks written (default: the maps' own), e.g. the overlay slider's. */
  threshold: ThresholdSchema.optional(),
});
export const ListNoticesRequestSchema = z.strictObject({ type: z.literal('listNotices') });
/** The user has read a notice: the host forgets it, for every client. */
export const DismissNoticeRequestSchema = z.strictObject({ type: z.literal('dismissNotice'), id: IdSchema });

export const CancelRequestSchema = z.strictObject({ type: z.literal('cancel'), jobId: IdSchema });
export const ListJobsRequestSchema = z.strictObject({ type: z.literal('listJobs') });
export const ListLibraryRequestSchema = z.strictObject({
  type: z.literal('listLibrary'),
  kind: z.enum(['generation', 'inversion']).optional(),
  offset: z.number().int().min(0).max(1_000_000).optional(),
  limit: z.number().int().min(1).max(MAX_LIST_ITEMS).optional(),
});
export const GetLibraryItemRequestSchema = z.strictObject({ type: z.literal('getLibraryItem'), id: IdSchema });
export const DeleteLibraryItemRequestSchema = z.strictObject({ type: z.literal('deleteLibraryItem'), id: IdSchema });
export const ListModelsRequestSchema = z.strictObject({ type: z.literal('listModels') });
export const DownloadModelRequestSchema = z.strictObject({ type: z.literal('downloadModel'), id: IdSchema });
/** Import a model folder from the machine running the engine (a path there, not an upload). */
export const ImportModelRequestSchema = z.strictObject({ type: z.literal('importModel'), path: PathSchema });
export const GetSettingsRequestSchema = z.strictObject({ type: z.literal('getSettings') });
export const SetSettingsRequestSchema = z.strictObject({ type: z.literal('setSettings'), patch: SettingsPatchSchema });
export const TokenizeRequestSchema = z.strictObject({
  type: z.literal('tokenize'),
  text: PromptSchema,
  modelSet: ModelSetRefSchema.optional(),
});
export const GetStatusRequestSchema = z.strictObject({ type: z.literal('getStatus') });

export const RequestSchema = z.discriminatedUnion('type', [
  GenerateRequestSchema,
  InvertRequestSchema,
  SegmentRequestSchema,
  EditRequestSchema,
  EvalRequestSchema,
  CancelRequestSchema,
  ListJobsRequestSchema,
  ListLibraryRequestSchema,
  GetLibraryItemRequestSchema,
  DeleteLibraryItemRequestSchema,
  ListModelsRequestSchema,
  DownloadModelRequestSchema,
  ImportModelRequestSchema,
  GetSettingsRequestSchema,
  SetSettingsRequestSchema,
  TokenizeRequestSchema,
  GetStatusRequestSchema,
  ExportSegmentationRequestSchema,
  ListNoticesRequestSchema,
  DismissNoticeRequestSchema,
  ListEvaluationsRequestSchema,
  GetEvaluationRequestSchema,
  ListMethodsRequestSchema,
  FuseRequestSchema,
  CreateEvolutionRequestSchema,
  BreedEvolutionRequestSchema,
  ReinvertEvolutionRequestSchema,
  OpenEvolutionRequestSchema,
  LockEvolutionRequestSchema,
  BranchEvolutionRequestSchema,
  ExportEvolutionRequestSchema,
  ListEvolutionsRequestSchema,
]);
export type Request = z.infer<typeof RequestSchema>;
export type RequestType = Request['type'];
export type RequestOf<T extends RequestType> = Extract<Request, { type: T }>;
export const REQUEST_TYPES = RequestSchema.options.map((o) => o.shape.type.value) as RequestType[];

/** Requests that start a job (answered with a JobAccepted): the job kinds of jobs.ts. */
export const JOB_REQUEST_TYPES = JOB_KINDS satisfies readonly RequestType[];
export type JobRequestType = JobKind;
export function isJobRequest(r: Request): r is RequestOf<JobRequestType> {
  return (JOB_REQUEST_TYPES as readonly string[]).includes(r.type);
}

export const JobAcceptedSchema = z.strictObject({ jobId: IdSchema });

export const TokenSchema = z.strictObject({
  id: z.number().int().min(0),
  /** The token's text (BPE piece with `</w>` stripped). */
  text: z.string().max(256),
  /** Character range [start, end) in the request text, when the tokenizer can map it. */
  start: z.number().int().min(0).optional(),
  end: z.number().int().min(0).optional(),
});

export const TokenizeResultSchema = z.strictObject({
  /** Prompt tokens (without BOS/EOS), all of them, including those past the limit. */
  tokens: z.array(TokenSchema).max(10_000),
  /** Number of prompt tokens (tokens.length). */
  count: z.number().int().min(0),
  /** Prompt tokens the model sees: 75 for CLIP (77 minus BOS and EOS). */
  limit: z.number().int().min(1),
  truncated: z.boolean(),
  /** Character offset in `text` where the dropped part starts (null when nothing is dropped). */
  droppedFrom: z.number().int().min(0).nullable(),
  /** The words the model will not see. */
  droppedWords: z.array(z.string().max(256)).max(10_000),
});
export type TokenizeResult = z.infer<typeof TokenizeResultSchema>;

export const EngineStateSchema = z.enum(['starting', 'ready', 'crashed', 'restarted', 'stopped']);
export type EngineState = z.infer<typeof EngineStateSchema>;

export const StatusResultSchema = z.strictObject({
  engine: EngineStateSchema,
  /** How many times the engine process was restarted after a crash. */
  restarts: z.number().int().min(0),
  transport: z.enum(['electron', 'web']),
  version: z.string().max(64),
  libraryDir: PathSchema,
  jobs: z.array(JobInfoSchema).max(MAX_LIST_ITEMS),
  /** Which engine parts are available in this build (e.g. 'generate', 'invert', 'models', 'tokenize'). */
  capabilities: z.array(z.string().max(64)).max(64),
});
export type StatusResult = z.infer<typeof StatusResultSchema>;

export const ExportSegmentationResultSchema = z.strictObject({
  /** The folder written (absolute). */
  dir: PathSchema,
  /** Files written, relative to `dir` (summary.json last). */
  files: z.array(z.string().min(1).max(MAX_NAME_CHARS)).max(4 * MAX_ATTENTION_WORDS + 8),
  threshold: ThresholdSchema,
});
export type ExportSegmentationResult = z.infer<typeof ExportSegmentationResultSchema>;

export const LibraryPageSchema = z.strictObject({
  items: z.array(LibraryItemSchema).max(MAX_LIST_ITEMS),
  total: z.number().int().min(0),
});
export type LibraryPage = z.infer<typeof LibraryPageSchema>;

/** The response schema of each request type. */
export const ResponseSchemas = {
  generate: JobAcceptedSchema,
  invert: JobAcceptedSchema,
  segment: JobAcceptedSchema,
  edit: JobAcceptedSchema,
  eval: JobAcceptedSchema,
  downloadModel: JobAcceptedSchema,
  importModel: JobAcceptedSchema,
  cancel: z.strictObject({ cancelled: z.boolean() }),
  listJobs: z.strictObject({ jobs: z.array(JobInfoSchema).max(MAX_LIST_ITEMS) }),
  listLibrary: LibraryPageSchema,
  getLibraryItem: LibraryItemSchema,
  deleteLibraryItem: z.strictObject({ deleted: z.boolean() }),
  listModels: z.strictObject({ models: z.array(ModelInfoSchema).max(MAX_LIST_ITEMS) }),
  getSettings: SettingsSchema,
  setSettings: SettingsSchema,
  tokenize: TokenizeResultSchema,
  getStatus: StatusResultSchema,
  exportSegmentation: ExportSegmentationResultSchema,
  listNotices: z.strictObject({ notices: z.array(NoticeSchema).max(MAX_NOTICES) }),
  dismissNotice: z.strictObject({ dismissed: z.boolean() }),
  listEvaluations: ListEvaluationsResultSchema,
  getEvaluation: EvaluationSchema,
  listMethods: ListMethodsResultSchema,
  fuse: JobAcceptedSchema,
  createEvolution: JobAcceptedSchema,
  breedEvolution: JobAcceptedSchema,
  reinvertEvolution: JobAcceptedSchema,
  openEvolution: EvolutionSessionSchema,
  lockEvolution: EvolutionSessionSchema,
  branchEvolution: EvolutionSessionSchema,
  exportEvolution: ExportEvolutionResultSchema,
  listEvolutions: ListEvolutionsResultSchema,
} as const satisfies Record<RequestType, z.ZodType>;

export type ResponseOf<T extends RequestType> = z.infer<(typeof ResponseSchemas)[T]>;
/** The request object without its `type` tag: the argument of the convenience methods of StudioApi. */
export type ParamsOf<T extends RequestType> = Omit<RequestOf<T>, 'type'>;
