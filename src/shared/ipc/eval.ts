/**
 * Evaluations in the studio (docs/evaluation.md § Studio): the `eval` job runs the engine's
 * harness (`runEval`) on a dataset — a folder on the engine's machine with images and a
 * prompts.jsonl/csv, or `shapes:N` — for some methods, in a run folder under the library
 * (`<library>/evaluations/<id>/`); `runId` continues a run (the finished units are kept). The
 * result, and `getEvaluation` for a past run, is the report as data: its tables (method rows ×
 * metric columns, mean ± 95% interval) and its figures' SVG text. `listEvaluations` lists the runs.
 */
import { z } from 'zod';
import {
  ErrorInfoSchema,
  IdSchema,
  ImageSideSchema,
  InversionPresetSchema,
  ModelSetRefSchema,
  NameSchema,
  PathSchema,
  SeedSchema,
  TextSchema,
  TimestampSchema,
} from './common.js';
import {
  MAX_EVAL_ABLATION_VALUES,
  MAX_EVAL_COLUMNS,
  MAX_EVAL_FIGURE_CHARS,
  MAX_EVAL_FIGURES,
  MAX_EVAL_ITEMS,
  MAX_EVAL_SEEDS,
  MAX_EVAL_TABLE_ROWS,
  MAX_EVALUATIONS,
  MAX_ITERATIONS,
} from './limits.js';
import { INVERSION_METHODS, InversionMethodSchema } from './methods.js';

const unique = <T>(xs: readonly T[]): boolean => new Set(xs).size === xs.length;

/** What is inverted: N held-out scenes of the shapes world (`shapes:N[:SEED]`), or a folder on the engine's machine. */
export const EvalDatasetSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('shapes'), n: z.number().int().min(1).max(MAX_EVAL_ITEMS), seed: SeedSchema.optional() }),
  /** A folder with images and prompts.jsonl (`{"image", "prompt"}` per line) or prompts.csv (`image,prompt`). */
  z.strictObject({ kind: z.literal('folder'), path: PathSchema }),
]);
export type EvalDataset = z.infer<typeof EvalDatasetSchema>;

/** `shapes:4` or the folder's path, as the CLI takes it. */
export function datasetLabel(d: EvalDataset): string {
  return d.kind === 'shapes' ? `shapes:${d.n}${d.seed ? `:${d.seed}` : ''}` : d.path;
}

/** The settings an ablation sweeps (the engine's ABLATION_SETTINGS). */
export const EVAL_ABLATION_SETTINGS = ['iterations', 'steps', 'init-length', 'seed', 'captioner'] as const;
export const EvalAblationSchema = z.strictObject({
  setting: z.enum(EVAL_ABLATION_SETTINGS),
  values: z.array(z.string().min(1).max(64)).min(1).max(MAX_EVAL_ABLATION_VALUES).refine(unique, 'a value is listed twice'),
});
export type EvalAblation = z.infer<typeof EvalAblationSchema>;

/** The options of a run (all but `dataset` and `methods` optional, as the CLI's flags). */
const EvalSpecShape = {
  dataset: EvalDatasetSchema,
  methods: z.array(InversionMethodSchema).min(1).max(INVERSION_METHODS.length).refine(unique, 'a method is listed twice'),
  /** Default: 'shapes' for a shapes dataset, else settings.modelSet. */
  modelSet: ModelSetRefSchema.optional(),
  /** The first N items only. */
  limit: z.number().int().min(1).max(MAX_EVAL_ITEMS).optional(),
  /** Seeds of every method (default [0]). */
  seeds: z.array(SeedSchema).min(1).max(MAX_EVAL_SEEDS).refine(unique, 'a seed is listed twice').optional(),
  /** Iterations of EDITOR, PH2P and PEZ (default: the preset's). */
  iterations: z.number().int().min(1).max(MAX_ITERATIONS).optional(),
  preset: InversionPresetSchema.optional(),
  /** Sampler steps of the regenerations that are scored (default: the model set's). */
  regenSteps: z.number().int().min(1).max(150).optional(),
  /** Square size the targets are loaded at (default: the model set's). */
  size: ImageSideSchema.optional(),
  ablation: EvalAblationSchema.optional(),
};
export const EvalSpecSchema = z.strictObject(EvalSpecShape);
export type EvalSpec = z.infer<typeof EvalSpecSchema>;

