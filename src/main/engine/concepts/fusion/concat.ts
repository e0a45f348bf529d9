/**
 * `concat` fusion: the parents' prompts joined with a connective ("A and B"), fitted to the text
 * encoder's window (75 tokens for CLIP) by dropping the least important words, never by silent
 * truncation. A word's importance is its share of its parent's cross-attention mass (the
 * attention its tokens receive, summed over pixels, steps and the DAAM layers), times the
 * parent's weight; the dropped words are reported.
 */
import { EngineError, throwIfAborted } from '../../errors.js';
import { attentionForImage, generateWithAttention } from '../../attention/image-attention.js';
import { selectLayers } from '../../attention/aggregate.js';
import type { CapturedAttention } from '../../attention/maps.js';
import { promptWords } from '../../attention/words.js';
import type { ModelSet } from '../../diffusion/load-model-set.js';
import { parseWeightedText } from '../../diffusion/prompt-weights.js';
import type { ClipTokenizer } from '../../diffusion/tokenizer/index.js';
import type { SchedulerName } from '../../diffusion/schedulers/index.js';
import type { DroppedWord, ResolvedParent } from './types.js';

/** One word or punctuation run of a part's plain text, with its importance. */
export interface BudgetPiece {
  text: string;
  /** [start, end) in the part's plain text. */
  start: number;
  end: number;
  isWord: boolean;
  /** Importance (higher = kept longer). */
  mass: number;
  /** Never dropped (a keep-word). */
  locked: boolean;
}

export interface BudgetPart {
  parent: number;
  /** The prompt with its syntax removed (NFC). */
  plain: string;
  pieces: BudgetPiece[];
}

const HAS_WORD = /[\p{L}\p{N}]/u;

/** The pieces (CLIP pre-tokens, all of them, also past the window) of a plain text. */
export function budgetPieces(tokenizer: ClipTokenizer, plain: string): Omit<BudgetPiece, 'mass' | 'locked'>[] {
  const norm = plain.normalize('NFC');
  const out: Omit<BudgetPiece, 'mass' | 'locked'>[] = [];
  for (const t of tokenizer.tokenizeWithSpans(norm)) {
    const last = out[out.length - 1];
    if (last && last.start === t.start && last.end === t.end) continue;
    const text = norm.slice(t.start, t.end);
    out.push({ text, start: t.start, end: t.end, isWord: HAS_WORD.test(text) });
  }
  return out;
}

/** The text of a part's kept pieces: the original spacing where pieces were neighbours, one space elsewhere. */
function partText(part: BudgetPart, kept: readonly boolean[]): string {
  let s = '';
  let prev: BudgetPiece | undefined;
  part.pieces.forEach((p, i) => {
    if (!kept[i]) return;
    // Punctuation with no word before it (a leading comma), or right after other punctuation
    // (the word between was dropped), is left out.
    if (!p.isWord && (!prev || !prev.isWord)) return;
    const touching = prev !== undefined && (prev.end === p.start || (!p.isWord && !/\s/.test(part.plain[p.start - 1] ?? ' ')));
    s += prev === undefined ? p.text : touching ? p.text : ` ${p.text}`;
    prev = p;
  });
  // A trailing comma or similar left by a dropped last word.
  return s.replace(/[\s,;]+$/u, '').trim();
}

/** The parts joined: "A and B and C" (connective between each), or with emphasis `(A:w)` when weights differ. */
export function joinParts(texts: readonly string[], connective: string, emphasis?: readonly number[]): string {
  const parts = texts.map((t, i) => {
    const w = emphasis?.[i];
    return w !== undefined && Math.abs(w - 1) > 1e-9 ? `(${t}:${Number(w.toFixed(3))})` : t;
  });
  const c = connective.trim();
  return parts.filter((p) => p.trim() !== '').join(c === ',' ? ', ' : c ? ` ${c} ` : ' ');
}

/**
 * Drop the least important droppable words until `count(joined plain text) <= limit`.
 * Ties go to the later word of the later part (the end of a prompt matters least to CLIP).
 * @throws EngineError('INVALID_ARGUMENT') when the locked words and the connectives alone exceed the window
 */
export function trimToBudget(
  parts: readonly BudgetPart[],
  o: { connective: string; count: (text: string) => number; limit: number },
): { texts: string[]; dropped: DroppedWord[]; tokens: number } {
  const kept = parts.map((p) => p.pieces.map(() => true));
  const dropped: DroppedWord[] = [];
  const texts = () => parts.map((p, i) => partText(p, kept[i]!));
  for (;;) {
    const t = texts();
    const tokens = o.count(joinParts(t, o.connective));
    if (tokens <= o.limit) return { texts: t, dropped, tokens };
    let best: { part: number; piece: number; mass: number } | undefined;
    parts.forEach((p, i) =>
      p.pieces.forEach((piece, k) => {
        if (!kept[i]![k] || !piece.isWord || piece.locked) return;
        if (!best || piece.mass <= best.mass) best = { part: i, piece: k, mass: piece.mass };
      }),
    );
    if (!best)
      throw new EngineError(
        'INVALID_ARGUMENT',
        `the words that must be kept and the connectives alone need ${tokens} tokens, more than the ${o.limit} the text encoder reads; keep fewer words or fuse fewer parents`,
      );
    const b: { part: number; piece: number; mass: number } = best;
    kept[b.part]![b.piece] = false;
    const piece = parts[b.part]!.pieces[b.piece]!;
    dropped.push({ parent: parts[b.part]!.parent, word: piece.text, mass: b.mass });
  }
}

