/**
 * DAAM aggregation of captured cross-attention (docs/segmentation.md says why each choice):
 *
 *   token map  = mean over the selected layers of clamp₀(bicubic(Σ_steps A_layer[:, token]))
 *                (A is already the mean over heads, so every layer/head pair weighs the same when
 *                the layers have equal head counts, as in SD 1.5)
 *   word map   = mean of its tokens' maps (all sub-tokens, all occurrences)
 *   normalised = (map − min) / (max − min) per word
 *   mask       = normalised ≥ τ            (τ = 0.4 by default, DAAM's best on COCO-Gen)
 *   labels     = argmax over the words, background where the best word is below a threshold
 */
import { EngineError } from '../errors.js';
import { resizeBicubic } from './bicubic.js';
import type { CapturedAttention, LayerAttention } from './maps.js';

/** DAAM's mask threshold. */
export const DEFAULT_THRESHOLD = 0.4;

/** Which layers a heat map averages over. */
export interface LayerSelection {
  /**
   * Keep layers whose maps are at most this many times smaller than the latent per side
   * (default 4: SD 1.5's 64², 32² and 16² maps at 512 px, dropping the 8² ones as DAAM does).
   */
  maxFactor?: number;
  /** Also use the mid block's layers (default false: DAAM leaves them out). */
  includeMid?: boolean;
  /** Exactly these layers (names or indices); overrides maxFactor and includeMid. */
  only?: readonly (string | number)[];
}

export const DEFAULT_LAYER_SELECTION: Readonly<Required<Omit<LayerSelection, 'only'>>> = { maxFactor: 4, includeMid: false };

/**
 * The layers a selection keeps.
 * @throws EngineError('INVALID_ARGUMENT') when it keeps none (the message lists what there is)
 */
export function selectLayers(captured: CapturedAttention, sel: LayerSelection = {}): LayerAttention[] {
  const all = captured.layers;
  let kept: LayerAttention[];
  if (sel.only) {
    const want = new Set(sel.only.map(String));
    kept = all.filter((l) => want.has(l.layer.name) || want.has(String(l.layer.index)));
  } else {
    const maxFactor = sel.maxFactor ?? DEFAULT_LAYER_SELECTION.maxFactor;
    const includeMid = sel.includeMid ?? DEFAULT_LAYER_SELECTION.includeMid;
    kept = all.filter((l) => l.factor <= maxFactor && (includeMid || l.layer.block !== 'mid'));
  }
  if (kept.length === 0)
    throw new EngineError(
      'INVALID_ARGUMENT',
      `the layer selection keeps none of the ${all.length} cross-attention layers (${all
        .map((l) => `${l.layer.name} ${l.height}x${l.width}`)
        .join(', ')})`,
    );
  return kept;
}

export interface HeatMapOptions {
  /** Output size (default: the latent's). */
  height?: number;
  width?: number;
  layers?: LayerSelection;
}

function checkPosition(captured: CapturedAttention, t: number): void {
  if (!Number.isInteger(t) || t < 0 || t >= captured.positions)
    throw new EngineError('INVALID_ARGUMENT', `token position ${t} is outside the ${captured.positions} text positions`);
}

/**
 * The raw heat map of one text position: per selected layer the step sum of its column, bicubic
 * to the output size, clamped at 0, averaged over the layers. Row-major height×width.
 */
export function tokenHeatMap(captured: CapturedAttention, position: number, opts: HeatMapOptions = {}): Float32Array {
  return wordHeatMap(captured, [position], opts);
}

/** The raw heat map of a word: the mean of its positions' token maps (see tokenHeatMap). */
export function wordHeatMap(captured: CapturedAttention, positions: readonly number[], opts: HeatMapOptions = {}): Float32Array {
  if (positions.length === 0) throw new EngineError('INVALID_ARGUMENT', 'a word needs at least one token position');
  for (const t of positions) checkPosition(captured, t);
  const H = opts.height ?? captured.latentHeight;
  const W = opts.width ?? captured.latentWidth;
  const layers = selectLayers(captured, opts.layers);
  const out = new Float32Array(H * W);
  for (const l of layers) {
    const n = l.height * l.width;
    const column = new Float32Array(n);
    for (const t of positions) {
      for (let p = 0; p < n; p++) column[p] = l.data[p * l.positions + t]!;
      const up = resizeBicubic(column, l.height, l.width, H, W);
      for (let i = 0; i < out.length; i++) out[i] = out[i]! + Math.max(0, up[i]!);
    }
  }
  const k = 1 / (layers.length * positions.length);
  for (let i = 0; i < out.length; i++) out[i] = out[i]! * k;
  return out;
}

/** (map − min) / (max − min); a constant map (nothing to tell apart) becomes all zeros. */
export function normaliseMinMax(map: ArrayLike<number>): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < map.length; i++) {
    const v = map[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = new Float32Array(map.length);
  const range = hi - lo;
  if (!(range > 0)) return out;
  for (let i = 0; i < map.length; i++) out[i] = (map[i]! - lo) / range;
  return out;
}

/** 1 where `map` ≥ τ, else 0. */
export function thresholdMask(map: ArrayLike<number>, threshold: number): Uint8Array {
  const out = new Uint8Array(map.length);
  for (let i = 0; i < map.length; i++) out[i] = map[i]! >= threshold ? 1 : 0;
  return out;
}

/**
 * Multi-label mask: per pixel 1 + the index of the word with the highest (normalised) map, or 0
 * (background) where that highest value is below `background`. Ties go to the earlier word.
 */
export function multiLabel(maps: readonly ArrayLike<number>[], background: number): Uint8Array {
  if (maps.length > 255) throw new EngineError('INVALID_ARGUMENT', `at most 255 words fit a label image (got ${maps.length})`);
  const n = maps[0]?.length ?? 0;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = -Infinity;
    let label = 0;
    maps.forEach((m, k) => {
      if (m[i]! > best) {
        best = m[i]!;
        label = k + 1;
      }
    });
    out[i] = best >= background ? label : 0;
  }
  return out;
}

/** Fraction of 1s in a mask. */
export function maskArea(mask: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < mask.length; i++) s += mask[i]!;
  return mask.length ? s / mask.length : 0;
}
