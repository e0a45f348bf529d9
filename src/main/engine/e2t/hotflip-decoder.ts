/**
 * Training-free embedding-to-text decoder: beam search over word edits of the current
 * hypothesis (substitute / insert / delete a word, swap two neighbours). Words for each slot
 * come from a first-order (HotFlip) estimate from the gradient of the embedding distance w.r.t.
 * the input token embeddings and, when a language model is given, from the LM's most likely
 * next words after the words before the slot; every proposal is then scored exactly by
 * encoding it. Stops when no edit lowers the score.
 *
 * Score = distance(T(text), target) + fluencyWeight * meanTokenNll(text) (when an LM is given).
 */
import { CancelledError, EngineError } from '../errors.js';
import type { LanguageModel } from './language-model.js';
import type { EncodedText, TextEncoderOracle, WordToken } from './oracle.js';
import type { DecodedText, DecodeOptions, DecodeResult, EmbeddingToText, MatchTarget, TextEmbedding } from './types.js';

export interface HotFlipOptions {
  /** HotFlip (gradient) proposals per slot for substitutions and insertions (default 8). */
  proposalsPerPosition?: number;
  /**
   * Language-model proposals per slot: the LM's most likely next words after the words before
   * the slot that the text encoder spells as one whole-word token (default 4; 0 disables).
   * Only used when `lm` is given.
   */
  lmProposalsPerPosition?: number;
  /** Max words in a hypothesis (default: what fits the encoder's tokens). */
  maxWords?: number;
  /** Language model for proposals and the fluency term (`DecodeOptions.fluencyWeight`). */
  lm?: LanguageModel;
  /**
   * Whole words the decoder may propose (matched case-insensitively against the text encoder's
   * single-token words), e.g. the model set's word list: HotFlip and LM proposals outside it are
   * dropped, so sub-word pieces of the tokenizer ("ange", "riangle") never enter a hypothesis.
   * Default: every whole-word token of the text encoder.
   */
  dictionary?: Iterable<string>;
}

/** Entries kept in each LM cache before it is cleared (bounds memory over many decodes). */
const LM_CACHE_LIMIT = 50_000;
/** Texts encoded per oracle call while scoring proposals. */
const SCORE_BATCH = 64;
/** Texts per meanNll call when the fluency term is computed lazily. */
const NLL_BATCH = 16;

interface Scored {
  words: string[];
  text: string;
  distance: number;
  score: number;
  encoded: EncodedText;
}

/** Per-position weights and the target row each position is compared with. */
interface Alignment {
  weights: Float32Array;
  /** Target row index for each hypothesis position. */
  rows: Int32Array;
}

/**
 * The `keep` best of `ranked` ∪ `add` by score, distinct texts; on equal scores `ranked`'s
 * entries come first, then `add`'s in their order.
 */
function mergeRanked(ranked: Scored[], add: Scored[], keep: number): Scored[] {
  const pool = [...ranked, ...add].sort((a, b) => a.score - b.score);
  const out: Scored[] = [];
  const keys = new Set<string>();
  for (const s of pool) {
    if (keys.has(s.text)) continue;
    keys.add(s.text);
    out.push(s);
    if (out.length === keep) break;
  }
  return out;
}

export function splitWords(text: string): string[] {
  return text
    .trim()
    .split(/\s+/)
    .filter((w) => w.length > 0);
}

/**
 * Which hypothesis positions are compared with which target rows.
 * - eos: the hypothesis' EOS row against the target's EOS row;
 * - prompt: positions 1..(target EOS), positionwise (BOS is constant in a causal encoder);
 * - all: positions 1..tokens-1, positionwise.
 */
export function align(match: MatchTarget, tokens: number, targetLength: number, hypLength: number): Alignment {
  const weights = new Float32Array(tokens);
  const rows = new Int32Array(tokens);
  for (let p = 0; p < tokens; p++) rows[p] = p;
  if (match === 'eos') {
    weights[hypLength - 1] = 1;
    rows[hypLength - 1] = targetLength - 1;
  } else {
    const last = match === 'prompt' ? targetLength - 1 : tokens - 1;
    for (let p = 1; p <= last; p++) weights[p] = 1;
  }
  return { weights, rows };
}

