/**
 * EDITOR end to end: initialise from a caption (or the user's text, or random words), refine the
 * text-encoder output through the diffusion model, decode the snapshots to text, regenerate
 * each candidate and keep the one whose image is closest to the target.
 */
import { CancelledError, EngineError, throwIfAborted } from '../errors.js';
import { HotFlipDecoder } from '../e2t/hotflip-decoder.js';
import { createTextEncoderOracle } from '../e2t/text-encoder-oracle.js';
import type { LanguageModel } from '../e2t/language-model.js';
import type { DecodeResult, EmbeddingToText } from '../e2t/types.js';
import { chwToRgbBytes, imageToPng } from '../image/image-io.js';
import { captionImage, captionWith, type Captioner, type CaptionerName } from './captioner.js';
import { createDenoiseObjective } from './denoise-objective.js';
import type { InversionModels } from './inversion-models.js';
import { cyclicLr } from './lr-schedule.js';
import { createOptimiser } from './optimiser.js';
import { DEFAULT_LM_FLUENCY_WEIGHT, type InvertSettings } from './presets.js';
import { positionMask, refine, type Objective, type RefineResult } from './refine.js';
import { randomStartText } from './random-start.js';
import { createRenderer } from './embedding-renderer.js';
import { createSamplerObjective } from './sampler-objective.js';

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

