/**
 * Token alignment for attention control: which of the source prompt's text positions each position
 * of the edited prompt takes its cross-attention from (prompt-to-prompt's mapper), from the
 * word-level diff.
 *
 *   kept words          their tokens 1:1 (a word tokenises the same wherever it stands)
 *   replaced words      (`replace`, default) the old word's tokens -> the new word's: 1:1 when the
 *                       counts agree, else every new token takes the old tokens' sum / n, so the
 *                       word's total attention stays the old word's ("cat" -> "zebracorn": the new
 *                       word is drawn where the old one was). Pairs word by word when both sides of
 *                       the change have as many words, else the whole spans
 *   inserted words      none: they keep their own attention (refine)
 *   removed words       nothing maps to them: their attention leaves the edited prompt
 *   BOS                 0 -> 0
 *   EOS and padding     edited EOS + k <- source EOS + k (they carry much of the attention mass)
 *   reweight            a mapped column is scaled by edited weight / source weight
 *
 * In attention mode the emphasis change of a mapped word goes into that column scale, so its
 * text-encoder row keeps the source's weight (`embeddingWeights`); unmapped words keep the
 * weight they are written with.
 */
import { EngineError } from '../../errors.js';
import { parseWeightedText } from '../../diffusion/prompt-weights.js';
import type { ClipTokenizer } from '../../diffusion/tokenizer/index.js';
import { promptWords, type PromptWords } from '../../attention/words.js';
import { diffWords, type DiffWord, type PromptDiff } from '../../../../shared/prompt-diff.js';

/** A prompt as the engine reads it: its diff words with token positions. */
export interface TokenisedPrompt {
  prompt: string;
  words: DiffWord[];
  pieces: PromptWords;
  /** Position of EOS (1 + content tokens in the window). */
  eos: number;
}

/**
 * The diff words of a prompt with their text-encoder positions (only words inside the token window).
 * @throws EngineError('INVALID_ARGUMENT') for a prompt without words (as promptWords does)
 */
export function tokenisePrompt(tokenizer: ClipTokenizer, prompt: string): TokenisedPrompt {
  const pieces = promptWords(tokenizer, prompt);
  const { weights } = parseWeightedText(prompt);
  const words: DiffWord[] = pieces.pieces.map((p) => ({
    text: p.text,
    key: p.key,
    weight: weights?.[p.start] ?? 1,
    start: p.start,
    end: p.end,
    ...(p.source ? { source: p.source } : {}),
    isWord: p.isWord,
    positions: [...p.positions],
  }));
  const last = pieces.pieces[pieces.pieces.length - 1];
  const eos = last ? last.positions[last.positions.length - 1]! + 1 : 1;
  return { prompt, words, pieces, eos };
}

/** The word-level diff of two tokenised prompts (words past the token window take no part). */
export function diffTokenised(source: TokenisedPrompt, edited: TokenisedPrompt): PromptDiff {
  return diffWords(source.prompt, edited.prompt, source.words, edited.words);
}

/** One source column feeding an edited position: `weight · P_source[..., position]`. */
export interface MappedSource {
  position: number;
  weight: number;
}

export interface TokenMapping {
  /** Text positions (77). */
  positions: number;
  /** Per edited position: the source columns its attention is taken from, or null (its own attention). */
  sources: (readonly MappedSource[] | null)[];
  /** Per edited position: the emphasis weight its text-encoder row gets in attention mode. */
  embeddingWeights: Float32Array;
  /** Every position takes the same source position with weight 1 (a same-length swap: prompt-to-prompt's replace). */
  identity: boolean;
}

export interface MappingOptions {
  /** Replaced words take the old words' attention (default true); false: they keep their own (refine). */
  replace?: boolean;
}

/**
 * The token mapping of a diff whose word lists carry positions (diffTokenised).
 * @param positions text positions of the encoder (77)
 * @throws EngineError('INVALID_ARGUMENT') when the diff's words have no token positions
 */
