/**
 * The studio's prompt language, as plain functions (no Monaco here, so it is unit-testable).
 *
 * A prompt document is what the Prompt editor holds:
 *
 *   a castle on a hill, (golden hour:1.3), [fog]      <- positive prompt
 *   BREAK                                             <- A1111's chunk break (here: a separator)
 *   oil painting  
 *   // a line comment, never sent to the engine
 *   Negative prompt: blurry, lowres                   <- everything after is the negative prompt
 *
 * Emphasis follows the A1111 convention artists already know: `(x)` = x1.1, `[x]` = /1.1,
 * `(x:1.3)` = explicit weight, `\(` escapes a bracket. Shared by the editor (highlighting, token
 * counter) and the engine, which encodes `plain` and then scales each token's text-encoder row
 * by its weight (diffusion/prompt-weights.ts). The engine reads one 77-token window: BREAK only
 * separates, it does not start a second window.
 */

/** Line that starts the negative section (A1111's `parameters` text uses the same words). */
export const NEGATIVE_HEADER = /^\s*negative(?:\s+prompt)?\s*:/im;

export interface PromptDoc {
  positive: string;
  negative: string;
}

/** Splits a document into positive and negative prompts (both still in prompt syntax). */
export function splitDoc(doc: string): PromptDoc {
  const m = NEGATIVE_HEADER.exec(doc);
  if (!m) return { positive: doc.replace(/\s+$/, ''), negative: '' };
  return {
    positive: doc.slice(0, m.index).replace(/\s+$/, ''),
    negative: doc.slice(m.index + m[0].length).trim(),
  };
}

/** Offset in `doc` where the negative prompt's text starts (after the header), or -1. */
export function negativeOffset(doc: string): number {
  const m = NEGATIVE_HEADER.exec(doc);
  if (!m) return -1;
  let i = m.index + m[0].length;
  while (i < doc.length && /\s/.test(doc[i]!)) i += 1;
  return i;
}

/** Inverse of `splitDoc`: an empty negative prompt leaves no header behind. */
export function joinDoc({ positive, negative }: PromptDoc): string {
  const pos = positive.replace(/\s+$/, '');
  const neg = negative.trim();
  return neg ? `${pos}\nNegative prompt: ${neg}` : pos;
}

/** One run of prompt text that reaches the engine, with where it sits in the source. */
export interface TextRun {
  /** Text as sent to the engine. */
  text: string;
  /** Offset of the run's first character in the source string. */
  start: number;
  /** Emphasis weight (product of enclosing brackets). */
  weight: number;
  /** Index of the BREAK chunk this run belongs to. */
  chunk: number;
}

export interface Parsed {
  runs: TextRun[];
  /** Plain text for the engine (runs joined; BREAK becomes ", "). */
  plain: string;
  /** For each character of `plain`, the emphasis weight of the run it came from (1 for separators). */
  weights: number[];
  /** For each character of `plain`, its offset in the source (-1 for inserted separators). */
  sourceOffset: number[];
  /** Number of BREAK-separated chunks. */
  chunks: number;
  /** Syntax problems, with source offsets (unbalanced brackets, bad weights). */
  problems: { start: number; end: number; message: string }[];
}

const EMPHASIS = 1.1;

/**
 * Parses prompt syntax into weighted runs of text. Never throws: unbalanced brackets are
 * reported in `problems` and treated as literal text closing at the end.
 */