/** Weighted mean squared distance and (optionally) its cotangent w.r.t. the encoder output. */
export function alignedDistance(
  y: Float32Array,
  target: TextEmbedding,
  al: Alignment,
  wantCotangent: boolean,
): { distance: number; cotangent?: Float32Array } {
  const { dim, tokens } = target;
  let sum = 0;
  let wsum = 0;
  const cot = wantCotangent ? new Float32Array(tokens * dim) : undefined;
  for (let p = 0; p < tokens; p++) {
    const w = al.weights[p]!;
    if (w === 0) continue;
    wsum += w * dim;
    const r = al.rows[p]!;
    for (let d = 0; d < dim; d++) {
      const diff = y[p * dim + d]! - target.data[r * dim + d]!;
      sum += w * diff * diff;
      if (cot) cot[p * dim + d] = 2 * w * diff;
    }
  }
  const norm = wsum || 1;
  if (cot) for (let i = 0; i < cot.length; i++) cot[i] = cot[i]! / norm;
  return { distance: sum / norm, ...(cot ? { cotangent: cot } : {}) };
}

export class HotFlipDecoder implements EmbeddingToText {
  readonly name = 'hotflip';
  private readonly table: Float32Array;
  /** The words proposals are drawn from (the oracle's, filtered by the dictionary). */
  private readonly words: readonly WordToken[];
  private readonly k: number;
  private readonly kLm: number;
  /** Oracle word by its lowercase spelling (LM words are matched case-insensitively). */
  private readonly vocab: Map<string, string>;
  /** LM results are a property of the text alone, so they are kept across decodes. */
  private readonly nllCache = new Map<string, number>();
  private readonly nextCache = new Map<string, string[]>();

  constructor(
    private readonly oracle: TextEncoderOracle,
    private readonly opts: HotFlipOptions = {},
  ) {
    const { dim } = oracle;
    let words: readonly WordToken[] = oracle.words;
    if (opts.dictionary) {
      const allowed = new Set([...opts.dictionary].map((w) => w.trim().toLowerCase()));
      words = words.filter((w) => allowed.has(w.word.toLowerCase()));
      if (words.length === 0)
        throw new EngineError(
          'INVALID_ARGUMENT',
          'no word of the dictionary is a single whole-word token of this text encoder; check the word list',
        );
    }
    this.words = words;
    this.table = new Float32Array(words.length * dim);
    words.forEach((w, i) => this.table.set(oracle.tokenEmbedding(w.id), i * dim));
    this.k = opts.proposalsPerPosition ?? 8;
    this.kLm = opts.lm ? (opts.lmProposalsPerPosition ?? 4) : 0;
    this.vocab = new Map(words.map((w) => [w.word.toLowerCase(), w.word]));
  }

