/**
 * Emphasis weights of the prompt language (`(word:1.3)`, `(word)`, `[word]`) applied to the
 * text-encoder output the way A1111 does, so prompts carried over from it render alike: each
 * token's row is multiplied by its weight, then the whole [77, D] tensor is rescaled so its mean
 * is what it was before (weights change emphasis, not overall magnitude).
 */
import { hasPromptSyntax, parsePrompt } from '../../../shared/prompt-syntax.js';
import type { ModelSet } from './load-model-set.js';
import { encodePromptDetailed, type PromptEncoding } from './text-encoder.js';

export interface WeightedText {
  /** What the tokenizer reads: the prompt with its syntax removed (verbatim if it has none). */
  plain: string;
  /** Per character of `plain`; undefined when every weight is 1 (nothing to apply). */
  weights?: number[];
}

/**
 * Parse prompt syntax; text without any syntax is returned verbatim. Text with syntax is
 * NFC-normalised first, so character offsets agree with the tokenizer's (which works on NFC).
 */
export function parseWeightedText(text: string): WeightedText {
  if (!hasPromptSyntax(text)) return { plain: text };
  const parsed = parsePrompt(text.normalize('NFC'));
  return parsed.weights.some((w) => w !== 1) ? { plain: parsed.plain, weights: parsed.weights } : { plain: parsed.plain };
}

/**
 * Token weights for an encoding: 1 for BOS, EOS and padding; a content token takes the weight
 * of the first character of the word (pre-token) it came from.
 * @param charWeights weight per character of the text that was encoded
 * @param spans the encoding's per-position source spans (ClipEncoding.spans)
 * @param sequenceLength positions of the encoder input (77)
 */
export function tokenWeights(
  charWeights: readonly number[],
  spans: readonly ({ start: number; end: number } | null)[],
  sequenceLength: number,
): Float32Array {
  const out = new Float32Array(sequenceLength).fill(1);
  spans.forEach((span, p) => {
    if (span && p < sequenceLength) out[p] = charWeights[span.start] ?? 1;
  });
  return out;
}

/**
 * Scale each row of a text embedding by its token weight, keeping the tensor's mean.
 * @param embedding [sequenceLength * dim] text-encoder output (not modified)
 * @param weights [sequenceLength] per-position weights
 * @returns a new [sequenceLength * dim] embedding
 */
export function applyTokenWeights(embedding: Float32Array, weights: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(embedding.length);
  let before = 0;
  let after = 0;
  for (let p = 0; p < weights.length; p++) {
    const w = weights[p]!;
    for (let d = 0; d < dim; d++) {
      const v = embedding[p * dim + d]!;
      before += v;
      out[p * dim + d] = v * w;
      after += v * w;
    }
  }
  // A zero mean after weighting (e.g. every token at weight 0) cannot be rescaled; keep it as is.
  if (after !== 0 && Number.isFinite(before / after)) {
    const s = before / after;
    for (let i = 0; i < out.length; i++) out[i] = out[i]! * s;
  }
  return out;
}

/**
 * Encode a prompt written in the prompt language: the plain text through the text encoder,
 * then its emphasis weights (A1111 semantics). Text without syntax encodes exactly as
 * `encodePromptDetailed`.
 */
export async function encodeWeightedPrompt(ms: ModelSet, text: string): Promise<PromptEncoding> {
  const { plain, weights } = parseWeightedText(text);
  const enc = await encodePromptDetailed(ms, plain);
  if (!weights) return enc;
  const perToken = tokenWeights(weights, enc.spans, ms.io.sequenceLength);
  return { ...enc, embedding: applyTokenWeights(enc.embedding, perToken, ms.io.hiddenSize) };
}
