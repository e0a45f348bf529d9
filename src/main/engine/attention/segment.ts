/**
 * Captured attention + prompt -> per-word heat maps, masks and a multi-label mask.
 *
 * Word maps are aggregated at the latent size (DAAM works at 64×64 for 512 px images), normalised,
 * then resized bicubically to the output size (the image's), where the masks are thresholded.
 */
import { EngineError } from '../errors.js';
import type { ClipTokenizer } from '../diffusion/tokenizer/index.js';
import { resizeBicubic } from './bicubic.js';
import {
  DEFAULT_THRESHOLD,
  maskArea,
  multiLabel,
  normaliseMinMax,
  selectLayers,
  thresholdMask,
  wordHeatMap,
  type LayerSelection,
} from './aggregate.js';
import type { CapturedAttention } from './maps.js';
import { defaultWords, lookupWord, promptWords, type PromptWords, type WordTokens } from './words.js';

export interface SegmentOptions {
  /** Words to segment (default: the prompt's words without stop words; see words.ts). */
  words?: readonly string[];
  /** Mask threshold τ on the normalised map (default 0.4). */
  threshold?: number;
  /** Multi-label background: pixels whose best word is below this are background (default: τ). */
  backgroundThreshold?: number;
  layers?: LayerSelection;
  /** Output size, pixels (default: the latent size × 8, i.e. the image's). */
  width?: number;
  height?: number;
}

export interface WordSegment {
  word: string;
  /** Text positions averaged (all sub-tokens of all occurrences). */
  positions: number[];
  tokens: string[];
  occurrences: number;
  /** Normalised heat map in [0, 1], height×width row-major. */
  heat: Float32Array;
  /** heat ≥ τ, 0/1. */
  mask: Uint8Array;
  /** Fraction of the image in the mask. */
  area: number;
}

/** Where the maps came from: the image's own sampling, or noising a given image. */
export type SegmentationSource = 'generation' | 'noising';

export interface Segmentation {
  prompt: string;
  width: number;
  height: number;
  threshold: number;
  backgroundThreshold: number;
  words: WordSegment[];
  /** 0 = background, k + 1 = words[k]; height×width. */
  labels: Uint8Array;
  /** Names of the layers averaged. */
  layers: string[];
  /** Timesteps whose maps were summed. */
  timesteps: number[];
  source?: SegmentationSource;
}

function checkFraction(name: string, v: number): void {
  if (!Number.isFinite(v) || v < 0 || v > 1) throw new EngineError('INVALID_ARGUMENT', `${name} must be a number from 0 to 1 (got ${v})`);
}

/** What a segmentation will compute, resolved before any model runs. */
export interface SegmentationPlan {
  words: WordTokens[];
  threshold: number;
  backgroundThreshold: number;
}

/**
 * Resolve the words (default or asked) and thresholds of a segmentation, so bad input fails
 * before any model runs.
 * @throws EngineError('INVALID_ARGUMENT') for an empty prompt, a word not in it, a bad threshold
 */
export function planSegmentation(tokenizer: ClipTokenizer, prompt: string, opts: SegmentOptions = {}): SegmentationPlan {
  const threshold = opts.threshold ?? DEFAULT_THRESHOLD;
  checkFraction('the threshold', threshold);
  const backgroundThreshold = opts.backgroundThreshold ?? threshold;
  checkFraction('the background threshold', backgroundThreshold);
  const pw: PromptWords = promptWords(tokenizer, prompt);
  const asked = opts.words && opts.words.length > 0 ? opts.words : defaultWords(pw);
  const seen = new Set<string>();
  const words = asked
    .map((w) => lookupWord(pw, w))
    .filter((l) => {
      const k = l.word.toLowerCase();
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  return { words, threshold, backgroundThreshold };
}

/**
 * Segment captured attention by the words of `prompt` (the prompt the maps were captured with).
 * @throws EngineError('INVALID_ARGUMENT') for an empty prompt, a word not in it, a bad threshold,
 *   or a layer selection that keeps nothing
 */
export function segmentCaptured(
  tokenizer: ClipTokenizer,
  prompt: string,
  captured: CapturedAttention,
  opts: SegmentOptions = {},
): Segmentation {
  const { words: unique, threshold, backgroundThreshold: background } = planSegmentation(tokenizer, prompt, opts);
  const width = opts.width ?? captured.latentWidth * 8;
  const height = opts.height ?? captured.latentHeight * 8;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
    throw new EngineError('INVALID_ARGUMENT', `output size ${width}x${height} must be positive integers`);
  const layers = selectLayers(captured, opts.layers);
  const h = captured.latentHeight;
  const w = captured.latentWidth;
  const words: WordSegment[] = unique.map((l) => {
    const raw = wordHeatMap(captured, l.positions, { height: h, width: w, ...(opts.layers ? { layers: opts.layers } : {}) });
    const norm = normaliseMinMax(raw);
    const heat = resizeBicubic(norm, h, w, height, width);
    for (let i = 0; i < heat.length; i++) heat[i] = Math.min(1, Math.max(0, heat[i]!));
    const mask = thresholdMask(heat, threshold);
    return { word: l.word, positions: l.positions, tokens: l.tokens, occurrences: l.occurrences, heat, mask, area: maskArea(mask) };
  });
  return {
    prompt,
    width,
    height,
    threshold,
    backgroundThreshold: background,
    words,
    labels: multiLabel(
      words.map((x) => x.heat),
      background,
    ),
    layers: layers.map((l) => l.layer.name),
    timesteps: [...captured.timesteps],
  };
}