export function tokenMapping(
  diff: PromptDiff,
  sourceEos: number,
  editedEos: number,
  positions: number,
  opts: MappingOptions = {},
): TokenMapping {
  const replace = opts.replace ?? true;
  const sources: (MappedSource[] | null)[] = Array.from({ length: positions }, () => null);
  const embeddingWeights = new Float32Array(positions).fill(1);
  const pos = (w: DiffWord): number[] => {
    if (!w.positions) throw new EngineError('INVALID_ARGUMENT', 'tokenMapping needs a diff of tokenised prompts (diffTokenised)');
    return w.positions;
  };
  for (const w of diff.edited) for (const p of pos(w)) embeddingWeights[p] = w.weight;

  /** Map the tokens of source words `from` onto those of edited words `to`. */
  const mapWords = (from: readonly DiffWord[], to: readonly DiffWord[]): void => {
    const sp = from.flatMap(pos);
    const ep = to.flatMap(pos);
    const ws = from[0]!.weight;
    const we = to[0]!.weight;
    if (sp.length === 0 || ep.length === 0 || !(ws > 0)) return;
    const scale = we / ws;
    ep.forEach((e, k) => {
      sources[e] =
        sp.length === ep.length ? [{ position: sp[k]!, weight: scale }] : sp.map((s) => ({ position: s, weight: scale / ep.length }));
      embeddingWeights[e] = ws;
    });
  };

  for (const [s, e] of diff.matches) mapWords([diff.source[s]!], [diff.edited[e]!]);
  if (replace)
    for (const edit of diff.edits) {
      if (edit.kind !== 'replacement') continue;
      const from = diff.source.slice(edit.source.from, edit.source.to).filter((w) => w.isWord);
      const to = diff.edited.slice(edit.edited.from, edit.edited.to).filter((w) => w.isWord);
      if (from.length === 0 || to.length === 0) continue;
      if (from.length === to.length) from.forEach((w, k) => mapWords([w], [to[k]!]));
      else mapWords(from, to);
    }
  sources[0] = [{ position: 0, weight: 1 }];
  for (let k = 0; editedEos + k < positions && sourceEos + k < positions; k++)
    sources[editedEos + k] = [{ position: sourceEos + k, weight: 1 }];

  const identity = sources.every((s, p) => s !== null && s.length === 1 && s[0]!.position === p && s[0]!.weight === 1);
  return { positions, sources, embeddingWeights, identity };
}

/**
 * The edited prompt's cross-attention for the mapped positions, from the source's:
 * `out[..., e] = Σ weight · source[..., position]` over sources[e] (null positions are left 0).
 * @param source [rows, positions] row-major (rows = heads · queries)
 * @returns [rows, positions] plus the mask of mapped positions
 */
export function mapAttention(source: Float32Array, mapping: TokenMapping): Float32Array {
  const T = mapping.positions;
  if (source.length % T !== 0)
    throw new EngineError('SHAPE_MISMATCH', `attention of ${source.length} values is not a multiple of ${T} positions`);
  const rows = source.length / T;
  const out = new Float32Array(source.length);
  mapping.sources.forEach((list, e) => {
    if (!list) return;
    if (list.length === 1 && list[0]!.weight === 1) {
      const s = list[0]!.position;
      for (let r = 0; r < rows; r++) out[r * T + e] = source[r * T + s]!;
      return;
    }
    for (let r = 0; r < rows; r++) {
      let v = 0;
      for (const { position, weight } of list) v += weight * source[r * T + position]!;
      out[r * T + e] = v;
    }
  });
  return out;
}

/** 1 for the positions whose attention the mapping replaces, 0 for those that keep their own. */
export function mappedPositions(mapping: TokenMapping): Uint8Array {
  return Uint8Array.from(mapping.sources, (s) => (s ? 1 : 0));
}
