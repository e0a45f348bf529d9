/**
 * What the engine service needs from the engine: one async call per operation, each taking
 * `{ signal, onProgress }` (docs/architecture.md). `real-engine.ts` implements it over src/main/engine;
 * tests may inject their own.
 */
import type { Segmentation } from '../engine/attention/segment.js';
import type { EvolutionBackend, FitnessFactory } from '../engine/concepts/evolution/index.js';
import type { FuseMode, FuseRegion, ItemFusion } from '../../shared/ipc/fusion-record.js';
import type { InversionObjective, InversionPreset, SchedulerName } from '../../shared/ipc/common.js';
import type { EditBlend, EditChange, EditMode, EditModeChoice, EditReport } from '../../shared/ipc/edit.js';
import type { EvalAblation, EvalDataset, EvalProgressInfo } from '../../shared/ipc/eval.js';
import type { InversionMethod, MethodInfo, MethodObjective } from '../../shared/ipc/methods.js';
import type { ModelInfo } from '../../shared/ipc/models.js';
import type { TokenizeResult } from '../../shared/ipc/requests.js';
import type { Settings } from '../../shared/ipc/settings.js';

export interface EngineProgress {
  phase: string;
  step: number;
  total: number;
  loss?: number;
  lr?: number;
  etaSeconds?: number;
  /** Encoded PNG of the current image. */
  previewPng?: Uint8Array;
  bytes?: number;
  totalBytes?: number;
  bytesPerSecond?: number;
  message?: string;
  /** Evaluations: units done of all, the unit at work. */
  evaluation?: EvalProgressInfo;
}

export interface RunOptions {
  signal?: AbortSignal;
  onProgress?: (p: EngineProgress) => void;
}

/** A generation; sampler settings and size left out take the model set's defaults. */
export interface GenerateSpec {
  prompt: string;
  negativePrompt: string;
  seed: number;
  steps?: number;
  scheduler?: SchedulerName;
  guidance?: number;
  width?: number;
  height?: number;
  /** Model set: 'demo', a manifest name or a folder. */
  modelSet: string;
  /** Capture the cross-attention maps of the prompt's words during the sampling (GenerateOutput.segmentation). */
  attentionMaps?: boolean;
}

export interface GenerateOutput {
  /** PNG with the generation parameters embedded (A1111 `parameters` chunk and the engine's JSON chunk). */
  png: Uint8Array;
  width: number;
  height: number;
  /** The settings actually used (defaults resolved). */
  params: { steps: number; scheduler: SchedulerName; guidance: number; width: number; height: number; model: string };
  warnings: string[];
  /** The prompt's words segmented by the attention of this sampling (when `attentionMaps` was asked and possible). */
  segmentation?: Segmentation;
}

/** A segmentation: per-word cross-attention maps of one image (docs/segmentation.md). */
export interface SegmentSpec {
  /** The image, any format sharp reads. */
  image: Uint8Array;
  /** The prompt to segment by. */
  prompt: string;
  /** Words to segment (default: the prompt's words without stop words). */
  words?: string[];
  /** Mask threshold, 0..1 (default 0.4). */
  threshold?: number;
  /** Seed of the noising path's noise (default 0). */
  seed?: number;
  modelSet: string;
  /**
   * How the image was generated (a library generation on this model set with this prompt): it is
   * sampled again with these settings and its maps captured during that sampling, when the
   * regeneration reproduces the image; otherwise (and without it) the noising path.
   */
  generation?: {
    negativePrompt: string;
    seed: number;
    steps: number;
    scheduler: SchedulerName;
    guidance: number;
    width: number;
    height: number;
  };
}

export interface SegmentOutput {
  /** At the image's size (at most MAX_SEGMENT_PIXELS, aspect kept), `source` set. */
  segmentation: Segmentation;
  /** E.g. "the image differs from its regeneration: used the noising path". */
  warnings: string[];
}

