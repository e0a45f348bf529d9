/**
 * EDITOR end to end, in four phases (docs/inversion.md, "Pipeline"): the start text (a caption,
 * the user's text or random words), refinement of its text-encoder output through the diffusion
 * model, decoding of the refined snapshots back to text, and ranking of the candidates by how
 * close their regenerations come to the target.
 */
import { checkImageSize, sizeLimitModelForInversion } from '../diffusion/size-limits.js';
import { throwIfAborted, EngineError } from '../errors.js';
import type { LanguageModel } from '../e2t/language-model.js';
import type { EmbeddingToText } from '../e2t/types.js';
import type { Captioner, CaptionerName } from './captioner.js';
import { decodeSnapshots } from './decode-snapshots.js';
import type { InversionModels } from './inversion-models.js';
import type { InvertSettings } from './presets.js';
import { promptsToRank, rankCandidates } from './rank-candidates.js';
import { refineEmbedding } from './refine-embedding.js';
import { startText } from './start-text.js';

/** The image to invert: CHW RGB in [-1, 1], already at the size the inversion runs at. */
export interface TargetImage {
  data: Float32Array;
  width: number;
  height: number;
}

export type InitSpec =
  | {
      kind: 'caption';
      captioner?: CaptionerName;
      cacheDir: string;
      offline?: boolean;
      device?: string;
      /** An already loaded captioner (kept across inversions by the caller); else one is loaded for this call. */
      instance?: Captioner;
    }
  | { kind: 'text'; text: string }
  | { kind: 'random'; words?: number };

export type InvertPhase = 'captioning' | 'encoding' | 'refining' | 'decoding' | 'ranking' | 'done';

export interface InvertProgress {
  phase: InvertPhase;
  iteration?: number;
  total?: number;
  loss?: number;
  bestLoss?: number;
  lr?: number;
  etaSeconds?: number;
  /** PNG of the current embedding's rendering (every `previewEvery` iterations). */
  previewPng?: Buffer;
  message?: string;
}

export interface Candidate {
  prompt: string;
  /** Higher is better: CLIP image cosine when a CLIP scorer is given, else the negative pixel MSE of the regeneration. */
  score: number;
  /** Iteration of the snapshot it was decoded from and that snapshot's objective loss. */
  iteration: number;
  loss: number;
  /** Embedding distance of the decoded text to the snapshot. */
  e2tDistance: number;
  /** PNG of the candidate's regeneration. */
  png?: Buffer;
}

export interface InvertResult {
  initialPrompt: string;
  prompt: string;
  candidates: Candidate[];
  /** Objective loss per completed iteration. */
  loss: number[];
  iterations: number;
  seconds: number;
  objective: InvertSettings['objective'];
  rankedBy: 'clip' | 'pixel-mse';
  width: number;
  height: number;
  /**
   * The language model the decoder was given (`options.lm`, its name) and the fluency weight it
   * was asked to apply (settings.fluencyWeight, else DEFAULT_LM_FLUENCY_WEIGHT); absent without one.
   */
  lm?: string;
  fluencyWeight?: number;
  /** Set when the run ended early (cancelled, non-finite loss); the result is the best so far. */
  stopped?: 'cancelled' | 'non-finite';
  message?: string;
}

/** Scores a regenerated image against the target (higher = more similar). */
export interface ImageScorer {
  readonly name: 'clip';
  score(image: TargetImage, target: TargetImage): Promise<number>;
}

export interface InvertOptions {
  settings: InvertSettings;
  init: InitSpec;
  /** CLIP image similarity for ranking; without it candidates are ranked by pixel MSE. */
  scorer?: ImageScorer;
  /** Custom decoder (default: the training-free HotFlip decoder on the model's text encoder). */
  e2t?: EmbeddingToText;
  /**
   * Language model (GPT-2, `loadCausalLm`) for the decoder's next-word proposals and fluency
   * term, weighted by `settings.fluencyWeight` (default DEFAULT_LM_FLUENCY_WEIGHT); without
   * one the decoder uses HotFlip proposals and the embedding distance only.
   */
  lm?: LanguageModel;
  signal?: AbortSignal;
  onProgress?: (e: InvertProgress) => void;
}

/**
 * Invert one image.
 * @param target CHW [-1,1]; width and height must be multiples of the VAE factor (8) and ≥ 64
 * @throws EngineError for bad input; cancellation during refinement or decoding returns the best
 *   result so far (with `stopped: 'cancelled'`), cancellation before refinement throws CancelledError
 */
export async function invert(m: InversionModels, target: TargetImage, o: InvertOptions): Promise<InvertResult> {
  const s = o.settings;
  const started = performance.now();
  const emit = (e: InvertProgress) => o.onProgress?.(e);
  const signal = o.signal ? { signal: o.signal } : {};
  checkTarget(m, target);

  const initialPrompt = await startText(m, target, o.init, { seed: s.seed, ...signal, emit });
  throwIfAborted(o.signal);
  const releases: (() => Promise<void>)[] = [];
  try {
    const r = await refineEmbedding(m, target, initialPrompt, s, { ...signal, emit, previews: o.onProgress !== undefined, releases });
    const d = await decodeSnapshots(m, r, initialPrompt, s, {
      ...(o.e2t ? { e2t: o.e2t } : {}),
      ...(o.lm ? { lm: o.lm } : {}),
      ...signal,
      emit,
      releases,
    });
    const prompts = promptsToRank(d, initialPrompt, r.refined.snapshots[0]!.loss);
    const candidates = await rankCandidates(m, prompts, r, target, s, { ...(o.scorer ? { scorer: o.scorer } : {}), ...signal, emit });
    emit({ phase: 'done' });
    return {
      initialPrompt,
      prompt: candidates[0]!.prompt,
      candidates,
      loss: r.refined.losses,
      iterations: r.refined.iterations,
      seconds: (performance.now() - started) / 1000,
      objective: s.objective,
      rankedBy: o.scorer ? 'clip' : 'pixel-mse',
      width: target.width,
      height: target.height,
      ...(o.lm ? { lm: o.lm.name, fluencyWeight: d.fluencyWeight } : {}),
      ...(r.refined.stopped ? { stopped: r.refined.stopped } : o.signal?.aborted ? { stopped: 'cancelled' as const } : {}),
      ...(r.refined.message ? { message: r.refined.message } : {}),
    };
  } finally {
    for (const release of releases.reverse()) await release().catch(() => undefined);
  }
}

function checkTarget(m: InversionModels, target: TargetImage): void {
  if (target.width < 64 || target.height < 64) {
    throw new EngineError('IMAGE', `the image is ${target.width}×${target.height}; inversion needs at least 64×64 pixels`);
  }
  if (target.width % m.vaeFactor !== 0 || target.height % m.vaeFactor !== 0) {
    throw new EngineError('INVALID_ARGUMENT', `inversion size ${target.width}×${target.height} must be a multiple of ${m.vaeFactor}`);
  }
  checkImageSize(sizeLimitModelForInversion(m), target.width, target.height, 'invert');
}