  /**
   * Decode `target` starting from `o.init`.
   * @returns the best text, its distance (mean squared error over the matched positions), and
   *   up to `o.nBest` (default: beam width) distinct alternatives, best score first
   */
  async decode(target: TextEmbedding, o: DecodeOptions): Promise<DecodeResult> {
    const match = o.match ?? 'prompt';
    const beamWidth = o.beam ?? 4;
    const nBest = Math.max(1, o.nBest ?? beamWidth);
    // The ranked list must hold the beam and the alternatives.
    const keep = Math.max(beamWidth, nBest);
    const maxRounds = o.maxRounds ?? 30;
    const fluency = this.opts.lm ? Math.max(0, o.fluencyWeight ?? 0) : 0;
    const maxWords = this.opts.maxWords ?? this.oracle.tokens - 2;
    const targetLength = target.length ?? this.oracle.tokens;
    let scoredCount = 0;

    /** Encode and measure; texts whose distance alone cannot beat `bound` are dropped. */
    const measure = async (cands: string[][], bound: number): Promise<Scored[]> => {
      const out: Scored[] = [];
      for (let s = 0; s < cands.length; s += SCORE_BATCH) {
        const chunk = cands.slice(s, s + SCORE_BATCH);
        const texts = chunk.map((w) => w.join(' '));
        const enc = await this.oracle.encode(texts);
        scoredCount += texts.length;
        enc.forEach((e, i) => {
          const { distance } = alignedDistance(e.embedding, target, align(match, this.oracle.tokens, targetLength, e.length), false);
          if (distance < bound) out.push({ words: chunk[i]!, text: texts[i]!, distance, score: distance, encoded: e });
        });
      }
      return out;
    };

    const init = await measure([splitWords(o.init)], Infinity);
    if (fluency > 0) {
      const [nll] = await this.meanNll([init[0]!.text]);
      init[0]!.score += fluency * nll!;
    }
    // The `keep` best distinct texts scored so far, best first. The beam is its head: the beam
    // of round r is the top of (beam of r-1 ∪ proposals of r), i.e. the best of all scored.
    let ranked: Scored[] = init;
    let best = ranked[0]!;
    let rounds = 0;
    const seen = new Set<string>([best.text]);
    // A hypothesis' proposals depend on it and the target only, so once expanded they are all in
    // `seen`: one that stays in the beam is not expanded again (no gradient, scan or LM calls).
    const expanded = new Set<string>();
    for (; rounds < maxRounds; rounds++) {
      if (o.signal?.aborted) throw new CancelledError('decoding cancelled', { text: best.text, distance: best.distance });
      const proposals: string[][] = [];
      for (const hyp of ranked.slice(0, beamWidth)) {
        if (expanded.has(hyp.text)) continue;
        expanded.add(hyp.text);
        for (const cand of await this.propose(hyp, target, match, targetLength, maxWords)) {
          const key = cand.join(' ');
          if (seen.has(key)) continue;
          seen.add(key);
          proposals.push(cand);
        }
      }
      if (proposals.length === 0) break;
      // The fluency term is >= 0, so a proposal whose distance is already no better than the
      // keep-th score so far can never enter the ranked list (that bound only falls).
      const bound = ranked.length >= keep ? ranked[keep - 1]!.score : Infinity;
      const measured = await measure(proposals, bound);
      ranked = fluency > 0 ? await this.addFluency(ranked, measured, fluency, keep) : mergeRanked(ranked, measured, keep);
      const improved = ranked[0]!.score < best.score - 1e-12;
      if (improved) best = ranked[0]!;
      o.onProgress?.({ round: rounds + 1, best: best.text, distance: best.distance, candidatesScored: scoredCount });
      if (!improved) {
        rounds++;
        break;
      }
    }
    const alternatives: DecodedText[] = ranked.slice(0, nBest).map((s) => ({ text: s.text, distance: s.distance, score: s.score }));
    return { text: best.text, distance: best.distance, alternatives, rounds, candidatesScored: scoredCount };
  }

  /**
   * Add the fluency term to measured proposals, cheapest-distance first, and merge them into
   * `ranked`. Stops as soon as the next distance alone is no better than the keep-th score: the
   * result is the same as scoring every proposal, with far fewer LM calls.
   */
  private async addFluency(ranked: Scored[], measured: Scored[], fluency: number, keep: number): Promise<Scored[]> {
    const byDistance = [...measured].sort((a, b) => a.distance - b.distance);
    let out = ranked;
    for (let s = 0; s < byDistance.length;) {
      const bound = out.length >= keep ? out[keep - 1]!.score : Infinity;
      const chunk: Scored[] = [];
      while (s < byDistance.length && chunk.length < NLL_BATCH && byDistance[s]!.distance < bound) chunk.push(byDistance[s++]!);
      if (chunk.length === 0) break;
      const nll = await this.meanNll(chunk.map((c) => c.text));
      chunk.forEach((c, i) => (c.score = c.distance + fluency * nll[i]!));
      out = mergeRanked(out, chunk, keep);
    }
    return out;
  }

  private async meanNll(texts: string[]): Promise<number[]> {
    const missing = [...new Set(texts.filter((t) => !this.nllCache.has(t)))];
    if (missing.length > 0) {
      const nll = await this.opts.lm!.meanNll(missing);
      if (this.nllCache.size + missing.length > LM_CACHE_LIMIT) this.nllCache.clear();
      missing.forEach((t, i) => this.nllCache.set(t, nll[i]!));
    }
    return texts.map((t) => this.nllCache.get(t)!);
  }

