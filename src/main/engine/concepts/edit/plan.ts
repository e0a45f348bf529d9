/**
 * Planning an edit before any model runs: the diff of the source and edited prompts, the mode
 * (chosen from the diff unless asked for), the token mapping for attention control and the words
 * whose attention maps make the edit's mask. Bad input fails here, with messages that say what to
 * do: an edited prompt that changes nothing, a source without a prompt, a source made with
 * another model set.
 */
import { EngineError } from '../../errors.js';
import type { ModelSet } from '../../diffusion/load-model-set.js';
import type { GenerateRequest } from '../../diffusion/pipeline.js';
import { STOP_WORDS } from '../../attention/index.js';
import { describeDiff, diffPrompts, type DiffWord, type EditKind, type PromptDiff } from '../../../../shared/prompt-diff.js';
import { diffTokenised, tokenisePrompt, tokenMapping, type TokenMapping, type TokenisedPrompt } from './align.js';

export type EditMode = 'regenerate' | 'attention' | 'blend';
export const EDIT_MODES: readonly EditMode[] = ['regenerate', 'attention', 'blend'];
export type EditModeChoice = EditMode | 'auto';

export function isEditModeChoice(s: string): s is EditModeChoice {
  return s === 'auto' || (EDIT_MODES as readonly string[]).includes(s);
}

/** What is edited: a generation (prompt, seed, settings) or an inversion's answer rendered the same way. */
export interface EditSource {
  /** The source prompt (prompt syntax allowed); for an inversion, its answer prompt. */
  prompt: string;
  negativePrompt?: string;
  /** Conditioning [77·D] instead of encoding `prompt` (an inversion's embedding); the diff still reads `prompt`. */
  embedding?: Float32Array;
  seed: number;
  steps: number;
  scheduler: GenerateRequest['scheduler'];
  guidance: number;
  width: number;
  height: number;
  /** Model set the source was made with (as its record names it); must be the one editing it. */
  model?: string;
  kind?: 'generation' | 'inversion';
  /** The source image as the artist has it (CHW RGB in [-1, 1]); the report compares against it. */
  image?: Float32Array;
}

/** Local blend (prompt-to-prompt's LocalBlend) settings. */
export interface BlendOptions {
  /** Mask threshold on the max-normalised word map (default 0.3, prompt-to-prompt's). */
  threshold?: number;
  /**
   * Max-pool radius in latent pixels before thresholding (default: 1/16 of the latent's shorter
   * side, at least 1 — prompt-to-prompt's 3×3 pool on SD's 16×16 maps is 4 pixels of its 64×64 latent).
   */
  dilate?: number;
  /** Fraction of the steps before blending starts (default 0: every step). */
  start?: number;
  /** Layers whose maps make the mask: at most this many times smaller per side than the latent (default 4; mid block left out). */
  maxFactor?: number;
}

/** SEGA-style negative guidance on the removed words (removals only). */
export interface SuppressOptions {
  /** Edit guidance scale (default 5). */
  scale?: number;
  /** Keep the strongest (1 − threshold) of the direction per channel (default 0.95). */
  threshold?: number;
  /** Fraction of the steps before it applies (default 0.2: SEGA's 10 of 50). */
  warmup?: number;
  /** Momentum scale (default 0.5) and β (default 0.6). */
  momentum?: number;
  beta?: number;
}

export interface EditRequest {
  source: EditSource;
  /** The edited prompt (prompt syntax allowed). */
  prompt: string;
  /** Default 'auto': chosen from the diff (chooseMode). */
  mode?: EditModeChoice;
  /** Fraction of the steps with the source's cross-attention (default 0.8). */
  crossSteps?: number;
  /** Fraction of the steps with the source's self-attention (default 0.4). */
  selfSteps?: number;
  /** Self-attention is shared in layers at least this many times smaller per side than the latent (default 4: SD 1.5's 16² at 512 px). */
  selfMinFactor?: number;
  /** Replaced words take the old words' attention (default true; false: prompt-to-prompt's refine for them). */
  replaceWords?: boolean;
  blend?: BlendOptions;
  /** Negative guidance on removed words: true for the defaults (default off). */
  suppress?: boolean | SuppressOptions;
}

export const EDIT_DEFAULTS = {
  crossSteps: 0.8,
  selfSteps: 0.4,
  selfMinFactor: 4,
  blend: { threshold: 0.3, start: 0, maxFactor: 4 },
  suppress: { scale: 5, threshold: 0.95, warmup: 0.2, momentum: 0.5, beta: 0.6 },
} as const;

/** The edited prompt changes nothing the model reads: nothing to do (code INVALID_ARGUMENT). */
export class NothingToEditError extends EngineError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
    this.name = 'NothingToEditError';
  }
}

