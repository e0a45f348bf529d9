/**
 * Text operators of the evolution (readable genomes: the genome is the prompt).
 *
 * - prompt crossover, phrase by phrase: both prompts are cut into phrases at `,` `;` `|` and
 *   "and"; phrases are aligned by word similarity (the word diff of shared/prompt-diff.ts); an
 *   aligned pair that differs is mixed hunk by hunk of its word diff (each hunk from one parent), a
 *   phrase only one parent has is kept or left with even odds, so "a red cube" × "a blue ball"
 *   can give "a red cube and a blue ball";
 * - word mutation: one word substituted, inserted or deleted; the new word is one of the language
 *   model's most likely next words after the words before it (the shapes world's n-gram LM, GPT-2),
 *   or a word of the model set's dictionary without one.
 *
 * Locked words (an individual's "must keep" list) are never dropped or changed: crossover takes
 * the side of a hunk that has them, mutation never picks them, and texts that lost one (decoded
 * embeddings) get it back at the end (enforceLocks).
 */
import { alignKeys, promptDiffWords, type DiffWord } from '../../../../shared/prompt-diff.js';
import type { LanguageModel } from '../../e2t/language-model.js';
import type { Random } from './random.js';

const SEPARATORS = new Set([',', ';', '|']);

/** A phrase of a prompt and what separated it from the next one (`,` `;` `|` `and`, '' at the end). */
export interface Phrase {
  words: DiffWord[];
  sep: string;
}

/** Words back to text: one space between words, none before punctuation. */
export function wordsText(words: readonly Pick<DiffWord, 'text'>[]): string {
  return words
    .map((w) => w.text)
    .join(' ')
    .replace(/ ([,.;:!?])/g, '$1')
    .trim();
}

/** Cut a prompt's words into phrases at `,` `;` `|` and the word "and". */
export function splitPhrases(words: readonly DiffWord[]): Phrase[] {
  const out: Phrase[] = [];
  let cur: DiffWord[] = [];
  for (const w of words) {
    if (SEPARATORS.has(w.text) || w.key === 'and') {
      if (cur.length) out.push({ words: cur, sep: w.key === 'and' ? 'and' : w.text });
      cur = [];
    } else cur.push(w);
  }
  if (cur.length) out.push({ words: cur, sep: '' });
  return out;
}

/** Phrases back to text; a phrase whose own separator is gone (it ended its prompt) is joined by `joiner`. */
export function phrasesText(phrases: readonly Phrase[], joiner = 'and'): string {
  let s = '';
  phrases.forEach((p, i) => {
    s += wordsText(p.words);
    if (i === phrases.length - 1) return;
    const sep = p.sep || joiner;
    s += sep === 'and' ? ' and ' : sep === '|' ? ' | ' : `${sep} `;
  });
  return s.trim();
}

/** Shared words (the diff's kept pairs) over the longer phrase's length. */
export function phraseSimilarity(a: readonly DiffWord[], b: readonly DiffWord[]): number {
  const len = Math.max(a.length, b.length);
  if (len === 0) return 1;
  return (
    alignKeys(
      a.map((w) => w.key),
      b.map((w) => w.key),
    ).length / len
  );
}

/** Aligned phrase pairs [i, j] maximising the summed similarity of pairs at least `threshold` similar (in order). */
export function alignPhrases(a: readonly Phrase[], b: readonly Phrase[], threshold: number): [number, number][] {
  const n = a.length;
  const m = b.length;
  const sim = a.map((p) => b.map((q) => phraseSimilarity(p.words, q.words)));
  const S = Array.from({ length: n + 1 }, () => new Float64Array(m + 1));
  for (let i = 1; i <= n; i++)
    for (let j = 1; j <= m; j++) {
      const s = sim[i - 1]![j - 1]!;
      S[i]![j] = Math.max(S[i - 1]![j]!, S[i]![j - 1]!, s >= threshold ? S[i - 1]![j - 1]! + s : -Infinity);
    }
  const pairs: [number, number][] = [];
  let i = n;
  let j = m;
  while (i > 0 && j > 0) {
    const s = sim[i - 1]![j - 1]!;
    if (s >= threshold && S[i]![j] === S[i - 1]![j - 1]! + s) {
      pairs.push([i - 1, j - 1]);
      i--;
      j--;
    } else if (S[i]![j] === S[i - 1]![j]) i--;
    else j--;
  }
  return pairs.reverse();
}

const hasLocked = (words: readonly DiffWord[], locks: ReadonlySet<string>): boolean => words.some((w) => locks.has(w.key));

