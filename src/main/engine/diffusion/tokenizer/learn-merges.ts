/**
 * Classic BPE merge learning, shared by the demo set's CLIP vocabulary (train.ts) and the
 * byte-level GPT-2/BART test tokenizers: repeatedly merge the most frequent adjacent pair of
 * symbols over a list of distinct, equally weighted pre-tokens. Ties go to the pair's text
 * ("left right", code-unit order) or, with a seed, to a seeded hash of it, so the result is a
 * pure function of the input.
 */

export interface LearnMergesOptions {
  /**
   * Stop once this many distinct new symbols were created (a merge whose joined symbol already
   * exists adds none). Default: no limit, i.e. until every pre-token is one symbol.
   */
  maxNewSymbols?: number;
  /** Permutes the order of equally frequent pairs (another, equally valid, vocabulary). */
  seed?: number;
}

/** 32-bit FNV-1a of a string mixed with a seed; only used to permute ties. */
function tieHash(key: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * @param pieces pre-tokens as symbol sequences (byte-level characters, so no symbol contains a
 *   space); not modified
 * @returns merges in rank order as [left, right]
 */
export function learnMerges(pieces: readonly (readonly string[])[], opts: LearnMergesOptions = {}): [string, string][] {
  const { seed } = opts;
  const maxNew = opts.maxNewSymbols ?? Infinity;
  const syms = pieces.map((p) => [...p]);

  // Incremental pair statistics: count and the pieces each pair occurs in.
  const counts = new Map<string, number>();
  const where = new Map<string, Set<number>>();
  // Counts as they were before the current merge step, for pairs the step touched.
  const touched = new Map<string, number>();
  const addPairs = (idx: number, sign: 1 | -1): void => {
    const sym = syms[idx]!;
    for (let i = 0; i + 1 < sym.length; i++) {
      const key = `${sym[i]} ${sym[i + 1]}`;
      const before = counts.get(key) ?? 0;
      if (!touched.has(key)) touched.set(key, before);
      const c = before + sign;
      if (c <= 0) counts.delete(key);
      else counts.set(key, c);
      if (sign > 0) {
        let s = where.get(key);
        if (!s) where.set(key, (s = new Set()));
        s.add(idx);
      }
    }
  };
  syms.forEach((_, i) => addPairs(i, 1));

  const better = (a: string, ca: number, b: string, cb: number): boolean => {
    if (ca !== cb) return ca > cb;
    if (seed !== undefined) {
      const ha = tieHash(a, seed);
      const hb = tieHash(b, seed);
      if (ha !== hb) return ha < hb;
    }
    return a < b;
  };
  // Max-heap of (count, pair) with lazy deletion: stale entries are skipped when popped.
  const heap = new PairHeap(better);
  for (const [key, c] of counts) heap.push(key, c);
  touched.clear();

  const known = new Set<string>(syms.flat());
  const merges: [string, string][] = [];
  let created = 0;
  while (created < maxNew) {
    let bestKey = '';
    for (;;) {
      const top = heap.pop();
      if (top === undefined) break;
      if (counts.get(top.key) === top.count) {
        bestKey = top.key;
        break;
      }
    }
    if (bestKey === '') break;
    const sp = bestKey.indexOf(' ');
    const first = bestKey.slice(0, sp);
    const second = bestKey.slice(sp + 1);
    const joined = first + second;
    merges.push([first, second]);
    if (!known.has(joined)) {
      known.add(joined);
      created++;
    }
    for (const idx of where.get(bestKey) ?? []) {
      const sym = syms[idx]!;
      // `where` keeps pieces that once had the pair; skip those that no longer do.
      let has = false;
      for (let i = 0; i + 1 < sym.length && !has; i++) has = sym[i] === first && sym[i + 1] === second;
      if (!has) continue;
      addPairs(idx, -1);
      const out: string[] = [];
      for (let i = 0; i < sym.length;) {
        if (i + 1 < sym.length && sym[i] === first && sym[i + 1] === second) {
          out.push(joined);
          i += 2;
        } else out.push(sym[i++]!);
      }
      syms[idx] = out;
      addPairs(idx, 1);
    }
    where.delete(bestKey);
    counts.delete(bestKey);
    for (const [key, before] of touched) {
      const now = counts.get(key);
      if (now !== undefined && now !== before) heap.push(key, now);
    }
    touched.clear();
  }
  return merges;
}

/** Binary max-heap ordered by `better(aKey, aCount, bKey, bCount)`. */
class PairHeap {
  private readonly keys: string[] = [];
  private readonly counts: number[] = [];
  constructor(private readonly better: (a: string, ca: number, b: string, cb: number) => boolean) {}

  push(key: string, count: number): void {
    this.keys.push(key);
    this.counts.push(count);
    let i = this.keys.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.better(this.keys[i]!, this.counts[i]!, this.keys[p]!, this.counts[p]!)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): { key: string; count: number } | undefined {
    const n = this.keys.length;
    if (n === 0) return undefined;
    const top = { key: this.keys[0]!, count: this.counts[0]! };
    this.swap(0, n - 1);
    this.keys.pop();
    this.counts.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.keys.length && this.better(this.keys[l]!, this.counts[l]!, this.keys[m]!, this.counts[m]!)) m = l;
      if (r < this.keys.length && this.better(this.keys[r]!, this.counts[r]!, this.keys[m]!, this.counts[m]!)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }

  private swap(a: number, b: number): void {
    [this.keys[a], this.keys[b]] = [this.keys[b]!, this.keys[a]!];
    [this.counts[a], this.counts[b]] = [this.counts[b]!, this.counts[a]!];
  }
}