/** An edit by prompt (docs/editing.md): the source's prompt, seed and settings, and the edited prompt. */
export interface EditSpec {
  source: {
    prompt: string;
    negativePrompt: string;
    seed: number;
    /** Left out: the model set's defaults. */
    steps?: number;
    scheduler?: SchedulerName;
    guidance?: number;
    width?: number;
    height?: number;
    kind: 'generation' | 'inversion';
    /** The source image as the artist has it (any format sharp reads): the report compares with it. */
    image?: Uint8Array;
  };
  /** The model set the source was made with. */
  modelSet: string;
  prompt: string;
  mode?: EditModeChoice;
  crossSteps?: number;
  selfSteps?: number;
  blend?: EditBlend;
  suppress?: boolean;
}

export interface EditOutput {
  /** The edited PNG (A1111 parameters and the engine's edit record). */
  png: Uint8Array;
  width: number;
  height: number;
  /** The source's settings as used (defaults resolved); `model` the set the edit ran on. */
  params: GenerateOutput['params'];
  summary: string;
  edits: EditChange[];
  mode: EditMode;
  modeReason: string;
  crossSteps: number;
  selfSteps: number;
  blend?: { threshold: number; dilate: number };
  suppress?: boolean;
  /** On the latent grid (image size / 8), 0/1 per cell. */
  mask: { width: number; height: number; data: Uint8Array; words: { source: string[]; edited: string[] } };
  report: EditReport;
  sourceReproduced?: boolean;
  warnings: string[];
}

export interface InvertSpec {
  /** The target image, any format sharp reads. */
  image: Uint8Array;
  preset: InversionPreset;
  objective?: InversionObjective;
  iterations?: number;
  init?: string;
  seed: number;
  modelSet: string;
  /** EDITOR when left out; a baseline (PH2P, PEZ, the caption) answers through the engine's invertWith. */
  method?: InversionMethod;
}

export interface InvertCandidateOutput {
  prompt: string;
  score: number;
  iteration?: number;
  /** Regeneration of this candidate, when the ranking produced one. */
  png?: Uint8Array;
}

export interface InvertOutput {
  prompt: string;
  initialPrompt: string;
  /** Best first. */
  candidates: InvertCandidateOutput[];
  loss: number[];
  iterations: number;
  seconds: number;
  /** The objective actually used (the preset's when not given; a baseline's own). */
  objective: MethodObjective;
  /** The method that answered (absent: EDITOR). */
  method?: InversionMethod;
  /** Side the inversion ran at, pixels (the model set's native size): the stored target's shorter side is at most this. */
  inversionSize: number;
  warnings: string[];
}

/** An evaluation (docs/evaluation.md): every item × method × seed inverted, regenerated and scored. */
export interface EvalRunSpec {
  dataset: EvalDataset;
  methods: InversionMethod[];
  /** Resolved (the job applies the defaults). */
  modelSet: string;
  /** The run folder: results.jsonl (resumed when there), run.json, report.md, CSVs, figures, images/. */
  runDir: string;
  limit?: number;
  seeds?: number[];
  iterations?: number;
  preset?: InversionPreset;
  regenSteps?: number;
  size?: number;
  ablation?: EvalAblation;
}

export interface EvalRunOutput {
  runDir: string;
  cancelled: boolean;
  /** Methods not run, and what to install. */
  skippedMethods: { method: InversionMethod; reason: string }[];
  /** Units finished (by any run) and of all; units failed. */
  done: number;
  total: number;
  failed: number;
}