/**
 * Attention mass of each text position: per selected (DAAM) layer the mean over pixels of the
 * summed attention, averaged over the layers. [positions]
 */
export function positionMass(captured: CapturedAttention): Float64Array {
  const layers = selectLayers(captured);
  const out = new Float64Array(captured.positions);
  for (const l of layers) {
    const n = l.height * l.width;
    for (let p = 0; p < n; p++) for (let t = 0; t < l.positions; t++) out[t] = out[t]! + l.data[p * l.positions + t]! / n;
  }
  for (let t = 0; t < out.length; t++) out[t] = out[t]! / layers.length;
  return out;
}

export interface MassOptions {
  seed: number;
  steps: number;
  scheduler: SchedulerName;
  guidance: number;
  width: number;
  height: number;
  signal?: AbortSignal;
}

/** The cross-attention a parent's prompt receives: over its own image (noising path) when it has one, else over a generation of it. */
export async function parentAttention(ms: ModelSet, parent: ResolvedParent, o: MassOptions): Promise<CapturedAttention> {
  if (parent.image && ms.vaeEncoder)
    return attentionForImage(ms, parent.image, parent.prompt, { seed: o.seed, ...(o.signal ? { signal: o.signal } : {}) });
  const r = await generateWithAttention(
    ms,
    { prompt: parent.prompt, seed: o.seed, steps: o.steps, scheduler: o.scheduler, guidance: o.guidance, width: o.width, height: o.height },
    { png: false, ...(o.signal ? { signal: o.signal } : {}) },
  );
  return r.attention;
}

/**
 * A parent's budget part: the pieces of its plain prompt, each word's mass its share of the
 * parent's attention mass (0 for words past the window) times `weight`.
 */
export function partFromAttention(
  tokenizer: ClipTokenizer,
  parentIndex: number,
  prompt: string,
  captured: CapturedAttention | undefined,
  weight: number,
  keep: ReadonlySet<string>,
): BudgetPart {
  const plain = parseWeightedText(prompt).plain.normalize('NFC');
  const pieces = budgetPieces(tokenizer, plain);
  const mass = new Map<number, number>();
  if (captured) {
    const pm = positionMass(captured);
    const pw = promptWords(tokenizer, plain);
    for (const p of pw.pieces)
      mass.set(
        p.start,
        p.positions.reduce((s, t) => s + pm[t]!, 0),
      );
  }
  let total = 0;
  for (const p of pieces) if (p.isWord) total += mass.get(p.start) ?? 0;
  return {
    parent: parentIndex,
    plain,
    pieces: pieces.map((p) => ({
      ...p,
      mass: total > 0 ? ((mass.get(p.start) ?? 0) / total) * weight : 0,
      locked: keep.has(p.text.toLowerCase()),
    })),
  };
}

/**
 * The concat prompt of the parents, within the window. Attention is measured only when the
 * joined text does not fit.
 */
export async function concatPrompt(
  ms: ModelSet,
  parents: readonly ResolvedParent[],
  weights: readonly number[],
  o: MassOptions & { connective: string; keepWords: readonly string[]; onAttention?: (index: number) => void },
): Promise<{ prompt: string; dropped: DroppedWord[]; tokens: number }> {
  const tok = ms.tokenizer;
  const limit = tok.contextLength - 2;
  const plains = parents.map((p) => parseWeightedText(p.prompt).plain.normalize('NFC').trim());
  // Emphasis only when the weights differ: mean 1, so equal weights leave the text verbatim.
  const mean = weights.reduce((a, b) => a + b, 0) / weights.length;
  const unequal = weights.some((w) => Math.abs(w - weights[0]!) > 1e-9);
  const emphasis = unequal && mean > 0 ? weights.map((w) => w / mean) : undefined;
  const hasSyntax = parents.some((p, i) => plains[i] !== p.prompt.trim());
  const count = (text: string) => tok.countTokens(text);
  const joinedPlain = joinParts(plains, o.connective);
  if (count(joinedPlain) <= limit) {
    const prompt =
      hasSyntax || emphasis ? joinParts(hasSyntax ? parents.map((p) => p.prompt.trim()) : plains, o.connective, emphasis) : joinedPlain;
    return { prompt, dropped: [], tokens: count(joinedPlain) };
  }
  const keep = new Set(o.keepWords.map((w) => w.trim().toLowerCase()).filter(Boolean));
  const parts: BudgetPart[] = [];
  for (const [i, p] of parents.entries()) {
    throwIfAborted(o.signal);
    o.onAttention?.(i);
    const captured = await parentAttention(ms, p, o);
    parts.push(partFromAttention(tok, i, p.prompt, captured, weights[i]! / (mean || 1), keep));
  }
  const r = trimToBudget(parts, { connective: o.connective, count, limit });
  return { prompt: joinParts(r.texts, o.connective, emphasis), dropped: r.dropped, tokens: r.tokens };
}
