/**
 * Region masks for `regions` fusion, at the latent's resolution (h×w, row-major): each parent's
 * noise prediction counts where its mask is, eps = Σᵢ Mᵢ·epsᵢ with Σᵢ Mᵢ = 1 at every pixel.
 *
 * - `left` / `right` / `top` / `bottom`: a half of the canvas with a soft edge (a linear ramp an
 *   eighth of the side wide), `full`: all of it;
 * - `attention`: where the parent's own subject words attend in its image (or in a generation of
 *   its prompt): the pixel-wise max of their min–max normalised DAAM maps. Words whose mask covers
 *   more than half the canvas at τ (backgrounds, styles) are left out: they would claim everything.
 *
 * Every mask gets a small floor before normalising, so a pixel no parent claims is shared equally.
 */
import { DEFAULT_THRESHOLD, normaliseMinMax, thresholdMask, maskArea, wordHeatMap } from '../../attention/aggregate.js';
import type { CapturedAttention } from '../../attention/maps.js';
import { defaultWords, lookupWord, promptWords } from '../../attention/words.js';
import type { ClipTokenizer } from '../../diffusion/tokenizer/index.js';
import { EngineError } from '../../errors.js';
import type { RegionName } from './types.js';

/** Weight every pixel keeps in every mask before normalisation (unclaimed pixels are shared). */
export const MASK_FLOOR = 0.02;

/** Default regions: 2 parents left/right; more: vertical strips in parent order. */
export function defaultRegions(n: number): (RegionName | { strip: number; of: number })[] {
  if (n === 2) return ['left', 'right'];
  return Array.from({ length: n }, (_, i) => ({ strip: i, of: n }));
}

/** A soft 0..1 ramp: 0 below `edge - half`, 1 above `edge + half`. */
function ramp(v: number, edge: number, half: number): number {
  if (half <= 0) return v >= edge ? 1 : 0;
  return Math.min(1, Math.max(0, (v - (edge - half)) / (2 * half)));
}

/** A geometric region mask (values in [0, 1]) on an h×w grid; pixel centres at (x + 0.5) / w. */
export function geometricMask(region: RegionName | { strip: number; of: number }, h: number, w: number): Float32Array {
  const out = new Float32Array(h * w);
  const feather = 1 / 16;
  for (let y = 0; y < h; y++) {
    const v = (y + 0.5) / h;
    for (let x = 0; x < w; x++) {
      const u = (x + 0.5) / w;
      let m: number;
      if (typeof region === 'object') {
        const a = region.strip / region.of;
        const b = (region.strip + 1) / region.of;
        m = Math.min(region.strip === 0 ? 1 : ramp(u, a, feather), region.strip === region.of - 1 ? 1 : 1 - ramp(u, b, feather));
      } else
        switch (region) {
          case 'left':
            m = 1 - ramp(u, 0.5, feather);
            break;
          case 'right':
            m = ramp(u, 0.5, feather);
            break;
          case 'top':
            m = 1 - ramp(v, 0.5, feather);
            break;
          case 'bottom':
            m = ramp(v, 0.5, feather);
            break;
          case 'full':
            m = 1;
            break;
          default:
            throw new EngineError('INVALID_ARGUMENT', `'${region}' is not a geometric region`);
        }
      out[y * w + x] = m;
    }
  }
  return out;
}

/**
 * The attention mask of a prompt over captured attention, at h×w: max over its subject words of
 * their normalised maps (see the file comment for which words).
 * @returns the mask and the words used
 */
export function attentionMask(
  tokenizer: ClipTokenizer,
  prompt: string,
  captured: CapturedAttention,
  h: number,
  w: number,
  threshold = DEFAULT_THRESHOLD,
): { mask: Float32Array; words: string[] } {
  const pw = promptWords(tokenizer, prompt);
  const maps = defaultWords(pw).map((word) => ({
    word,
    heat: normaliseMinMax(wordHeatMap(captured, lookupWord(pw, word).positions, { height: h, width: w })),
  }));
  let used = maps.filter((m) => maskArea(thresholdMask(m.heat, threshold)) <= 0.5);
  if (used.length === 0) used = maps;
  const mask = new Float32Array(h * w);
  for (const m of used) for (let i = 0; i < mask.length; i++) mask[i] = Math.max(mask[i]!, m.heat[i]!);
  return { mask, words: used.map((m) => m.word) };
}

/**
 * Per-pixel normalised masks: Mᵢ = sᵢ·(mᵢ + floor) / Σⱼ sⱼ·(mⱼ + floor), sᵢ the parents' scales
 * (their weights). Returns the masks and each one's share of the canvas (mean value).
 */
export function normaliseMasks(masks: readonly Float32Array[], scales?: readonly number[]): { masks: Float32Array[]; shares: number[] } {
  const n = masks[0]?.length ?? 0;
  const out = masks.map(() => new Float32Array(n));
  for (let p = 0; p < n; p++) {
    let sum = 0;
    masks.forEach((m, i) => (sum += (scales?.[i] ?? 1) * (m[p]! + MASK_FLOOR)));
    masks.forEach((m, i) => (out[i]![p] = sum > 0 ? ((scales?.[i] ?? 1) * (m[p]! + MASK_FLOOR)) / sum : 1 / masks.length));
  }
  return { masks: out, shares: out.map((m) => (n ? m.reduce((a, b) => a + b, 0) / n : 0)) };
}