/** Mix two similar phrases hunk by hunk of their word diff; hunks with a locked word take the side that has it. */
function mixPhrase(a: readonly DiffWord[], b: readonly DiffWord[], rng: Random, locks: ReadonlySet<string>): DiffWord[] {
  const kept = alignKeys(
    a.map((w) => w.key),
    b.map((w) => w.key),
  );
  const out: DiffWord[] = [];
  let i = 0;
  let j = 0;
  const hunk = (i1: number, j1: number) => {
    const ha = a.slice(i, i1);
    const hb = b.slice(j, j1);
    if (ha.length || hb.length) {
      const la = hasLocked(ha, locks);
      const lb = hasLocked(hb, locks);
      if (la && lb) out.push(...ha, ...hb);
      else if (la) out.push(...ha);
      else if (lb) out.push(...hb);
      else out.push(...(rng.chance(0.5) ? ha : hb));
    }
  };
  for (const [ka, kb] of kept) {
    hunk(ka, kb);
    out.push(a[ka]!);
    i = ka + 1;
    j = kb + 1;
  }
  hunk(a.length, b.length);
  return out;
}

export interface CrossoverOptions {
  /** Words the child must keep (lower-case). */
  locks?: Iterable<string>;
  /** Joins phrases from different parents (default "and"). */
  joiner?: string;
  /** Phrases at least this similar are aligned and mixed word by word (default 0.6). */
  matchThreshold?: number;
}

const normal = (s: string) => s.toLowerCase().replace(/\s+/g, ' ').trim();

/**
 * Phrase-level crossover of two prompts (see the file comment). Tries a few draws for a child
 * that differs from both parents; returns the last draw otherwise.
 * @returns the child text and which parent each phrase came from (e.g. "A1 A2×B1 B2")
 */
export function promptCrossover(a: string, b: string, rng: Random, o: CrossoverOptions = {}): { text: string; detail: string } {
  const locks = new Set([...(o.locks ?? [])].map((w) => w.toLowerCase()));
  const pa = splitPhrases(promptDiffWords(a));
  const pb = splitPhrases(promptDiffWords(b));
  const pairs = alignPhrases(pa, pb, o.matchThreshold ?? 0.6);
  let last = { text: a, detail: 'A' };
  for (let attempt = 0; attempt < 6; attempt++) {
    const child: Phrase[] = [];
    const detail: string[] = [];
    let i = 0;
    let j = 0;
    // Phrases between two aligned pairs that only one parent has: from A, from B, or (half the
    // time) from both, in either order; on a chosen side each phrase stays with odds 3:1.
    const gap = (ia: number, jb: number) => {
      const ga = pa.slice(i, ia).map((p, k) => ({ p, label: `A${i + k + 1}` }));
      const gb = pb.slice(j, jb).map((p, k) => ({ p, label: `B${j + k + 1}` }));
      if (ga.length === 0 && gb.length === 0) return;
      const u = rng.next();
      const side = ga.length === 0 ? 'b' : gb.length === 0 ? 'a' : u < 0.25 ? 'a' : u < 0.5 ? 'b' : 'both';
      const take = (g: typeof ga, chosen: boolean) => {
        const kept = g.filter((x) => hasLocked(x.p.words, locks) || (chosen && rng.chance(0.75)));
        if (chosen && kept.length === 0 && g.length) kept.push(g[rng.int(g.length)]!);
        return kept;
      };
      const fromA = take(ga, side !== 'b');
      const fromB = take(gb, side !== 'a');
      for (const x of side === 'both' && rng.chance(0.5) ? [...fromB, ...fromA] : [...fromA, ...fromB]) {
        child.push(x.p);
        detail.push(x.label);
      }
    };
    for (const [ka, kb] of pairs) {
      gap(ka, kb);
      const same = normal(wordsText(pa[ka]!.words)) === normal(wordsText(pb[kb]!.words));
      child.push({ words: same ? pa[ka]!.words : mixPhrase(pa[ka]!.words, pb[kb]!.words, rng, locks), sep: pa[ka]!.sep || pb[kb]!.sep });
      detail.push(same ? `A${ka + 1}` : `A${ka + 1}×B${kb + 1}`);
      i = ka + 1;
      j = kb + 1;
    }
    gap(pa.length, pb.length);
    const text = child.length ? phrasesText(child, o.joiner) : a;
    last = { text, detail: child.length ? detail.join(' ') : 'A' };
    if (normal(text) !== normal(a) && normal(text) !== normal(b)) break;
  }
  return last;
}