  /** The LM's `kLm` most likely next words after `prefix` that the encoder spells as one token (and the dictionary allows). */
  private async lmWords(prefix: string): Promise<string[]> {
    const cached = this.nextCache.get(prefix);
    if (cached) return cached;
    // Ask for more than needed: some LM words are not whole-word tokens of the text encoder.
    const next = await this.opts.lm!.nextWords(prefix, 4 * this.kLm);
    const out: string[] = [];
    for (const { word } of next) {
      const w = this.vocab.get(word.trim().toLowerCase());
      if (w !== undefined && !out.includes(w)) out.push(w);
      if (out.length === this.kLm) break;
    }
    if (this.nextCache.size >= LM_CACHE_LIMIT) this.nextCache.clear();
    this.nextCache.set(prefix, out);
    return out;
  }

  /** Substitutions and insertions (HotFlip and LM words), deletions and neighbour swaps of one hypothesis. */
  private async propose(
    hyp: Scored,
    target: TextEmbedding,
    match: MatchTarget,
    targetLength: number,
    maxWords: number,
  ): Promise<string[][]> {
    const { dim } = this.oracle;
    const al = align(match, this.oracle.tokens, targetLength, hyp.encoded.length);
    const { cotangent } = alignedDistance(hyp.encoded.embedding, target, al, true);
    const grad = await this.oracle.embeddingGrad(hyp.text, cotangent!);
    const out: string[][] = [];
    const words = hyp.words;
    // Word i is assumed to start at token position i + 1 (exact for single-token words, the
    // common case; multi-token words shift later positions, which exact scoring corrects).
    for (let i = 0; i <= words.length; i++) {
      const pos = Math.min(i + 1, this.oracle.tokens - 1);
      const g = grad.subarray(pos * dim, (pos + 1) * dim);
      const currentId = hyp.encoded.ids[pos]!;
      const cur = this.oracle.tokenEmbedding(currentId);
      let curDot = 0;
      for (let d = 0; d < dim; d++) curDot += cur[d]! * g[d]!;
      const slot = new Set(this.topK(g, curDot));
      // Substituting word i and inserting before it both follow words[0..i).
      if (this.kLm > 0) for (const w of await this.lmWords(words.slice(0, i).join(' '))) slot.add(w);
      for (const w of slot) {
        if (i < words.length && w !== words[i]) out.push([...words.slice(0, i), w, ...words.slice(i + 1)]);
        if (words.length < maxWords) out.push([...words.slice(0, i), w, ...words.slice(i)]);
      }
      if (i < words.length && words.length > 1) out.push([...words.slice(0, i), ...words.slice(i + 1)]);
      // Swapping neighbours reorders in one step what would otherwise take two edits through a
      // worse intermediate text (which the beam may drop), e.g. "a boat the on river".
      if (i + 1 < words.length && words[i] !== words[i + 1])
        out.push([...words.slice(0, i), words[i + 1]!, words[i]!, ...words.slice(i + 2)]);
    }
    return out;
  }

  /** Words whose embedding most decreases the first-order distance estimate (e_v - e_cur) · g. */
  private topK(g: Float32Array, curDot: number): string[] {
    const { dim } = this.oracle;
    const words = this.words;
    const k = Math.min(this.k, words.length);
    const bestIdx: number[] = [];
    const bestVal: number[] = [];
    for (let v = 0; v < words.length; v++) {
      let dot = 0;
      const off = v * dim;
      for (let d = 0; d < dim; d++) dot += this.table[off + d]! * g[d]!;
      const delta = dot - curDot;
      if (bestIdx.length < k || delta < bestVal[bestVal.length - 1]!) {
        let j = bestIdx.length < k ? bestIdx.length : k - 1;
        if (bestIdx.length < k) {
          bestIdx.push(v);
          bestVal.push(delta);
        }
        while (j > 0 && bestVal[j - 1]! > delta) {
          bestIdx[j] = bestIdx[j - 1]!;
          bestVal[j] = bestVal[j - 1]!;
          j--;
        }
        bestIdx[j] = v;
        bestVal[j] = delta;
      }
    }
    return bestIdx.map((i) => words[i]!.word);
  }
}
