/**
 * Smoothed bigram language models estimated from small corpora of token-id sequences: the
 * "weights" of the fixture decoders (their logits are rows of these tables).
 *
 * Smoothing is Witten-Bell interpolation with an add-one unigram:
 *   P(n | c) = (count(c, n) + T(c) * Puni(n)) / (N(c) + T(c)),   Puni(n) = (count(n) + 1) / (N + V)
 * where N(c) is how often c is followed by anything and T(c) by how many distinct tokens. An
 * unseen context falls back to Puni. Every probability is > 0, so any text has a finite NLL.
 */

export interface BigramTables {
  vocabSize: number;
  /** Token id -> row (context) index; 0 is the shared row of contexts no corpus has seen. */
  contextOf: Int32Array;
  /** Number of context rows. */
  rows: number;
  /** Number of corpora (e.g. one per image class). */
  classes: number;
  /** Natural-log probabilities, [rows, classes, vocabSize] row-major. */
  logProbs: Float32Array;
}

/**
 * Estimate one bigram model per corpus over a shared context index.
 * @param corpora corpora[k] = sequences of token ids; each sequence is scored from `bos` and ends with `eos`
 */
export function estimateBigrams(corpora: number[][][], vocabSize: number, bos: number, eos: number): BigramTables {
  const contextOf = new Int32Array(vocabSize);
  let rows = 1;
  const pairs = corpora.map((corpus) =>
    corpus.flatMap((seq) => {
      const full = [bos, ...seq, eos];
      return full.slice(0, -1).map((c, i) => [c, full[i + 1]!] as const);
    }),
  );
  for (const list of pairs) for (const [c] of list) if (contextOf[c] === 0) contextOf[c] = rows++;

  const classes = corpora.length;
  const logProbs = new Float32Array(rows * classes * vocabSize);
  pairs.forEach((list, k) => {
    const uni = new Float64Array(vocabSize).fill(1);
    for (const [, n] of list) uni[n]! += 1;
    const total = list.length + vocabSize;
    for (let v = 0; v < vocabSize; v++) uni[v]! /= total;
    const follow = new Map<number, Map<number, number>>();
    for (const [c, n] of list) {
      let m = follow.get(c);
      if (!m) follow.set(c, (m = new Map()));
      m.set(n, (m.get(n) ?? 0) + 1);
    }
    for (let r = 0; r < rows; r++) {
      const off = (r * classes + k) * vocabSize;
      for (let v = 0; v < vocabSize; v++) logProbs[off + v] = Math.log(uni[v]!);
    }
    for (const [c, m] of follow) {
      const off = (contextOf[c]! * classes + k) * vocabSize;
      let n = 0;
      for (const x of m.values()) n += x;
      const t = m.size;
      for (let v = 0; v < vocabSize; v++) logProbs[off + v] = Math.log((t * uni[v]!) / (n + t));
      for (const [v, x] of m) logProbs[off + v] = Math.log((x + t * uni[v]!) / (n + t));
    }
  });
  return { vocabSize, contextOf, rows, classes, logProbs };
}