export interface MutationOptions {
  /** Next-word proposals (the shapes LM, GPT-2); without one, words of `dictionary`. */
  lm?: LanguageModel;
  /** Words a mutation may bring in without an LM (the model set's word list). */
  dictionary: readonly string[];
  locks?: Iterable<string>;
  /** Proposals considered per mutation (default 8). */
  proposals?: number;
  /** No insertion beyond this many words (default 60). */
  maxWords?: number;
}

const ALPHA = /^[\p{L}][\p{L}'-]*$/u;

/** Candidate words for slot i (substituting words[i] or inserting before it), with weights. */
async function candidates(
  words: readonly DiffWord[],
  i: number,
  rng: Random,
  o: MutationOptions,
  exclude: string,
): Promise<{ word: string; w: number }[]> {
  const k = o.proposals ?? 8;
  if (o.lm) {
    const next = await o.lm.nextWords(wordsText(words.slice(0, i)), k + 1);
    const ok = next.filter((n) => ALPHA.test(n.word) && n.word.toLowerCase() !== exclude).slice(0, k);
    if (ok.length) {
      const top = Math.max(...ok.map((n) => n.logProb));
      return ok.map((n) => ({ word: n.word, w: Math.exp(n.logProb - top) }));
    }
  }
  if (o.dictionary.length === 0) return [];
  return Array.from({ length: k }, () => ({ word: rng.pick(o.dictionary), w: 1 })).filter((c) => c.word.toLowerCase() !== exclude);
}

/**
 * One word substituted (½), inserted (¼) or deleted (¼); locked words are never touched.
 * @returns the mutated text (the input itself when nothing could change) and what changed
 */
export async function wordMutation(prompt: string, rng: Random, o: MutationOptions): Promise<{ text: string; detail: string }> {
  const locks = new Set([...(o.locks ?? [])].map((w) => w.toLowerCase()));
  const words = promptDiffWords(prompt);
  const free = words.map((w, i) => (w.isWord && !locks.has(w.key) ? i : -1)).filter((i) => i >= 0);
  const wordCount = words.filter((w) => w.isWord).length;
  const canDelete = free.length > 0 && wordCount > 1;
  const canInsert = wordCount < (o.maxWords ?? 60);
  const op = rng.weighted([free.length ? 0.5 : 0, canInsert ? 0.25 : 0, canDelete ? 0.25 : 0]);
  if (op === 0 && free.length) {
    const i = rng.pick(free);
    const c = await candidates(words, i, rng, o, words[i]!.key);
    if (c.length) {
      const w = c[rng.weighted(c.map((x) => x.w))]!.word;
      const next = [...words.slice(0, i), { ...words[i]!, text: w, key: w.toLowerCase() }, ...words.slice(i + 1)];
      return { text: wordsText(next), detail: `substituted "${words[i]!.text}" -> "${w}"` };
    }
  }
  if (op === 1 || (op === 0 && canInsert)) {
    const i = rng.int(words.length + 1);
    const c = await candidates(words, i, rng, o, '');
    if (c.length) {
      const w = c[rng.weighted(c.map((x) => x.w))]!.word;
      const ins = { text: w, key: w.toLowerCase(), weight: 1, start: 0, end: 0, isWord: true };
      return { text: wordsText([...words.slice(0, i), ins, ...words.slice(i)]), detail: `inserted "${w}"` };
    }
  }
  if (canDelete) {
    const i = rng.pick(free);
    return { text: wordsText([...words.slice(0, i), ...words.slice(i + 1)]), detail: `deleted "${words[i]!.text}"` };
  }
  return { text: wordsText(words), detail: 'unchanged' };
}

/** Whether the text contains a locked word or phrase (whole words, any case). */
export function containsWords(text: string, phrase: string): boolean {
  const keys = promptDiffWords(text).map((w) => w.key);
  const want = promptDiffWords(phrase).map((w) => w.key);
  if (want.length === 0) return true;
  for (let i = 0; i + want.length <= keys.length; i++) if (want.every((k, j) => keys[i + j] === k)) return true;
  return false;
}

/** The text with every locked word or phrase it lost appended (", word"), in lock order. */
export function enforceLocks(text: string, locks: readonly string[]): string {
  const missing = locks.filter((l) => !containsWords(text, l));
  if (missing.length === 0) return text;
  const base = text.trim();
  return base ? `${base}, ${missing.join(', ')}` : missing.join(', ');
}