function mse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
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
  if (target.width < 64 || target.height < 64) {
    throw new EngineError('IMAGE', `the image is ${target.width}×${target.height}; inversion needs at least 64×64 pixels`);
  }
  if (target.width % m.vaeFactor !== 0 || target.height % m.vaeFactor !== 0) {
    throw new EngineError('INVALID_ARGUMENT', `inversion size ${target.width}×${target.height} must be a multiple of ${m.vaeFactor}`);
  }

  // 1. Initial text.
  let initialPrompt: string;
  if (o.init.kind === 'text') {
    initialPrompt = o.init.text.trim();
    if (!initialPrompt) throw new EngineError('INVALID_ARGUMENT', 'the initial text is empty');
  } else if (o.init.kind === 'caption') {
    emit({ phase: 'captioning' });
    const rgb = { data: chwToRgbBytes(target.data, target.width, target.height), width: target.width, height: target.height };
    initialPrompt = o.init.instance
      ? await captionWith(o.init.instance, rgb, o.signal)
      : await captionImage(rgb, {
          cacheDir: o.init.cacheDir,
          ...(o.init.captioner ? { captioner: o.init.captioner } : {}),
          ...(o.init.offline !== undefined ? { offline: o.init.offline } : {}),
          ...(o.init.device ? { device: o.init.device } : {}),
          ...(o.signal ? { signal: o.signal } : {}),
        });
  } else {
    initialPrompt = randomStartText(m.tokenizer, o.init.words ?? 8, s.seed);
    if (!initialPrompt)
      throw new EngineError('INVALID_ARGUMENT', 'the tokenizer has no whole-word tokens to start from: give an initial text');
  }
  throwIfAborted(o.signal);

  // 2. Encode.
  emit({ phase: 'encoding', message: initialPrompt });
  const { embedding: c0, length } = await m.encodePrompt(initialPrompt);
  const { embedding: uncond } = await m.encodePrompt('');
  const renderer = await createRenderer(m, {
    width: target.width,
    height: target.height,
    steps: s.steps,
    scheduler: s.scheduler,
    guidance: s.guidance,
    seed: s.seed,
    uncond,
  });
  let objective: Objective & { release(): Promise<void> };
  const releases: (() => Promise<void>)[] = [() => renderer.release()];
  try {
    if (s.objective === 'pixel') {
      objective = await createSamplerObjective(m, renderer, { kind: 'pixel', target: target.data });
    } else {
      if (!m.encodeLatent)
        throw new EngineError(
          'MODEL_FOLDER',
          `the ${s.objective} objective needs a VAE encoder (vae_encoder/model.onnx) in the model folder`,
        );
      const targetLatent = await m.encodeLatent(target);
      objective =
        s.objective === 'latent'
          ? await createSamplerObjective(m, renderer, { kind: 'latent', target: targetLatent })
          : await createDenoiseObjective(m, { targetLatent, width: target.width, height: target.height, seed: s.seed });
    }
    releases.push(() => objective.release());

    // 3. Refine.
    const refined: RefineResult = await refine(c0, objective, {
      iterations: s.iterations,
      optimiser: createOptimiser(s.optimiser, c0.length),
      lr: cyclicLr({ base: s.lrBase, max: s.lrMax, stepsUp: s.lrStepsUp, stepsDown: s.lrStepsDown }),
      mask: positionMask(m.tokens, m.dim, length, s.includePadding),
      snapshotEvery: s.snapshotEvery,
      ...(o.signal ? { signal: o.signal } : {}),
      onProgress: (e) =>
        emit({
          phase: 'refining',
          iteration: e.iteration,
          total: e.total,
          loss: e.loss,
          bestLoss: e.bestLoss,
          lr: e.lr,
          etaSeconds: e.etaSeconds,
        }),
      onIteration: async (it, c) => {
        if (s.previewEvery > 0 && it % s.previewEvery === 0 && o.onProgress) {
          const img = await renderer.render(c);
          emit({ phase: 'refining', iteration: it, total: s.iterations, previewPng: await imageToPng(img, target.width, target.height) });
        }
      },
    });
    if (refined.snapshots.length === 0) {
      // Nothing finite was ever measured: a NaN/Inf at the first iteration is not a cancellation.
      if (refined.stopped === 'non-finite') {
        throw new EngineError(
          'NUMERIC',
          `the ${s.objective} loss is not finite at the first iteration, so there is nothing to refine or keep ` +
            `(the start text or the image gives NaN/Inf through the model); try another start text or objective`,
        );
      }
      throw new CancelledError('cancelled before the first iteration finished');
    }

    // 4. Decode each snapshot (after a cancellation, only the best one).
    emit({ phase: 'decoding', total: refined.snapshots.length });
    let oracle: Awaited<ReturnType<typeof createTextEncoderOracle>> | undefined;
    let e2t = o.e2t;
    if (!e2t) {
      oracle = await createTextEncoderOracle(m.textEncoder, m.tokenizer, m.sessionOptions ? { sessionOptions: m.sessionOptions } : {});
      releases.push(() => oracle!.release());
      e2t = new HotFlipDecoder(oracle, o.lm ? { lm: o.lm } : {});
    }
    const fluencyWeight = o.lm ? (s.fluencyWeight ?? DEFAULT_LM_FLUENCY_WEIGHT) : 0;
    // A cancellation during refinement still decodes the best snapshot in full (that decoding is
    // the result); one during decoding stops the decoder and keeps the best text it had.
    const decodeSignal = o.signal && !o.signal.aborted ? o.signal : undefined;
    const decoded: { prompt: string; iteration: number; loss: number; e2tDistance: number }[] = [];
    const alternatives: typeof decoded = [];
    let hypothesis = initialPrompt;
    const lastIndex = refined.snapshots.length - 1;
    for (let k = 0; k <= lastIndex; k++) {
      // Once cancelled, skip to the last snapshot (the best embedding): it is the result worth
      // decoding, the earlier ones are only alternatives.
      if (o.signal?.aborted && k < lastIndex) k = lastIndex;
      const snap = refined.snapshots[k]!;
      // Texts already competing in the ranking: runners-up equal to one of them add nothing, so
      // the last decoding is asked for enough of them to leave rankAlternatives new ones.
      const taken = new Set([initialPrompt, ...decoded.map((d) => d.prompt)]);
      const nBest = k === lastIndex && s.rankAlternatives > 0 ? s.rankAlternatives + 1 + taken.size : undefined;
      let d: DecodeResult;
      try {
        d = await e2t.decode(
          { data: snap.embedding, tokens: m.tokens, dim: m.dim, length },
          {
            init: hypothesis,
            beam: s.e2tBeam,
            maxRounds: s.e2tRounds,
            fluencyWeight,
            ...(nBest ? { nBest } : {}),
            ...(decodeSignal ? { signal: decodeSignal } : {}),
          },
        );
      } catch (e) {
        if (!(e instanceof CancelledError) || !o.signal?.aborted) throw e;
        // The decoder's best text so far is this snapshot's (final) decoding; a decoder that
        // does not report one leaves the snapshots decoded before it.
        const partial = e.partial as { text?: unknown; distance?: unknown } | undefined;
        if (typeof partial?.text === 'string' && typeof partial.distance === 'number') {
          decoded.push({ prompt: partial.text, iteration: snap.iteration, loss: snap.loss, e2tDistance: partial.distance });
          emit({ phase: 'decoding', iteration: k + 1, total: refined.snapshots.length, message: partial.text });
        }
        break;
      }
      hypothesis = d.text;
      decoded.push({ prompt: d.text, iteration: snap.iteration, loss: snap.loss, e2tDistance: d.distance });
      if (k === lastIndex) {
        // The best embedding's runners-up: near-equal in embedding distance, so only
        // regeneration can tell which reproduces the image best.
        taken.add(d.text);
        for (const alt of d.alternatives) {
          if (alternatives.length === s.rankAlternatives) break;
          if (taken.has(alt.text)) continue;
          taken.add(alt.text);
          alternatives.push({ prompt: alt.text, iteration: snap.iteration, loss: snap.loss, e2tDistance: alt.distance });
        }
      }
      emit({ phase: 'decoding', iteration: k + 1, total: refined.snapshots.length, message: d.text });
    }

    // 5. Rank: regenerate each distinct prompt (the initial one and the best snapshot's
    // runners-up compete too). The prompt of the best embedding goes first, so a cancelled run
    // still ranks (and returns) it.
    const unique = new Map<string, (typeof decoded)[number]>();
    const bestDecoded = decoded.at(-1);
    if (bestDecoded) unique.set(bestDecoded.prompt, bestDecoded);
    if (!unique.has(initialPrompt))
      unique.set(initialPrompt, { prompt: initialPrompt, iteration: 0, loss: refined.snapshots[0]!.loss, e2tDistance: 0 });
    for (const d of [...decoded, ...alternatives]) if (!unique.has(d.prompt)) unique.set(d.prompt, d);
    const candidates: Candidate[] = [];
    let index = 0;
    for (const d of unique.values()) {
      if (o.signal?.aborted && candidates.length > 0) break;
      emit({ phase: 'ranking', iteration: ++index, total: unique.size, message: d.prompt });
      const { embedding } = await m.encodePrompt(d.prompt);
      const img = await renderer.render(embedding, { steps: s.rankSteps });
      const regenerated = { data: img, width: target.width, height: target.height };
      const score = o.scorer ? await o.scorer.score(regenerated, target) : -mse(img, target.data);
      candidates.push({ ...d, score, png: await imageToPng(img, target.width, target.height) });
    }
    candidates.sort((a, b) => b.score - a.score);
    emit({ phase: 'done' });
    return {
      initialPrompt,
      prompt: candidates[0]!.prompt,
      candidates,
      loss: refined.losses,
      iterations: refined.iterations,
      seconds: (performance.now() - started) / 1000,
      objective: s.objective,
      rankedBy: o.scorer ? 'clip' : 'pixel-mse',
      width: target.width,
      height: target.height,
      ...(o.lm ? { lm: o.lm.name, fluencyWeight } : {}),
      ...(refined.stopped ? { stopped: refined.stopped } : o.signal?.aborted ? { stopped: 'cancelled' as const } : {}),
      ...(refined.message ? { message: refined.message } : {}),
    };
  } finally {
    for (const r of releases.reverse()) await r().catch(() => undefined);
  }
}
