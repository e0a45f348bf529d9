/**
 * Byte-pair merging as CLIP does it: a pre-token (already byte-level mapped) starts as its
 * characters with `</w>` glued to the last one; the adjacent pair with the lowest merge rank is
 * merged everywhere in the word (left to right, non-overlapping) until no ranked pair is left.
 */

export const END_OF_WORD = '</w>';

/** Splits a merges.txt line / tokenizer.json merge entry into its two halves. */
export function parseMerge(entry: string | readonly string[]): [string, string] | null {
  if (Array.isArray(entry)) return entry.length === 2 ? [String(entry[0]), String(entry[1])] : null;
  const s = entry as string;
  const i = s.indexOf(' ');
  if (i <= 0 || i === s.length - 1 || s.indexOf(' ', i + 1) !== -1) return null;
  return [s.slice(0, i), s.slice(i + 1)];
}

export class BpeMerger {
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, string[]>();

  /** `merges` in priority order (rank 0 first). */
  constructor(merges: readonly (readonly [string, string])[]) {
    merges.forEach(([a, b], rank) => {
      const key = `${a} ${b}`;
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
    });
  }

  get size(): number {
    return this.ranks.size;
  }

  /** BPE symbols of one byte-level pre-token (the last one carries `</w>`). */
  split(token: string): string[] {
    const hit = this.cache.get(token);
    if (hit) return hit;
    const chars = Array.from(token);
    if (chars.length === 0) return [];
    let word = chars.slice(0, -1).concat(chars[chars.length - 1]! + END_OF_WORD);
    while (word.length > 1) {
      let best = Infinity;
      let first = '';
      let second = '';
      for (let i = 0; i + 1 < word.length; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < best) {
          best = r;
          first = word[i]!;
          second = word[i + 1]!;
        }
      }
      if (best === Infinity) break;
      const merged: string[] = [];
      for (let i = 0; i < word.length;) {
        if (i + 1 < word.length && word[i] === first && word[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(word[i]!);
          i += 1;
        }
      }
      word = merged;
    }
    if (this.cache.size > 50000) this.cache.clear();
    this.cache.set(token, word);
    return word;
  }
}
