/**
 * What the engine service needs from the engine: one async call per operation, each taking
 * `{ signal, onProgress }` (docs/architecture.md). `real-engine.ts` implements it over src/main/engine;
 * tests may inject their own.
 */
import type { Segmentation } from '../engine/attention/segment.js';
import type { InversionObjective, InversionPreset, SchedulerName } from '../../shared/ipc/common.js';
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

export interface InvertSpec {
  /** The target image, any format sharp reads. */
  image: Uint8Array;
  preset: InversionPreset;
  objective?: InversionObjective;
  iterations?: number;
  init?: string;
  seed: number;
  modelSet: string;
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
  /** The objective actually used (the preset's when not given). */
  objective: InversionObjective;
  /** Side the inversion ran at, pixels (the model set's native size): the stored target's shorter side is at most this. */
  inversionSize: number;
  warnings: string[];
}

export interface EngineAdapter {
  /** Which operations this build supports: 'generate', 'invert', 'segment', 'tokenize', 'models'. */
  readonly capabilities: readonly string[];
  /** Called when the settings change (provider, cache dir, offline mode). */
  configure(settings: Settings): void;
  generate(spec: GenerateSpec, opts: RunOptions): Promise<GenerateOutput>;
  /** Throws CancelledError<InvertOutput> with the best result so far when cancelled. */
  invert(spec: InvertSpec, opts: RunOptions): Promise<InvertOutput>;
  /** Per-word cross-attention maps of an image. */
  segment(spec: SegmentSpec, opts: RunOptions): Promise<SegmentOutput>;
  tokenize(text: string, modelSet: string): Promise<TokenizeResult>;
  listModels(): Promise<ModelInfo[]>;
  downloadModel(id: string, opts: RunOptions): Promise<ModelInfo>;
  importModel(folder: string, opts: RunOptions): Promise<ModelInfo>;
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
