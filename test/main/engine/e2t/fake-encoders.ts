/**
 * Small stand-ins for a diffusion model's text encoder, for decoder tests that need a known
 * geometry rather than a real model:
 *  - `bagOfWordsEncoder`: each row p is the running sum of seeded word vectors up to p (so the
 *    EOS row is the sum of all words, order-free), the shape the vec2text loop reads;
 *  - `linearOracle`: a TextEncoderOracle whose output row p is the input token embedding at p
 *    plus a position vector, so the HotFlip gradient is exact (the cotangent itself).
 */
import { normals } from '../../../../src/main/engine/models/demo/prng.js';
import type { EncodedText, TextEncoderOracle } from '../../../../src/main/engine/e2t/oracle.js';
import type { TextEncoderLike } from '../../../../src/main/engine/e2t/vec2text.js';

function words(text: string): string[] {
  return text
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w.length > 0);
}

export function bagOfWordsEncoder(dim = 8, tokens = 12, seed = 11): TextEncoderLike & { texts: string[] } {
  const texts: string[] = [];
  return {
    tokens,
    dim,
    texts,
    async encode(batch) {
      texts.push(...batch);
      return batch.map((t) => {
        const ws = words(t).slice(0, tokens - 2);
        const out = new Float32Array(tokens * dim);
        const acc = normals(seed, 'bos', dim, 0.1);
        out.set(acc, 0);
        ws.forEach((w, i) => {
          const v = normals(seed, `w:${w}`, dim, 1);
          for (let d = 0; d < dim; d++) acc[d] = acc[d]! + v[d]!;
          out.set(acc, (i + 1) * dim);
        });
        const length = ws.length + 2;
        out.set(acc, (length - 1) * dim);
        return { embedding: out, length };
      });
    },
  };
}

/** A linear "text encoder" over a closed vocabulary; ids 0 = BOS, 1 = EOS (also padding), words from 2. */
export function linearOracle(vocab: readonly string[], o: { dim?: number; tokens?: number; seed?: number } = {}): TextEncoderOracle {
  const dim = o.dim ?? 16;
  const tokens = o.tokens ?? 12;
  const seed = o.seed ?? 5;
  const id = new Map(vocab.map((w, i) => [w, i + 2]));
  const table = new Float32Array((vocab.length + 2) * dim);
  for (let i = 0; i < vocab.length + 2; i++) table.set(normals(seed, `tok:${i}`, dim, 1), i * dim);
  const pos = normals(seed, 'pos', tokens * dim, 0.3);
  const tokenEmbedding = (i: number) => table.subarray(i * dim, (i + 1) * dim);
  const idsOf = (text: string) => {
    const ids = new Int32Array(tokens).fill(1);
    ids[0] = 0;
    const ws = words(text).slice(0, tokens - 2);
    ws.forEach((w, i) => (ids[i + 1] = id.get(w) ?? 1));
    return { ids, length: ws.length + 2 };
  };
  return {
    tokens,
    dim,
    words: vocab.map((w, i) => ({ id: i + 2, word: w })),
    tokenEmbedding,
    async encode(texts): Promise<EncodedText[]> {
      return texts.map((t) => {
        const { ids, length } = idsOf(t);
        const y = new Float32Array(tokens * dim);
        for (let p = 0; p < tokens; p++) {
          const e = tokenEmbedding(ids[p]!);
          for (let d = 0; d < dim; d++) y[p * dim + d] = e[d]! + pos[p * dim + d]!;
        }
        return { embedding: y, length, ids };
      });
    },
    async embeddingGrad(_text, cotangent) {
      return Float32Array.from(cotangent);
    },
  };
}