/** Words whose attention maps make the edit's mask, per side, with their token positions. */
export interface MaskWords {
  source: { word: string; positions: number[] }[];
  edited: { word: string; positions: number[] }[];
}

export interface EditPlan {
  diff: PromptDiff;
  /** The diff in words, e.g. `removal of "and a blue ball"`. */
  summary: string;
  kinds: EditKind[];
  mode: EditMode;
  /** Why this mode (auto) or 'asked for'. */
  modeReason: string;
  mapping: TokenMapping;
  maskWords: MaskWords;
  source: TokenisedPrompt;
  edited: TokenisedPrompt;
  crossSteps: number;
  selfSteps: number;
  selfMinFactor: number;
  blend: Required<BlendOptions>;
  suppress?: Required<SuppressOptions>;
  /** The removed words' text (the concept suppressed), when suppress is on. */
  suppressText?: string;
}

/**
 * Fraction of the shorter prompt's content words (stop words and punctuation aside; all words when
 * a side has no others) that the diff keeps: 1 for any pure removal or insertion, low when most
 * words were replaced.
 */
export function keptFraction(diff: PromptDiff): number {
  const content = (w: DiffWord): boolean => w.isWord && !STOP_WORDS.has(w.key);
  const count = (ws: DiffWord[], f: (w: DiffWord) => boolean) => ws.filter(f).length;
  let f = content;
  if (count(diff.source, f) === 0 || count(diff.edited, f) === 0) f = (w) => w.isWord;
  const shorter = Math.min(count(diff.source, f), count(diff.edited, f));
  if (shorter === 0) return 1;
  const kept = diff.matches.filter(([s]) => f(diff.source[s]!)).length;
  return kept / shorter;
}

/**
 * The mode for a diff: removals and replacements -> blend (attention control keeps the layout, the
 * local blend keeps everything outside the edited words' region); insertions and reweights ->
 * attention (the new words may act anywhere: a style, a season); prompts that keep less than half
 * of the shorter one's content words -> regenerate (attention control needs words in common).
 */
export function chooseMode(diff: PromptDiff): { mode: EditMode; reason: string } {
  const real = diff.edits.filter((e) => !e.punctuation);
  const kept = keptFraction(diff);
  if (kept < 0.5)
    return {
      mode: 'regenerate',
      reason: `the prompts share ${Math.round(kept * 100)}% of the shorter one's words; attention control needs most words in common`,
    };
  if (real.some((e) => e.kind === 'removal' || e.kind === 'replacement'))
    return { mode: 'blend', reason: 'a removal or replacement: attention control plus a local blend outside the edited words' };
  if (real.length === 0) return { mode: 'attention', reason: 'only punctuation changed: attention control keeps the image' };
  return { mode: 'attention', reason: 'an insertion or reweight: attention control keeps the layout while the new words act' };
}

function fraction(name: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt;
  if (!Number.isFinite(x) || x < 0 || x > 1) throw new EngineError('INVALID_ARGUMENT', `${name} must be a number from 0 to 1 (got ${v})`);
  return x;
}

function positive(name: string, v: number | undefined, dflt: number, min = 0): number {
  const x = v ?? dflt;
  if (!Number.isFinite(x) || x < min) throw new EngineError('INVALID_ARGUMENT', `${name} must be a number >= ${min} (got ${v})`);
  return x;
}

/** The default blend dilation of an image size: 1/16 of the latent's shorter side, at least 1 latent pixel. */
export function defaultDilation(width: number, height: number): number {
  return Math.max(1, Math.round(Math.min(width, height) / 8 / 16));
}

/** Content words of a word range (stop words and punctuation left out; all words when that leaves none). */
function contentWords(words: readonly DiffWord[]): { word: string; positions: number[] }[] {
  const real = words.filter((w) => w.isWord);
  const content = real.filter((w) => !STOP_WORDS.has(w.key));
  return (content.length > 0 ? content : real).map((w) => ({ word: w.text, positions: [...(w.positions ?? [])] }));
}