/**
 * Start (or, with `runId`, continue) an evaluation. A continued run keeps its finished units and
 * redoes failed and cancelled ones; its options must be the ones it was started with.
 */
export const EvalRequestSchema = z.strictObject({ type: z.literal('eval'), ...EvalSpecShape, runId: IdSchema.optional() });
export const ListEvaluationsRequestSchema = z.strictObject({ type: z.literal('listEvaluations') });
export const GetEvaluationRequestSchema = z.strictObject({ type: z.literal('getEvaluation'), id: IdSchema });

export const EVAL_STAGES = ['loading', 'inverting', 'regenerating', 'scoring', 'report', 'done'] as const;
const SettingValueSchema = z.strictObject({ name: z.string().min(1).max(64), value: z.string().min(1).max(64) });

/** Where an evaluation is (job.progress's `evaluation`): units done of all, the unit at work. */
export const EvalProgressInfoSchema = z.strictObject({
  /** The run (getEvaluation shows what it has finished so far). */
  runId: IdSchema.optional(),
  stage: z.enum(EVAL_STAGES),
  /** Units (item × method × seed × ablation value) finished, of all; `resumed` of them by earlier runs. */
  done: z.number().int().min(0),
  total: z.number().int().min(0),
  resumed: z.number().int().min(0),
  item: NameSchema.optional(),
  method: InversionMethodSchema.optional(),
  seed: SeedSchema.optional(),
  setting: SettingValueSchema.optional(),
  /** The method's own progress (e.g. refining 30 / 100). */
  inner: z.strictObject({ phase: z.string().min(1).max(64), step: z.number().int().min(0), total: z.number().int().min(0) }).optional(),
});
export type EvalProgressInfo = z.infer<typeof EvalProgressInfoSchema>;

export const EvalColumnSchema = z.strictObject({
  key: z.string().min(1).max(64),
  /** Header, with the better direction: 'CLIP ↑'. */
  label: z.string().min(1).max(64),
  better: z.enum(['higher', 'lower']),
  /** Decimals the report shows. */
  digits: z.number().int().min(0).max(8),
  description: TextSchema,
});
export type EvalColumn = z.infer<typeof EvalColumnSchema>;

/** Mean ± 95% half-interval of one metric over the scored units of a row; null where undefined (no value, one value). */
export const EvalCellSchema = z.strictObject({
  n: z.number().int().min(0),
  mean: z.number().nullable(),
  ci95: z.number().nullable(),
  /** Infinite values left out of the mean (PSNR of an identical image). */
  infinite: z.number().int().min(0),
  /** The best mean of its column (of two or more rows). */
  best: z.boolean(),
});
export type EvalCell = z.infer<typeof EvalCellSchema>;

export const EvalRowSchema = z.strictObject({
  label: z.string().min(1).max(256),
  method: InversionMethodSchema.optional(),
  setting: SettingValueSchema.optional(),
  seed: SeedSchema.optional(),
  /** Units scored. */
  n: z.number().int().min(0),
  /** One per column. */
  cells: z.array(EvalCellSchema).max(MAX_EVAL_COLUMNS),
  /** Mean seconds of the method per image. */
  secondsPerImage: z.number().min(0).nullable(),
});
export type EvalRow = z.infer<typeof EvalRowSchema>;

export const EvalTableSchema = z.strictObject({
  /** `results` (Tables 2–3, or an ablation's rows), `paired` (EDITOR − caption per item and seed, Table 5), `per-seed` (Table 13). */
  id: z.enum(['results', 'paired', 'per-seed']),
  title: z.string().min(1).max(256),
  /** Header of the row labels ('method', 'method / setting'). */
  rowHeader: z.string().min(1).max(64),
  columns: z.array(EvalColumnSchema).max(MAX_EVAL_COLUMNS),
  rows: z.array(EvalRowSchema).max(MAX_EVAL_TABLE_ROWS),
});
export type EvalTable = z.infer<typeof EvalTableSchema>;