/** A fusion (docs/fusion-evolution.md): parents as prompts or image bytes; settings left out take the model set's defaults. */
export interface FuseSpec {
  modelSet: string;
  parents: (
    | { kind: 'prompt'; text: string; label?: string }
    | {
        kind: 'image';
        /** Any format sharp reads. */
        image: Uint8Array;
        /** The prompt the image was made from and its model set (a library item's). */
        recorded?: { prompt: string; model: string };
        reinvert?: boolean;
        label?: string;
      }
  )[];
  /** One mode, or (with `grid`) ignored. */
  mode?: FuseMode;
  weights?: number[];
  grid?: { modes?: FuseMode[]; weightSets?: number[][] };
  seed: number;
  steps?: number;
  scheduler?: SchedulerName;
  guidance?: number;
  width?: number;
  height?: number;
  negativePrompt?: string;
  connective?: string;
  keepWords?: string[];
  interpolation?: 'slerp' | 'lerp';
  regions?: FuseRegion[];
}

export interface FuseOutput {
  /** The fused PNG (or the tiled grid) with its parameters and fusion record. */
  png: Uint8Array;
  width: number;
  height: number;
  /** The render settings (defaults resolved; for a grid, each cell's); `model` the set it ran on. */
  params: GenerateOutput['params'];
  /** What the library keeps (parents without their library ids: the job adds them). */
  fusion: ItemFusion;
  warnings: string[];
}

/** What an evolution job renders, decodes and inverts with (EvolutionSession's backend), for one job. */
export interface EvolutionBackendHandle {
  backend: EvolutionBackend;
  /** Builds a session's stored fitness (checker; CLIP image or text where installed). */
  fitnessFactory: FitnessFactory;
  warnings: string[];
  /** The job is over: release what the backend opened for it (the model set stays warm). */
  release(): Promise<void>;
}

export interface EngineAdapter {
  /** Which operations this build supports: 'generate', 'invert', 'segment', 'edit', 'tokenize', 'models'. */
  readonly capabilities: readonly string[];
  /** Called when the settings change (provider, cache dir, offline mode). */
  configure(settings: Settings): void;
  generate(spec: GenerateSpec, opts: RunOptions): Promise<GenerateOutput>;
  /** Throws CancelledError<InvertOutput> with the best result so far when cancelled. */
  invert(spec: InvertSpec, opts: RunOptions): Promise<InvertOutput>;
  /** Per-word cross-attention maps of an image. */
  segment(spec: SegmentSpec, opts: RunOptions): Promise<SegmentOutput>;
  /** Edit by prompt; throws CancelledError when cancelled (nothing is kept). */
  edit(spec: EditSpec, opts: RunOptions): Promise<EditOutput>;
  tokenize(text: string, modelSet: string): Promise<TokenizeResult>;
  listModels(): Promise<ModelInfo[]>;
  downloadModel(id: string, opts: RunOptions): Promise<ModelInfo>;
  importModel(folder: string, opts: RunOptions): Promise<ModelInfo>;
  /** Run (or continue) an evaluation in `spec.runDir`; cancelled, it returns with `cancelled` (the report of what is done is written). */
  evaluate?(spec: EvalRunSpec, opts: RunOptions): Promise<EvalRunOutput>;
  /** Fuse two or more parents (or a grid of modes × weights); throws CancelledError when cancelled. */
  fuse?(spec: FuseSpec, opts: RunOptions): Promise<FuseOutput>;
  /**
   * The backend evolution jobs run a session with, on `modelSet` (loaded as by generate); `clip`:
   * the session's fitness is CLIP image similarity (load CLIP, NOT_INSTALLED without it).
   */
  evolutionBackend?(modelSet: string, needs: { clip?: boolean }, opts: RunOptions): Promise<EvolutionBackendHandle>;
  /** Which inversion methods can run with a model set (files only), in INVERSION_METHODS order. */
  methods?(modelSet: string): Promise<MethodInfo[]>;
  /** Release sessions (worker shutdown). */
  dispose?(): Promise<void>;
}

/** Thrown for operations this build of the engine does not provide. */
export class NotAvailableError extends Error {
  readonly code = 'NOT_AVAILABLE';
  constructor(what: string) {
    super(`${what} is not available in this build of the engine`);
    this.name = 'NotAvailableError';
  }
}
