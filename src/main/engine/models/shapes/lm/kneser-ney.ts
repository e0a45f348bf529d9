/**
 * Interpolated Kneser–Ney word n-gram probabilities (Chen & Goodman's "interpolated KN" with one
 * absolute discount per order), over integer word ids.
 *
 *   P_k(w | h) = max(c_k(h w) − D_k, 0) / c_k(h) + D_k · N1+(h •) / c_k(h) · P_{k−1}(w | h')
 *
 * where h' drops h's oldest word, c_n are raw counts at the highest order n and c_k (k < n) are
 * continuation counts N1+(• h w) (how many distinct words precede h w), and P_0 is uniform over the
 * predictable words. A context never seen at order k passes straight to order k−1. Only the
 * highest-order counts are stored: texts are padded with n−1 start symbols, so every lower-order
 * n-gram occurrence is the suffix of a highest-order one and continuation counts follow from them.
 */

/** A highest-order n-gram: `order` word ids (history first) and its count. */
export type NgramCount = readonly [ids: readonly number[], count: number];

interface ContextStats {
  /** Σ_w c(h w). */
  total: number;
  /** c(h w) by word id. */
  words: Map<number, number>;
}

/**
 * Absolute discount from count-of-counts (Ney et al.): n1 / (n1 + 2 n2), kept inside [0.1, 0.9];
 * 0.5 when no n-gram was seen once (a sample large enough to see every n-gram of the world often).
 */
export function estimateDiscount(counts: Iterable<number>): number {
  let n1 = 0;
  let n2 = 0;
  for (const c of counts) {
    if (c === 1) n1++;
    else if (c === 2) n2++;
  }
  const d = n1 + n2 > 0 && n1 > 0 ? n1 / (n1 + 2 * n2) : 0.5;
  return Math.min(0.9, Math.max(0.1, d));
}

export class KneserNey {
  /** levels[k − 1]: context key (ids joined by ',') -> stats, for n-grams of order k. */
  private readonly levels: Map<string, ContextStats>[];
  /** D_1..D_n actually used. */
  readonly discounts: readonly number[];

  /**
   * @param order n (≥ 1)
   * @param predictable how many word ids can be predicted (ids 0..predictable−1; the uniform base is 1/predictable)
   * @param ngrams highest-order counts
   * @param discounts D_1..D_n; omitted: estimated from the counts of each order
   */
  constructor(
    readonly order: number,
    readonly predictable: number,
    ngrams: readonly NgramCount[],
    discounts?: readonly number[],
  ) {
    const levels: Map<string, ContextStats>[] = [];
    // Highest order: raw counts.
    let current = new Map<string, number>(); // full n-gram key -> count
    for (const [ids, c] of ngrams) {
      const key = ids.join(',');
      current.set(key, (current.get(key) ?? 0) + c);
    }
    const byOrder: Map<string, number>[] = new Array(order);
    byOrder[order - 1] = current;
    // Lower orders: continuation counts N1+(• suffix) over the distinct n-grams one order up.
    for (let k = order - 1; k >= 1; k--) {
      const lower = new Map<string, number>();
      for (const key of current.keys()) {
        const suffix = key.split(',').slice(1).join(',');
        lower.set(suffix, (lower.get(suffix) ?? 0) + 1);
      }
      byOrder[k - 1] = lower;
      current = lower;
    }
    for (let k = 1; k <= order; k++) {
      const stats = new Map<string, ContextStats>();
      for (const [key, c] of byOrder[k - 1]!) {
        const ids = key.split(',').map(Number);
        const ctx = ids.slice(0, -1).join(',');
        const w = ids[ids.length - 1]!;
        let s = stats.get(ctx);
        if (!s) stats.set(ctx, (s = { total: 0, words: new Map() }));
        s.total += c;
        s.words.set(w, (s.words.get(w) ?? 0) + c);
      }
      levels.push(stats);
    }
    this.levels = levels;
    this.discounts = discounts ? [...discounts] : byOrder.map((m) => estimateDiscount(m.values()));
  }

  /**
   * P(w | history) for every predictable word id at once (sums to 1). `history` is the whole
   * preceding id sequence (start-padded by the caller); only its last order−1 ids are used.
   */
  distribution(history: readonly number[]): Float64Array {
    let p = new Float64Array(this.predictable).fill(1 / this.predictable);
    for (let k = 1; k <= this.order; k++) {
      const ctx = history.slice(Math.max(0, history.length - (k - 1))).join(',');
      if (k > 1 && history.length < k - 1) break;
      const s = this.levels[k - 1]!.get(k === 1 ? '' : ctx);
      if (!s || s.total === 0) continue;
      const d = this.discounts[k - 1]!;
      const next = new Float64Array(this.predictable);
      const backoff = (d * s.words.size) / s.total;
      for (let w = 0; w < this.predictable; w++) next[w] = backoff * p[w]!;
      for (const [w, c] of s.words) if (w < this.predictable) next[w]! += Math.max(c - d, 0) / s.total;
      p = next;
    }
    return p;
  }

  /** P(w | history) for one word id. */
  probability(history: readonly number[], w: number): number {
    return this.distribution(history)[w]!;
  }
}
