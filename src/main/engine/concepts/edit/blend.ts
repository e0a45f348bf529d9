/**
 * Local blend (prompt-to-prompt's LocalBlend): a mask on the latent grid from the attention maps
 * of the edited words, and the blend that keeps the source latent outside it,
 * `x_t = x_src + mask · (x_t − x_src)`.
 *
 *   per word   DAAM word map (attention/aggregate.ts: step sum, bicubic to the latent, clamp ≥ 0,
 *              mean over the selected layers and the word's tokens), divided by its maximum
 *   words      the maximum over the words (source side: removed and replaced words from the
 *              source run's maps; edited side: inserted and replacing words from the edited run's)
 *   dilation   max-pool of radius `dilate` latent pixels (prompt-to-prompt: 3×3)
 *   mask       > threshold (prompt-to-prompt: 0.3); union of both sides
 *
 * prompt-to-prompt uses SD's 16×16 maps only; this uses the segmentation's layer choice (every
 * down/up layer at most `maxFactor` times smaller per side than the latent), which also works on
 * the shapes set's 8×8 latent, where 16×16 maps do not exist.
 */
import { EngineError } from '../../errors.js';
import { mapSize, wordHeatMap, type CapturedAttention, type LayerAttention } from '../../attention/index.js';
import type { LayerProbabilities } from './control-session.js';

/** One layer's probabilities as the segmentation's maps: the mean over heads, [queries, keys]. */
export function headMean(p: LayerProbabilities, latentHeight: number, latentWidth: number): LayerAttention {
  if (!p.layer.cross) throw new EngineError('INVALID_ARGUMENT', `layer ${p.layer.name} is not a cross-attention layer`);
  const n = p.queries * p.keys;
  const data = new Float32Array(n);
  for (let h = 0; h < p.heads; h++) for (let i = 0; i < n; i++) data[i] = data[i]! + p.data[h * n + i]!;
  const k = 1 / p.heads;
  for (let i = 0; i < n; i++) data[i] = data[i]! * k;
  return { layer: p.layer.cross, ...mapSize(p.queries, latentHeight, latentWidth), positions: p.keys, data };
}

/** Max-pool of radius r (a (2r+1)² window, clipped at the borders). */
export function dilate(map: Float32Array, h: number, w: number, r: number): Float32Array {
  if (r <= 0) return map;
  const out = new Float32Array(map.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let m = -Infinity;
      for (let dy = Math.max(0, y - r); dy <= Math.min(h - 1, y + r); dy++)
        for (let dx = Math.max(0, x - r); dx <= Math.min(w - 1, x + r); dx++) m = Math.max(m, map[dy * w + dx]!);
      out[y * w + x] = m;
    }
  return out;
}

export interface MaskOptions {
  threshold: number;
  dilate: number;
  maxFactor: number;
}

/**
 * The words' soft map on the latent grid, in [0, 1] (each word divided by its maximum, maximum
 * over the words, dilated); all zeros without words or maps.
 */
export function wordsMap(
  captured: CapturedAttention | undefined,
  words: readonly { positions: readonly number[] }[],
  opts: Pick<MaskOptions, 'dilate' | 'maxFactor'>,
): Float32Array {
  const h = captured?.latentHeight ?? 0;
  const w = captured?.latentWidth ?? 0;
  const out = new Float32Array(h * w);
  if (!captured) return out;
  for (const word of words) {
    if (word.positions.length === 0) continue;
    const raw = wordHeatMap(captured, word.positions, { height: h, width: w, layers: { maxFactor: opts.maxFactor } });
    let max = 0;
    for (const v of raw) max = Math.max(max, v);
    if (!(max > 0)) continue;
    for (let i = 0; i < out.length; i++) out[i] = Math.max(out[i]!, raw[i]! / max);
  }
  return dilate(out, h, w, opts.dilate);
}

/** The edit's mask on the latent grid (0/1, h·w): union of both sides' word maps above the threshold. */
export function editMask(
  source: CapturedAttention | undefined,
  edited: CapturedAttention | undefined,
  words: { source: readonly { positions: readonly number[] }[]; edited: readonly { positions: readonly number[] }[] },
  h: number,
  w: number,
  opts: MaskOptions,
): Uint8Array {
  const mask = new Uint8Array(h * w);
  for (const [cap, list] of [
    [source, words.source],
    [edited, words.edited],
  ] as const) {
    if (!cap || list.length === 0) continue;
    if (cap.latentHeight !== h || cap.latentWidth !== w)
      throw new EngineError('SHAPE_MISMATCH', `attention maps of a ${cap.latentHeight}x${cap.latentWidth} latent for a ${h}x${w} mask`);
    const m = wordsMap(cap, list, opts);
    for (let i = 0; i < mask.length; i++) if (m[i]! > opts.threshold) mask[i] = 1;
  }
  return mask;
}

/**
 * `x_src + mask · (x − x_src)` for a 0/1 mask over the latent grid, every channel: the source's
 * values, exactly, outside the mask.
 * @param x, xSrc [C·h·w]
 * @param mask [h·w]
 */
export function blendLatents(x: Float32Array, xSrc: Float32Array, mask: Uint8Array): Float32Array {
  if (x.length !== xSrc.length || x.length % mask.length !== 0)
    throw new EngineError('SHAPE_MISMATCH', `cannot blend latents of ${x.length} and ${xSrc.length} values with a mask of ${mask.length}`);
  const hw = mask.length;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = mask[i % hw] ? x[i]! : xSrc[i]!;
  return out;
}

/** A latent-grid mask at image size: each latent pixel covers `factor`×`factor` image pixels. */
export function upsampleMask(mask: Uint8Array, h: number, w: number, factor: number): Uint8Array {
  const W = w * factor;
  const out = new Uint8Array(h * factor * W);
  for (let y = 0; y < h * factor; y++)
    for (let x = 0; x < W; x++) out[y * W + x] = mask[Math.floor(y / factor) * w + Math.floor(x / factor)]!;
  return out;
}