function uniqueWords(list: { word: string; positions: number[] }[]): { word: string; positions: number[] }[] {
  const seen = new Set<string>();
  return list.filter((w) => {
    const k = `${w.word.toLowerCase()}@${w.positions.join(',')}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Check an edit request against a model set and plan it (no model runs).
 * @throws NothingToEditError when the edited prompt reads the same as the source's;
 *   EngineError('INVALID_ARGUMENT') for a source without a prompt, a source made with another
 *   model set, empty prompts, bad fractions
 */
export function planEdit(ms: ModelSet, req: EditRequest): EditPlan {
  const src = req.source;
  if (src.model !== undefined && src.model !== ms.name)
    throw new EngineError(
      'INVALID_ARGUMENT',
      `the source was made with model set '${src.model}', not '${ms.name}': its prompt and seed mean something else to this model. ` +
        `Edit it with the model set it was made with (--models ${src.model}).`,
    );
  if (typeof src.prompt !== 'string' || src.prompt.trim() === '')
    throw new EngineError(
      'INVALID_ARGUMENT',
      'the source has no prompt: an edit changes the words of the source prompt, so give the prompt it was made with (or invert it first)',
    );
  if (req.prompt.trim() === '') throw new EngineError('INVALID_ARGUMENT', 'the edited prompt is empty: give the prompt with your change');
  const source = tokenisePrompt(ms.tokenizer, src.prompt);
  const edited = tokenisePrompt(ms.tokenizer, req.prompt);
  const diff = diffTokenised(source, edited);
  if (diff.identical) {
    const pastWindow = !diffPrompts(src.prompt, req.prompt).identical;
    throw new NothingToEditError(
      pastWindow
        ? `the edited prompt differs from the source only past the ${source.pieces.limit}-token limit, which the model never reads: nothing to edit`
        : 'the edited prompt reads the same as the source prompt (same words, same weights): nothing to edit',
    );
  }
  const auto = chooseMode(diff);
  const asked = req.mode ?? 'auto';
  if (!isEditModeChoice(asked))
    throw new EngineError('INVALID_ARGUMENT', `mode must be auto, ${EDIT_MODES.join(', ')} (got '${String(asked)}')`);
  const mode = asked === 'auto' ? auto.mode : asked;
  const modeReason = asked === 'auto' ? auto.reason : 'asked for';
  const mapping = tokenMapping(diff, source.eos, edited.eos, ms.io.sequenceLength, { replace: req.replaceWords ?? true });

  const srcMask: { word: string; positions: number[] }[] = [];
  const editMask: { word: string; positions: number[] }[] = [];
  for (const e of diff.edits) {
    if (e.punctuation) continue;
    const s = diff.source.slice(e.source.from, e.source.to);
    const d = diff.edited.slice(e.edited.from, e.edited.to);
    if (e.kind !== 'insertion') srcMask.push(...contentWords(s));
    if (e.kind !== 'removal') editMask.push(...contentWords(d));
  }
  const b = req.blend ?? {};
  const blend: Required<BlendOptions> = {
    threshold: fraction('blend threshold', b.threshold, EDIT_DEFAULTS.blend.threshold),
    dilate: Math.round(positive('blend dilation', b.dilate, defaultDilation(src.width, src.height))),
    start: fraction('blend start', b.start, EDIT_DEFAULTS.blend.start),
    maxFactor: positive('blend layer factor', b.maxFactor, EDIT_DEFAULTS.blend.maxFactor, 1),
  };
  const plan: EditPlan = {
    diff,
    summary: describeDiff(diff),
    kinds: [...new Set(diff.edits.filter((e) => !e.punctuation).map((e) => e.kind))],
    mode,
    modeReason,
    mapping,
    maskWords: { source: uniqueWords(srcMask), edited: uniqueWords(editMask) },
    source,
    edited,
    crossSteps: fraction('crossSteps', req.crossSteps, EDIT_DEFAULTS.crossSteps),
    selfSteps: fraction('selfSteps', req.selfSteps, EDIT_DEFAULTS.selfSteps),
    selfMinFactor: positive('selfMinFactor', req.selfMinFactor, EDIT_DEFAULTS.selfMinFactor, 1),
    blend,
  };
  if (req.suppress) {
    const removed = diff.edits.filter((e) => e.kind === 'removal' && !e.punctuation);
    if (removed.length === 0)
      throw new EngineError('INVALID_ARGUMENT', 'suppression (negative guidance) applies to removed words, and this edit removes none');
    const o = req.suppress === true ? {} : req.suppress;
    plan.suppress = {
      scale: positive('suppress scale', o.scale, EDIT_DEFAULTS.suppress.scale),
      threshold: fraction('suppress threshold', o.threshold, EDIT_DEFAULTS.suppress.threshold),
      warmup: fraction('suppress warm-up', o.warmup, EDIT_DEFAULTS.suppress.warmup),
      momentum: positive('suppress momentum', o.momentum, EDIT_DEFAULTS.suppress.momentum),
      beta: fraction('suppress beta', o.beta, EDIT_DEFAULTS.suppress.beta),
    };
    plan.suppressText = removed.flatMap((e) => contentWords(diff.source.slice(e.source.from, e.source.to)).map((w) => w.word)).join(' ');
  }
  return plan;
}
