/**
 * Training a small CLIP-format BPE vocabulary for the demo model set.
 *
 * Layout matches OpenAI CLIP's: ids 0..255 are the byte-level characters, 256..511 the same with
 * `</w>`, then one entry per learned merge (in merge order), then <|startoftext|> and
 * <|endoftext|> last. Merges are learned by classic BPE on the (deduplicated, equally weighted)
 * words: repeatedly merge the most frequent adjacent pair, ties broken by the pair's text
 * (code-unit order) so the result is a pure function of the word list. Training runs until every
 * word is a single token or the vocabulary is full; with room for that, each word of the list
 * encodes to exactly one token, which keeps embedding -> text decoding over the demo vocabulary
 * clean.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../../errors.js';
import { END_OF_WORD } from './bpe.js';
import { BYTE_ALPHABET, toByteLevel } from './byte-level.js';
import { BOS_TOKEN, CONTEXT_LENGTH, EOS_TOKEN } from './clip-tokenizer.js';

export interface TrainBpeOptions {
  /** Total vocabulary size including the 512 byte symbols and the two special tokens (>= 514). */
  vocabSize: number;
  /**
   * Optional: permutes how equally frequent pairs are ordered (a different but equally valid
   * vocabulary). Omitted = plain text order. Either way the output is deterministic.
   */
  seed?: number;
}

export interface TrainedBpe {
  /** token -> id, CLIP layout (see file comment). */
  vocab: Record<string, number>;
  /** merges in rank order, "a b" as in merges.txt. */
  merges: string[];
}

const PIECE = /'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/gu;

/** 32-bit FNV-1a of a string mixed with a seed; only used to permute ties. */
function tieHash(key: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * Learns CLIP-format BPE merges from `words` (lowercased, split like CLIP pre-tokenisation).
 * Returns at most `vocabSize` entries; fewer when every word is already one token.
 */
export function trainDemoBpe(words: readonly string[], opts: TrainBpeOptions): TrainedBpe {
  const { vocabSize, seed } = opts;
  const base = 2 * BYTE_ALPHABET.length + 2;
  if (!Number.isInteger(vocabSize) || vocabSize < base)
    throw new EngineError('INVALID_ARGUMENT', `vocabSize must be an integer >= ${base} (got ${vocabSize}).`);
  if (seed !== undefined && !Number.isSafeInteger(seed))
    throw new EngineError('INVALID_ARGUMENT', `seed must be an integer (got ${seed}).`);

  // Unique pre-tokens as symbol sequences, `</w>` on the last symbol.
  const seen = new Set<string>();
  const pieces: string[][] = [];
  for (const w of words) {
    for (const m of w.normalize('NFC').toLowerCase().matchAll(PIECE)) {
      const bl = toByteLevel(m[0]);
      if (seen.has(bl)) continue;
      seen.add(bl);
      const chars = Array.from(bl);
      pieces.push(chars.slice(0, -1).concat(chars[chars.length - 1]! + END_OF_WORD));
    }
  }

  // Incremental pair statistics: count and the pieces each pair occurs in.
  const counts = new Map<string, number>();
  const where = new Map<string, Set<number>>();
  // Counts as they were before the current merge step, for pairs the step touched.
  const touched = new Map<string, number>();
  const addPairs = (idx: number, sign: 1 | -1): void => {
    const sym = pieces[idx]!;
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
  pieces.forEach((_, i) => addPairs(i, 1));

  const vocabOrder: string[] = [...BYTE_ALPHABET, ...BYTE_ALPHABET.map((c) => c + END_OF_WORD)];
  const known = new Set(vocabOrder);
  const merges: string[] = [];
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

  while (vocabOrder.length + 2 < vocabSize) {
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
    merges.push(bestKey);
    if (!known.has(joined)) {
      known.add(joined);
      vocabOrder.push(joined);
    }
    for (const idx of where.get(bestKey) ?? []) {
      const sym = pieces[idx]!;
      // `where` keeps pieces that once had the pair; skip those that no longer do.
      let has = false;
      for (let i = 0; i + 1 < sym.length && !has; i++) has = sym[i] === first && sym[i + 1] === second;
      if (!has) continue;
      addPairs(idx, -1);
      const out: string[] = [];
      for (let i = 0; i < sym.length; ) {
        if (i + 1 < sym.length && sym[i] === first && sym[i + 1] === second) {
          out.push(joined);
          i += 2;
        } else out.push(sym[i++]!);
      }
      pieces[idx] = out;
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

  const vocab = Object.create(null) as Record<string, number>;
  vocabOrder.forEach((tok, id) => (vocab[tok] = id));
  vocab[BOS_TOKEN] = vocabOrder.length;
  vocab[EOS_TOKEN] = vocabOrder.length + 1;
  return { vocab, merges };
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

export interface WriteTokenizerOptions {
  /** Pad token written to the configs (default <|endoftext|>, as SD 1.x). */
  padToken?: string;
}

/**
 * Writes `vocab.json`, `merges.txt` (with the `#version: 0.2` header), `tokenizer_config.json`
 * and `special_tokens_map.json` in the layout of the hub SD repos' `tokenizer/` folder.
 */
export async function writeTokenizerFiles(dir: string, bpe: TrainedBpe, opts: WriteTokenizerOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const pad = opts.padToken ?? EOS_TOKEN;
  const special = { bos_token: BOS_TOKEN, eos_token: EOS_TOKEN, unk_token: EOS_TOKEN, pad_token: pad };
  await writeFile(path.join(dir, 'vocab.json'), JSON.stringify(bpe.vocab));
  await writeFile(path.join(dir, 'merges.txt'), ['#version: 0.2', ...bpe.merges].join('\n') + '\n');
  await writeFile(
    path.join(dir, 'tokenizer_config.json'),
    JSON.stringify(
      { tokenizer_class: 'CLIPTokenizer', model_max_length: CONTEXT_LENGTH, do_lower_case: true, errors: 'replace', ...special },
      null,
      2,
    ),
  );
  await writeFile(path.join(dir, 'special_tokens_map.json'), JSON.stringify(special, null, 2));
}
