/**
 * Words of a prompt -> the token positions whose attention maps make up each word's map.
 *
 * The prompt goes through exactly what generation does with it (prompt-weights.ts:
 * `(cat:1.2)`, `[dog]`, `BREAK`, `// comments` removed, then CLIP tokenisation of the plain text),
 * and the tokenizer's per-position word spans say which positions belong to which word. So a word
 * split into several BPE tokens ("sunflower" -> "sun", "flower</w>") gets all of them, emphasis
 * brackets around it change nothing, and the positions are the ones the UNet actually attended
 * with.
 */
import { clipWords, parsePrompt } from '../../../shared/prompt-syntax.js';
import { EngineError } from '../errors.js';
import { parseWeightedText } from '../diffusion/prompt-weights.js';
import type { ClipTokenizer } from '../diffusion/tokenizer/index.js';

/** One pre-token of the prompt (a word, a number or a run of punctuation) inside the token window. */
export interface PromptPiece {
  /** As written (in the plain text the tokenizer read). */
  text: string;
  /** Lower-case form that queries are matched against. */
  key: string;
  /** Positions in the 77-position window (BOS is 0, so content starts at 1). */
  positions: number[];
  /** Vocabulary strings of those tokens, e.g. ['sun', 'flower</w>']. */
  tokens: string[];
  /** [start, end) in the plain text. */
  start: number;
  end: number;
  /** [start, end) in the prompt as written, when the plain text maps back to it. */
  source?: { start: number; end: number };
  /** Whether it has a letter or digit (punctuation runs are pieces but not words). */
  isWord: boolean;
}

export interface PromptWords {
  prompt: string;
  /** What the tokenizer read. */
  plain: string;
  /** Every pre-token in the window, in order. */
  pieces: PromptPiece[];
  /** Words that did not fit in the window (dropped by truncation). */
  truncated: string[];
  /** Content tokens the window holds (75 for CLIP's 77 positions). */
  limit: number;
}

/** The positions of one queried word (all its occurrences in the prompt). */
export interface WordTokens {
  /** The word as asked for (trimmed, syntax removed). */
  word: string;
  positions: number[];
  tokens: string[];
  occurrences: number;
}

/** Words left out of the default word list: they attend everywhere and segment nothing. */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  'a an the of and or in on at to with by for from into onto over under is are be as its it this that these those some very'.split(' '),
);

const HAS_WORD = /[\p{L}\p{N}]/u;

/**
 * Split a prompt (prompt syntax allowed) into the pieces the text encoder saw, with their positions.
 * @throws EngineError('INVALID_ARGUMENT') when the prompt has no words (empty, only syntax or punctuation)
 */
export function promptWords(tokenizer: ClipTokenizer, prompt: string): PromptWords {
  const { plain } = parseWeightedText(prompt);
  // Source offsets of the plain text's characters (prompt-weights parses the NFC form).
  const sourceOffset =
    plain === prompt ? undefined : parsePrompt(prompt.normalize('NFC')).sourceOffset.map((o) => (o >= 0 ? o : undefined));
  const enc = tokenizer.encode(plain);
  const norm = plain.normalize('NFC');
  const pieces: PromptPiece[] = [];
  for (let p = 1; p < enc.length - 1; p++) {
    const span = enc.spans[p];
    if (!span) continue;
    const last = pieces[pieces.length - 1];
    if (last && last.start === span.start && last.end === span.end) {
      last.positions.push(p);
      last.tokens.push(enc.tokens[p]!);
      continue;
    }
    const text = norm.slice(span.start, span.end);
    const piece: PromptPiece = {
      text,
      key: text.toLowerCase(),
      positions: [p],
      tokens: [enc.tokens[p]!],
      start: span.start,
      end: span.end,
      isWord: HAS_WORD.test(text),
    };
    if (sourceOffset) {
      const a = sourceOffset[span.start];
      const b = sourceOffset[span.end - 1];
      if (a !== undefined && b !== undefined) piece.source = { start: a, end: b + 1 };
    } else piece.source = { start: span.start, end: span.end };
    pieces.push(piece);
  }
  if (!pieces.some((w) => w.isWord))
    throw new EngineError(
      'INVALID_ARGUMENT',
      prompt.trim() === ''
        ? 'the prompt is empty: attention maps belong to the words of a prompt, so give one'
        : `the prompt "${prompt}" has no words (only syntax or punctuation): attention maps belong to words`,
    );
  return { prompt, plain, pieces, truncated: enc.truncated?.words ?? [], limit: tokenizer.contextLength - 2 };
}

/** The distinct words of a prompt in order of first use, without STOP_WORDS (all words if that leaves none). */
export function defaultWords(pw: PromptWords): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const w of pw.pieces) {
    if (!w.isWord || seen.has(w.key)) continue;
    seen.add(w.key);
    if (!STOP_WORDS.has(w.key)) out.push(w.text);
  }
  return out.length > 0 ? out : [...seen];
}

/**
 * The positions of a word (or a phrase such as "red fox" or "t-shirt": consecutive pieces) in the
 * prompt; every occurrence counts. Matching ignores case and prompt syntax in the query.
 * @throws EngineError('INVALID_ARGUMENT') for an empty query, a word past the token window, or a
 *   word not in the prompt (the message lists the prompt's words)
 */
export function lookupWord(pw: PromptWords, query: string): WordTokens {
  const word = parsePrompt(query.normalize('NFC')).plain.trim();
  const keys = clipWords(word).map((w) => w.word);
  if (keys.length === 0 || !keys.some((k) => HAS_WORD.test(k)))
    throw new EngineError('INVALID_ARGUMENT', `"${query}" is not a word; ask for a word of the prompt`);
  const positions: number[] = [];
  const tokens: string[] = [];
  let occurrences = 0;
  for (let i = 0; i + keys.length <= pw.pieces.length; i++) {
    if (!keys.every((k, j) => pw.pieces[i + j]!.key === k)) continue;
    occurrences++;
    for (let j = 0; j < keys.length; j++) {
      positions.push(...pw.pieces[i + j]!.positions);
      tokens.push(...pw.pieces[i + j]!.tokens);
    }
  }
  if (occurrences === 0) {
    const lower = word.toLowerCase();
    if (pw.truncated.some((t) => t.toLowerCase() === lower || lower.split(/\s+/).includes(t.toLowerCase())))
      throw new EngineError(
        'INVALID_ARGUMENT',
        `"${word}" is past the prompt's ${pw.limit}-token limit (the text encoder reads no further), so it has no attention map; shorten the prompt`,
      );
    const words = [...new Set(pw.pieces.filter((p) => p.isWord).map((p) => p.text))];
    throw new EngineError('INVALID_ARGUMENT', `"${word}" is not a word of the prompt; its words are: ${words.join(', ')}`);
  }
  return { word, positions, tokens, occurrences };
}