export function parsePrompt(src: string): Parsed {
  const runs: TextRun[] = [];
  const problems: Parsed['problems'] = [];
  // Stack of open brackets: position, kind, and the run index where the group started.
  const stack: { pos: number; kind: '(' | '['; firstRun: number }[] = [];
  let chunk = 0;
  let buf = '';
  let bufStart = -1;
  const offsets: number[] = [];

  const weightNow = (): number => {
    let w = 1;
    for (const s of stack) w *= s.kind === '(' ? EMPHASIS : 1 / EMPHASIS;
    return w;
  };
  const flush = (): void => {
    if (buf.length > 0) runs.push({ text: buf, start: bufStart, weight: weightNow(), chunk });
    buf = '';
    bufStart = -1;
    pendingOffsets.push(...offsets.splice(0));
  };
  const pendingOffsets: number[] = [];
  const push = (ch: string, at: number): void => {
    if (bufStart < 0) bufStart = at;
    buf += ch;
    offsets.push(at);
  };

  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    const lineStart = i === 0 || src[i - 1] === '\n';
    if (lineStart && src.startsWith('//', i + (src.slice(i).match(/^[ \t]*/)?.[0].length ?? 0))) {
      // Comment line: skip to (and including) its newline.
      const nl = src.indexOf('\n', i);
      i = nl < 0 ? src.length : nl + 1;
      continue;
    }
    if (ch === '\\' && i + 1 < src.length && '()[]\\'.includes(src[i + 1]!)) {
      push(src[i + 1]!, i + 1);
      i += 2;
      continue;
    }
    if (/^BREAK\b/.test(src.slice(i, i + 6)) && (i === 0 || /[\s,]/.test(src[i - 1]!))) {
      flush();
      chunk += 1;
      i += 5;
      continue;
    }
    if (ch === '(' || ch === '[') {
      flush();
      stack.push({ pos: i, kind: ch, firstRun: runs.length });
      i += 1;
      continue;
    }
    if (ch === ')' || ch === ']') {
      const open = stack[stack.length - 1];
      const want = ch === ')' ? '(' : '[';
      if (!open || open.kind !== want) {
        problems.push({ start: i, end: i + 1, message: `unmatched '${ch}'` });
        i += 1;
        continue;
      }
      // Explicit weight `(text:1.3)`: the buffer ends with `:number`.
      let explicit: number | undefined;
      if (ch === ')') {
        const m = /:\s*(-?\d+(?:\.\d*)?|\.\d+)\s*$/.exec(buf);
        if (m) {
          explicit = Number(m[1]);
          const cut = buf.length - m[0].length;
          buf = buf.slice(0, cut);
          offsets.splice(cut);
          if (buf.length === 0) bufStart = -1;
          if (!(explicit >= 0 && explicit <= 3)) {
            problems.push({ start: open.pos, end: i + 1, message: `weight ${m[1]} is outside 0..3` });
          }
        } else if (/:\s*$/.test(buf)) {
          problems.push({ start: open.pos, end: i + 1, message: 'weight is missing a number' });
        }
      }
      flush();
      stack.pop();
      if (explicit !== undefined) {
        // The group's runs carry the explicit weight times the enclosing brackets' weight.
        const outer = weightNow();
        for (let r = open.firstRun; r < runs.length; r++) runs[r]!.weight = outer * explicit;
      }
      i += 1;
      continue;
    }
    push(ch, i);
    i += 1;
  }
  flush();
  for (const s of stack) problems.push({ start: s.pos, end: s.pos + 1, message: `unclosed '${s.kind}'` });

  // Join runs into the engine's plain text: runs are contiguous pieces of the source minus
  // syntax; chunks are separated by ", " so words of adjacent chunks never merge.
  const chars: Char[] = [];
  let prevChunk = 0;
  let cursor = 0;
  for (const run of runs) {
    if (run.chunk !== prevChunk) {
      chars.push({ ch: ',', at: -1, w: 1 }, { ch: ' ', at: -1, w: 1 });
    }
    prevChunk = run.chunk;
    for (let k = 0; k < run.text.length; k++) chars.push({ ch: run.text[k]!, at: pendingOffsets[cursor + k]!, w: run.weight });
    cursor += run.text.length;
  }
  const tidied = tidy(chars);
  return {
    runs,
    plain: tidied.map((c) => c.ch).join(''),
    sourceOffset: tidied.map((c) => c.at),
    weights: tidied.map((c) => c.w),
    chunks: chunk + 1,
    problems,
  };
}

/** Plain engine text of a prompt: syntax and comments removed, whitespace tidied. */
export function toPlain(src: string): string {
  return parsePrompt(src).plain;
}

/**
 * True when `src` uses any prompt syntax (brackets, escapes, BREAK, comment lines). Text without
 * it is what it says and reaches the text encoder verbatim, exactly as before weights existed.
 */
export function hasPromptSyntax(src: string): boolean {
  return /[()[\]\\]|\bBREAK\b|^[ \t]*\/\//m.test(src);
}

/**
 * The parse of what the engine reads from a prompt section: `parsePrompt` when the text uses
 * prompt syntax, else the text itself (trimmed, as the studio sends it), one run of weight 1 with
 * offsets into `src`. The token counter must count this, not the tidied `parsePrompt(src).plain`:
 * text without syntax reaches the tokenizer verbatim, and tidying (collapsed commas) can change
 * its token count.
 */
export function parseEngineText(src: string): Parsed {
  if (hasPromptSyntax(src)) return parsePrompt(src);
  const text = src.trim();
  const lead = text ? src.indexOf(text) : 0;
  return {
    runs: text ? [{ text, start: lead, weight: 1, chunk: 0 }] : [],
    plain: text,
    // per UTF-16 code unit, like every offset here (not per code point)
    weights: new Array<number>(text.length).fill(1),
    sourceOffset: Array.from({ length: text.length }, (_c, k) => lead + k),
    chunks: 1,
    problems: [],
  };
}

