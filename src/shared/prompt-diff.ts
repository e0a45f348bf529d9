/**
 * The word-level diff of a source prompt and its edited version, which names the edit:
 *
 *   "a red cube and a blue ball"  ->  "a red cube"              removal     "and a blue ball"
 *   "a red cube"                  ->  "a green cube"            replacement "red" -> "green"
 *   "a red cube"                  ->  "a red cube in the snow"  insertion   "in the snow"
 *   "a red cube"                  ->  "a (red:1.4) cube"        reweight    "red" 1 -> 1.4
 *
 * Words are what the text encoder reads: the prompt's syntax is removed exactly as generation
 * removes it (`(word:1.3)`, `[word]`, `\(`, `BREAK`, `// comments`: diffusion/prompt-weights.ts),
 * the plain text is cut with CLIP's pre-tokenizer, and each word keeps its emphasis weight (the
 * weight of its first character, as the encoder applies it). Words match on their lower-case form.
 *
 * The alignment keeps as many words as possible; among alignments that keep as many it makes the
 * fewest separate changes and keeps words in the fewest runs ("a cat" -> "a photo of a cat" inserts
 * "a photo of"); remaining ties keep the earlier occurrence of a repeated word (deleting one
 * "a blue cube" of "a blue cube and a blue cube" deletes the trailing one).
 * Pure functions: no tokenizer needed (the engine passes its own word lists with token positions).
 * Shared so the studio's Edit view highlights the same diff live as the artist types; the engine
 * re-exports it from concepts/edit.
 */
import { clipWords, hasPromptSyntax, parsePrompt } from './prompt-syntax.js';

/** One word (CLIP pre-token: a word, a digit, or a run of punctuation) of a prompt. */
export interface DiffWord {
  /** As in the plain text the encoder reads. */
  text: string;
  /** Lower-case form the diff matches on. */
  key: string;
  /** Emphasis weight (1 without syntax). */
  weight: number;
  /** [start, end) in the plain text. */
  start: number;
  end: number;
  /** [start, end) in the prompt as written, when the plain text maps back to it (for highlighting). */
  source?: { start: number; end: number };
  /** Whether it has a letter or a digit (punctuation runs are words of the diff but name no edit). */
  isWord: boolean;
  /** Text-encoder positions of its tokens (engine word lists only; BOS is position 0). */
  positions?: number[];
}

export type EditKind = 'removal' | 'insertion' | 'replacement' | 'reweight';

/** One change of the diff. Word ranges are [from, to) indices into PromptDiff.source / .edited. */
export interface WordEdit {
  kind: EditKind;
  source: { from: number; to: number; text: string };
  edited: { from: number; to: number; text: string };
  /** reweight: the emphasis weight before and after. */
  weight?: { source: number; edited: number };
  /** Only punctuation changed (no word on either side): such edits never choose the mode. */
  punctuation: boolean;
}

export interface PromptDiff {
  sourcePrompt: string;
  editedPrompt: string;
  source: DiffWord[];
  edited: DiffWord[];
  /** Kept words as [source index, edited index], in order. */
  matches: [number, number][];
  edits: WordEdit[];
  /** No word added, removed, replaced or reweighted (spacing and syntax-only changes aside). */
  identical: boolean;
}

const HAS_WORD = /[\p{L}\p{N}]/u;

/**
 * The words of a prompt as generation reads them (syntax removed, emphasis weights kept).
 * Text without prompt syntax is read verbatim, as generation does.
 */
export function promptDiffWords(prompt: string): DiffWord[] {
  const syntax = hasPromptSyntax(prompt);
  const parsed = syntax ? parsePrompt(prompt.normalize('NFC')) : undefined;
  const plain = parsed ? parsed.plain : prompt;
  return clipWords(plain).map((w) => {
    const word: DiffWord = {
      text: plain.slice(w.start, w.end),
      key: w.word,
      weight: parsed ? (parsed.weights[w.start] ?? 1) : 1,
      start: w.start,
      end: w.end,
      isWord: HAS_WORD.test(w.word),
    };
    if (!parsed) word.source = { start: w.start, end: w.end };
    else {
      const a = parsed.sourceOffset[w.start] ?? -1;
      const b = parsed.sourceOffset[w.end - 1] ?? -1;
      if (a >= 0 && b >= 0) word.source = { start: a, end: b + 1 };
    }
    return word;
  });
}

/**
 * Align two key sequences: the most kept elements, then the fewest separate change runs, then the
 * fewest separate runs of kept elements (changes gather at the ends: "a cat" -> "a photo of a cat"
 * inserts "a photo of", not "photo of a"); remaining ties keep earlier occurrences. Returns the
 * kept pairs [i, j] in order. O(|a|·|b|).
 */
