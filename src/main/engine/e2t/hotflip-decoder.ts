/**
 * Training-free embedding-to-text decoder: beam search over word edits of the current
 * hypothesis, proposals ranked by a first-order (HotFlip) estimate from the gradient of the
 * embedding distance w.r.t. the input token embeddings, every proposal then scored exactly by
 * encoding it. Stops when no edit lowers the score.
 *
 * Score = distance(T(text), target) + fluencyWeight * meanTokenNll(text) (when an LM is given).
 */
import { CancelledError } from '../errors.js';
import type { LanguageModel } from './language-model.js';
import type { EncodedText, TextEncoderOracle } from './oracle.js';
import type { DecodeOptions, DecodeResult, EmbeddingToText, MatchTarget, TextEmbedding } from './types.js';

export interface HotFlipOptions {
  /** Proposals per position for substitutions and insertions (default 8). */
  proposalsPerPosition?: number;
  /** Max words in a hypothesis (default: what fits the encoder's tokens). */
  maxWords?: number;
  lm?: LanguageModel;
}

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

export function splitWords(text: string): string[] {
  return text.trim().split(/\s+/).filter((w) => w.length > 0);
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
  private readonly k: number;

  constructor(private readonly oracle: TextEncoderOracle, private readonly opts: HotFlipOptions = {}) {
    const { dim, words } = oracle;
    this.table = new Float32Array(words.length * dim);
    words.forEach((w, i) => this.table.set(oracle.tokenEmbedding(w.id), i * dim));
    this.k = opts.proposalsPerPosition ?? 8;
  }

  async decode(target: TextEmbedding, o: DecodeOptions): Promise<DecodeResult> {
    const match = o.match ?? 'prompt';
    const beamWidth = o.beam ?? 4;
    const maxRounds = o.maxRounds ?? 30;
    const fluency = this.opts.lm ? (o.fluencyWeight ?? 0) : 0;
    const maxWords = this.opts.maxWords ?? this.oracle.tokens - 2;
    const targetLength = target.length ?? this.oracle.tokens;
    let scoredCount = 0;

    const scoreTexts = async (cands: string[][]): Promise<Scored[]> => {
      const texts = cands.map((w) => w.join(' '));
      const enc = await this.oracle.encode(texts);
      const nll = fluency > 0 ? await this.opts.lm!.meanNll(texts) : undefined;
      scoredCount += texts.length;
      return enc.map((e, i) => {
        const { distance } = alignedDistance(e.embedding, target, align(match, this.oracle.tokens, targetLength, e.length), false);
        return { words: cands[i]!, text: texts[i]!, distance, score: distance + (nll ? fluency * nll[i]! : 0), encoded: e };
      });
    };

    let beam = await scoreTexts([splitWords(o.init)]);
    let best = beam[0]!;
    let rounds = 0;
    const seen = new Set<string>([best.text]);
    for (; rounds < maxRounds; rounds++) {
      if (o.signal?.aborted) throw new CancelledError('decoding cancelled', { text: best.text, distance: best.distance });
      const proposals: string[][] = [];
      for (const hyp of beam) {
        for (const cand of await this.propose(hyp, target, match, targetLength, maxWords)) {
          const key = cand.join(' ');
          if (seen.has(key)) continue;
          seen.add(key);
          proposals.push(cand);
        }
      }
      if (proposals.length === 0) break;
      const scored: Scored[] = [];
      for (let i = 0; i < proposals.length; i += 64) scored.push(...(await scoreTexts(proposals.slice(i, i + 64))));
      const pool = [...beam, ...scored].sort((a, b) => a.score - b.score);
      const next: Scored[] = [];
      const keys = new Set<string>();
      for (const s of pool) {
        if (keys.has(s.text)) continue;
        keys.add(s.text);
        next.push(s);
        if (next.length === beamWidth) break;
      }
      beam = next;
      const improved = beam[0]!.score < best.score - 1e-12;
      if (improved) best = beam[0]!;
      o.onProgress?.({ round: rounds + 1, best: best.text, distance: best.distance, candidatesScored: scoredCount });
      if (!improved) {
        rounds++;
        break;
      }
    }
    return { text: best.text, distance: best.distance, rounds, candidatesScored: scoredCount };
  }

  /** Substitutions, insertions and deletions of one hypothesis, HotFlip-ranked. */
  private async propose(hyp: Scored, target: TextEmbedding, match: MatchTarget, targetLength: number, maxWords: number): Promise<string[][]> {
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
      const best = this.topK(g, curDot);
      for (const w of best) {
        if (i < words.length && w !== words[i]) out.push([...words.slice(0, i), w, ...words.slice(i + 1)]);
        if (words.length < maxWords) out.push([...words.slice(0, i), w, ...words.slice(i)]);
      }
      if (i < words.length && words.length > 1) out.push([...words.slice(0, i), ...words.slice(i + 1)]);
    }
    return out;
  }

  /** Words whose embedding most decreases the first-order distance estimate (e_v - e_cur) · g. */
  private topK(g: Float32Array, curDot: number): string[] {
    const { dim, words } = this.oracle;
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