/** The prompt without its comment lines (what is sent to the engine and stored with an image). */
export function withoutComments(src: string): string {
  return src
    .split('\n')
    .filter((line) => !/^[ \t]*\/\//.test(line))
    .join('\n')
    .trim();
}

/**
 * Whitespace runs become one space, no space before a comma, repeated commas collapse, and
 * leading/trailing commas and spaces go. Works on (char, source offset) pairs so the editor can
 * still map engine text back to the document.
 */
interface Char {
  ch: string;
  /** Source offset, -1 for inserted separators. */
  at: number;
  /** Emphasis weight. */
  w: number;
}

function tidy(chars: Char[]): Char[] {
  const out: Char[] = [];
  for (const c of chars) {
    const ch = /\s/.test(c.ch) ? ' ' : c.ch;
    const prev = out[out.length - 1];
    if (ch === ' ') {
      if (!prev || prev.ch === ' ') continue;
      out.push({ ...c, ch });
    } else if (ch === ',') {
      while (out.length && out[out.length - 1]!.ch === ' ') out.pop();
      const p = out[out.length - 1];
      if (!p || p.ch === ',') continue;
      out.push({ ...c, ch });
    } else {
      out.push({ ...c, ch });
    }
  }
  while (out.length && (out[out.length - 1]!.ch === ' ' || out[out.length - 1]!.ch === ',')) out.pop();
  return out;
}

/** The same regex CLIP's tokenizer uses to cut text into words before BPE. */
const CLIP_PRETOKENIZE = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/giu;

/** Word spans of a text as CLIP's pre-tokenizer sees them (offsets into `text`). */
export function clipWords(text: string): { word: string; start: number; end: number }[] {
  const out: { word: string; start: number; end: number }[] = [];
  for (const m of text.matchAll(CLIP_PRETOKENIZE)) {
    out.push({ word: m[0].toLowerCase(), start: m.index, end: m.index + m[0].length });
  }
  return out;
}

/**
 * Aligns BPE token strings (e.g. `["a</w>", "cast", "le</w>"]`, no BOS/EOS) to the words of
 * `text`. Returns, for each token, the [start, end) span in `text` of the word it belongs to.
 * Tokens that cannot be aligned (a tokenizer that differs from CLIP's) get `null`.
 */
export function alignTokens(text: string, tokens: readonly string[]): ({ start: number; end: number } | null)[] {
  const words = clipWords(text.toLowerCase());
  const spans: ({ start: number; end: number } | null)[] = [];
  let w = 0;
  let acc = '';
  let lost = false;
  for (const raw of tokens) {
    const piece = raw
      .replace(/<\/w>$/, '')
      .trim()
      .toLowerCase();
    const word = words[w];
    if (lost || !word) {
      spans.push(null);
      continue;
    }
    acc += piece;
    spans.push({ start: word.start, end: word.end });
    if (acc === word.word) {
      w += 1;
      acc = '';
    } else if (!word.word.startsWith(acc)) {
      lost = true;
      spans[spans.length - 1] = null;
    }
  }
  return spans;
}

/**
 * Source ranges (offsets into the positive prompt) of words past the token limit, given the
 * parsed prompt and per-token spans in `parsed.plain`. `limit` counts content tokens (75 for
 * CLIP's 77 including BOS/EOS).
 */
export function droppedRanges(
  parsed: Parsed,
  spans: readonly ({ start: number; end: number } | null)[],
  limit: number,
): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (let t = limit; t < spans.length; t++) {
    const s = spans[t];
    if (!s) continue;
    const a = firstMapped(parsed.sourceOffset, s.start, s.end);
    const b = lastMapped(parsed.sourceOffset, s.start, s.end);
    if (a < 0 || b < 0) continue;
    const last = out[out.length - 1];
    if (last && last.start === a) continue; // several tokens of one word
    out.push({ start: a, end: b + 1 });
  }
  return out;
}

function firstMapped(map: readonly number[], from: number, to: number): number {
  for (let k = from; k < to; k++) if ((map[k] ?? -1) >= 0) return map[k]!;
  return -1;
}
function lastMapped(map: readonly number[], from: number, to: number): number {
  for (let k = to - 1; k >= from; k--) if ((map[k] ?? -1) >= 0) return map[k]!;
  return -1;
}

/** What the token counter needs from a tokenize response (see TokenizeResult in src/shared). */
export interface TokenCount {
  tokens: readonly { text: string; start?: number | undefined; end?: number | undefined }[];
  limit: number;
  truncated: boolean;
  droppedFrom: number | null;
}

/**
 * Source ranges of the words CLIP drops, for a tokenize response of `parsed.plain`. Uses the
 * tokens' own offsets when given, else aligns token texts to CLIP's word split, else falls back
 * to `droppedFrom` (everything from there to the end is dropped).
 */
export function droppedSourceRanges(parsed: Parsed, count: TokenCount): { start: number; end: number }[] {
  if (!count.truncated) return [];
  const haveOffsets = count.tokens.length > 0 && count.tokens.every((t) => t.start !== undefined && t.end !== undefined);
  const spans = haveOffsets
    ? count.tokens.map((t) => ({ start: t.start!, end: t.end! }))
    : alignTokens(
        parsed.plain,
        count.tokens.map((t) => t.text),
      );
  const aligned = spans.slice(count.limit).every((s) => s !== null);
  if (aligned) {
    const ranges = droppedRanges(parsed, spans, count.limit);
    if (ranges.length > 0) return ranges;
  }
  if (count.droppedFrom === null) return [];
  // Fallback: one range from the first dropped character to the last mapped one.
  const a = firstMapped(parsed.sourceOffset, count.droppedFrom, parsed.plain.length);
  const b = lastMapped(parsed.sourceOffset, count.droppedFrom, parsed.plain.length);
  return a >= 0 && b >= a ? [{ start: a, end: b + 1 }] : [];
}