export function alignKeys(a: readonly string[], b: readonly string[]): [number, number][] {
  const n = a.length;
  const m = b.length;
  // Score = kept · B2 − change runs · B1 − kept runs, each weight above the most the next can sum to.
  const B1 = n + m + 2;
  const B2 = (n + m + 2) * B1;
  const W = m + 1;
  const NEG = -Infinity;
  // M: the prefix alignment ends with a kept pair; G: it ends inside a change run.
  const M = new Float64Array((n + 1) * W).fill(NEG);
  const G = new Float64Array((n + 1) * W).fill(NEG);
  M[0] = 0;
  // A kept pair continues a run of kept pairs only after another kept pair (not at the start).
  const fromM = (p: number): number => M[p]! - (p === 0 ? 1 : 0);
  for (let i = 0; i <= n; i++)
    for (let j = 0; j <= m; j++) {
      const k = i * W + j;
      if (i > 0 && j > 0 && a[i - 1] === b[j - 1]) {
        const p = (i - 1) * W + j - 1;
        M[k] = Math.max(fromM(p), G[p]! - 1) + B2;
      }
      let g = NEG;
      if (i > 0) g = Math.max(g, M[k - W]! - B1, G[k - W]!);
      if (j > 0) g = Math.max(g, M[k - 1]! - B1, G[k - 1]!);
      G[k] = g;
    }
  // Trace back from the end; on ties prefer being in a change run, so kept pairs come earlier.
  const pairs: [number, number][] = [];
  let i = n;
  let j = m;
  let inGap = G[n * W + m]! >= M[n * W + m]!;
  while (i > 0 || j > 0) {
    const k = i * W + j;
    if (!inGap) {
      pairs.push([i - 1, j - 1]);
      const p = (i - 1) * W + j - 1;
      inGap = G[p]! - 1 >= fromM(p);
      i--;
      j--;
      continue;
    }
    const here = G[k]!;
    // Stay in the run when possible (runs extend towards the start), deletions before insertions.
    if (i > 0 && G[k - W] === here) i--;
    else if (j > 0 && G[k - 1] === here) j--;
    else if (i > 0 && M[k - W]! - B1 === here) {
      i--;
      inGap = false;
    } else {
      j--;
      inGap = false;
    }
  }
  return pairs.reverse();
}

const textOf = (words: readonly DiffWord[], from: number, to: number): string =>
  words
    .slice(from, to)
    .map((w) => w.text)
    .join(' ')
    .replace(/ ([,.;:!?])/g, '$1');

const sameWeight = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9;

/** Diff two word lists (see promptDiffWords; the engine passes lists with token positions). */
export function diffWords(sourcePrompt: string, editedPrompt: string, source: DiffWord[], edited: DiffWord[]): PromptDiff {
  const matches = alignKeys(
    source.map((w) => w.key),
    edited.map((w) => w.key),
  );
  const edits: WordEdit[] = [];
  const hunk = (s0: number, s1: number, e0: number, e1: number): void => {
    if (s0 === s1 && e0 === e1) return;
    const kind: EditKind = s0 === s1 ? 'insertion' : e0 === e1 ? 'removal' : 'replacement';
    const punctuation = !source.slice(s0, s1).some((w) => w.isWord) && !edited.slice(e0, e1).some((w) => w.isWord);
    edits.push({
      kind,
      source: { from: s0, to: s1, text: textOf(source, s0, s1) },
      edited: { from: e0, to: e1, text: textOf(edited, e0, e1) },
      punctuation,
    });
  };
  let si = 0;
  let ei = 0;
  for (let k = 0; k < matches.length; k++) {
    const [s, e] = matches[k]!;
    hunk(si, s, ei, e);
    // Runs of kept words whose weight changed the same way are one reweight.
    const ws = source[s]!.weight;
    const we = edited[e]!.weight;
    if (!sameWeight(ws, we)) {
      const last = edits[edits.length - 1];
      if (
        last?.kind === 'reweight' &&
        last.source.to === s &&
        last.edited.to === e &&
        sameWeight(last.weight!.source, ws) &&
        sameWeight(last.weight!.edited, we)
      ) {
        last.source.to = s + 1;
        last.edited.to = e + 1;
        last.source.text = textOf(source, last.source.from, s + 1);
        last.edited.text = textOf(edited, last.edited.from, e + 1);
      } else
        edits.push({
          kind: 'reweight',
          source: { from: s, to: s + 1, text: source[s]!.text },
          edited: { from: e, to: e + 1, text: edited[e]!.text },
          weight: { source: ws, edited: we },
          punctuation: !source[s]!.isWord,
        });
    }
    si = s + 1;
    ei = e + 1;
  }
  hunk(si, source.length, ei, edited.length);
  return { sourcePrompt, editedPrompt, source, edited, matches, edits, identical: edits.length === 0 };
}

/** The word-level diff of two prompts (prompt syntax allowed in both). */
export function diffPrompts(sourcePrompt: string, editedPrompt: string): PromptDiff {
  return diffWords(sourcePrompt, editedPrompt, promptDiffWords(sourcePrompt), promptDiffWords(editedPrompt));
}

const fmtWeight = (w: number): string => String(Number(w.toFixed(3)));

/** One line per edit, e.g. `removal of "and a blue ball"`, `replacement of "red" by "green"`. */
export function describeEdit(e: WordEdit): string {
  switch (e.kind) {
    case 'removal':
      return `removal of "${e.source.text}"`;
    case 'insertion':
      return `insertion of "${e.edited.text}"`;
    case 'replacement':
      return `replacement of "${e.source.text}" by "${e.edited.text}"`;
    case 'reweight':
      return `reweight of "${e.edited.text}" from ${fmtWeight(e.weight!.source)} to ${fmtWeight(e.weight!.edited)}`;
  }
}

/** The diff's edits in words, e.g. `removal of "and a blue ball"; insertion of "snowy"`. */
export function describeDiff(d: PromptDiff): string {
  return d.identical ? 'no change' : d.edits.map(describeEdit).join('; ');
}