/**
 * True for SVG text that cannot do anything but draw: no scripts, event handlers, foreign
 * content, external references or entities. The report's figures (the engine's svg.ts) pass;
 * the studio shows them as images (`<img src="data:image/svg+xml,…">`), where SVG runs no script
 * anyway, and this check keeps anything else out of the result.
 */
export function isInertSvg(svg: string): boolean {
  if (!/^\s*<svg[\s>]/.test(svg) || !/<\/svg>\s*$/.test(svg)) return false;
  return !/<script|<foreignObject|<iframe|<!ENTITY|<!DOCTYPE|\son[a-z]+\s*=|(?:xlink:)?href\s*=\s*["']?(?!#)|url\(\s*["']?(?!#)|javascript:/i.test(
    svg,
  );
}

export const EvalFigureSchema = z.strictObject({
  /** `fig-clip.svg`, `fig-initial-vs-inverted.svg`, `fig-loss.svg`… (a file of the run folder). */
  name: z.string().regex(/^fig-[A-Za-z0-9._-]{1,120}\.svg$/),
  title: z.string().min(1).max(256),
  svg: z.string().max(MAX_EVAL_FIGURE_CHARS).refine(isInertSvg, 'not a plain SVG drawing'),
});
export type EvalFigure = z.infer<typeof EvalFigureSchema>;

/** `running`: its job is running now; `interrupted`: it was running when the engine stopped (continue it). */
export const EvalStateSchema = z.enum(['running', 'done', 'cancelled', 'failed', 'interrupted']);
export type EvalState = z.infer<typeof EvalStateSchema>;

/** A run in the list of past evaluations. */
export const EvaluationSummarySchema = z.strictObject({
  id: IdSchema,
  /** The run folder (results.jsonl, report.md, CSVs, figures, images/). */
  dir: PathSchema,
  spec: EvalSpecSchema,
  state: EvalStateSchema,
  createdAt: TimestampSchema,
  updatedAt: TimestampSchema,
  /** Units finished (by any run of it), of all; units that failed (retried by continuing). */
  done: z.number().int().min(0),
  total: z.number().int().min(0),
  failed: z.number().int().min(0),
  error: ErrorInfoSchema.optional(),
});
export type EvaluationSummary = z.infer<typeof EvaluationSummarySchema>;

const MethodReasonSchema = z.strictObject({ method: InversionMethodSchema, reason: TextSchema });

/** A run's report as data (the job's result, and getEvaluation's). */
export const EvaluationSchema = z.strictObject({
  ...EvaluationSummarySchema.shape,
  /** The dataset's name and the model set the runner used. */
  dataset: PathSchema,
  models: ModelSetRefSchema,
  /** `shapes`: the world's own instruments stand in for the paper's metrics (profileNote says which). */
  profile: z.enum(['paper', 'shapes']),
  profileNote: TextSchema,
  tables: z.array(EvalTableSchema).max(8),
  figures: z.array(EvalFigureSchema).max(MAX_EVAL_FIGURES),
  skippedMethods: z.array(MethodReasonSchema).max(INVERSION_METHODS.length),
  skippedMetrics: z.array(z.strictObject({ metric: z.string().min(1).max(64), reason: TextSchema })).max(32),
  /** Units that failed (the first 100) and why. */
  failures: z.array(z.strictObject({ key: z.string().min(1).max(1024), error: TextSchema })).max(100),
  warnings: z.array(TextSchema).max(64),
});
export type Evaluation = z.infer<typeof EvaluationSchema>;

export const EvalResultSchema = z.strictObject({ kind: z.literal('eval'), evaluation: EvaluationSchema });
export type EvalResult = z.infer<typeof EvalResultSchema>;

export const ListEvaluationsResultSchema = z.strictObject({ evaluations: z.array(EvaluationSummarySchema).max(MAX_EVALUATIONS) });
export type ListEvaluationsResult = z.infer<typeof ListEvaluationsResultSchema>;
