/**
 * The shapes world's language model: an interpolated Kneser–Ney word n-gram (order 4 by default)
 * of the world's captions, with a spelling model for words outside the vocabulary. It implements
 * the engine's LanguageModel (the E2T decoder's next-word proposals and fluency term, and the
 * perplexity metric) for the shapes model set, where GPT-2 would know nothing of the world.
 *
 * "Training" is counting: captions are sampled with a fixed seed from the training split (never a
 * held-out prompt), so the file is a pure function of the options. Per token (each word, then
 * the end of text): P(known w | h) = (1 − ε) · P_KN(w | h); P(unknown spelling s | h) = ε ·
 * P_spell(s). Shuffled known words get a low P_KN, fragments pay ε and their spelling: both high
 * but finite NLL.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { LanguageModel } from '../../../e2t/language-model.js';
import { EngineError } from '../../../errors.js';
import { createRng, sampleScene } from '../world/sampler.js';
import { sceneToPrompt } from '../world/grammar.js';
import { WORLD_VOCABULARY } from '../world/vocabulary.js';
import { KneserNey, type NgramCount } from './kneser-ney.js';
import { SpellingModel } from './spelling-model.js';

export const SHAPES_LM_FORMAT = 'inversion-studio/shapes-lm';
export const SHAPES_LM_VERSION = 1;
export const SHAPES_LM_NAME = 'shapes-lm';
/** Start and end symbols (ids 0 and 1 of every file's vocabulary). */
const BOS = '<s>';
const EOS = '</s>';

export interface TrainShapesLmOptions {
  /** Captions to count (default 20,000; the world has ~76k training captions, order 4 needs far fewer). */
  captions?: number;
  /** Sampling seed (default 1). */
  seed?: number;
  /** n-gram order, 2–5 (default 4). */
  order?: number;
  /** Two-object fraction of the sampled scenes (default 0.5, as the trainer's). */
  twoObjectFraction?: number;
  /** ε, the probability of a word outside the vocabulary at any position (default 1e-4). */
  oovProbability?: number;
  /** Add-k pseudo-count of the spelling model (default 0.5). */
  spellingSmoothing?: number;
}

const fileSchema = z.object({
  format: z.literal(SHAPES_LM_FORMAT),
  version: z.literal(SHAPES_LM_VERSION),
  order: z.number().int().min(1).max(8),
  /** ids: 0 = <s>, 1 = </s>, then words. */
  vocabulary: z.array(z.string().min(1)).min(3),
  discounts: z.array(z.number().gt(0).lt(1)),
  oovProbability: z.number().gt(0).lt(1),
  spellingSmoothing: z.number().gt(0),
  /** Highest-order n-grams: order ids then the count. */
  ngrams: z.array(z.array(z.number().int().min(0))).min(1),
  training: z.object({ captions: z.number().int().min(1), seed: z.number().int().min(0), twoObjectFraction: z.number().min(0).max(1), split: z.literal('train') }),
});

/** The serialisable, trained language model (what `saveShapesLm` writes as JSON). */
export type ShapesLmFile = z.infer<typeof fileSchema>;

/** Words of a text as the model reads them: lower case, split on whitespace, edge punctuation dropped. */
export function lmWords(text: string): string[] {
  return text
    .toLowerCase()
    .split(/\s+/)
    .map((w) => w.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, ''))
    .filter((w) => w.length > 0);
}

/**
 * The captions the model counts: `captions` scenes sampled from the training split (never a
 * held-out scene) with the seed, captioned by the grammar. Deterministic in the options.
 */
export function* lmTrainingCaptions(opts: Pick<TrainShapesLmOptions, 'captions' | 'seed' | 'twoObjectFraction'> = {}): Generator<string> {
  const rng = createRng(opts.seed ?? 1, 'shapes/lm-corpus');
  const n = opts.captions ?? 20_000;
  for (let i = 0; i < n; i++) yield sceneToPrompt(sampleScene(rng, { twoObjectFraction: opts.twoObjectFraction ?? 0.5, split: 'train' }));
}

/**
 * Count the n-grams of `captions` sampled captions of the training split. Deterministic in the
 * options; ~0.3 s for the defaults.
 */
export function trainShapesLm(opts: TrainShapesLmOptions = {}): ShapesLmFile {
  const order = opts.order ?? 4;
  const captions = opts.captions ?? 20_000;
  const seed = opts.seed ?? 1;
  const twoObjectFraction = opts.twoObjectFraction ?? 0.5;
  if (!Number.isInteger(order) || order < 2 || order > 5) throw new EngineError('INVALID_ARGUMENT', `order must be an integer in [2, 5] (got ${order}).`);
  if (!Number.isInteger(captions) || captions < 1) throw new EngineError('INVALID_ARGUMENT', `captions must be a positive integer (got ${captions}).`);
  const vocabulary = [BOS, EOS, ...WORLD_VOCABULARY];
  const id = new Map(vocabulary.map((w, i) => [w, i]));
  const counts = new Map<string, number>();
  for (const caption of lmTrainingCaptions({ captions, seed, twoObjectFraction })) {
    const words = lmWords(caption);
    const ids = [...new Array<number>(order - 1).fill(0), ...words.map((w) => id.get(w)!), 1];
    for (let i = order - 1; i < ids.length; i++) {
      const key = ids.slice(i - order + 1, i + 1).join(',');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  // Sorted so the file does not depend on Map insertion order details.
  const ngrams = [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, c]) => [...key.split(',').map(Number), c]);
  const kn = new KneserNey(order, vocabulary.length, ngrams.map((g) => [g.slice(0, order), g[order]!] as const));
  return {
    format: SHAPES_LM_FORMAT,
    version: SHAPES_LM_VERSION,
    order,
    vocabulary,
    discounts: [...kn.discounts],
    oovProbability: opts.oovProbability ?? 1e-4,
    spellingSmoothing: opts.spellingSmoothing ?? 0.5,
    ngrams,
    training: { captions, seed, twoObjectFraction, split: 'train' },
  };
}

/** The shapes language model as the engine's LanguageModel. */
export class ShapesLm implements LanguageModel {
  readonly name = SHAPES_LM_NAME;
  readonly order: number;
  private readonly kn: KneserNey;
  private readonly spelling: SpellingModel;
  private readonly ids: Map<string, number>;
  private readonly vocabulary: readonly string[];
  private readonly logKnown: number;
  private readonly logOov: number;

  /** Build from a validated file object (see parseShapesLm). */
  constructor(file: ShapesLmFile) {
    this.order = file.order;
    this.vocabulary = file.vocabulary;
    this.ids = new Map(file.vocabulary.map((w, i) => [w, i]));
    const ngrams: NgramCount[] = file.ngrams.map((g) => [g.slice(0, file.order), g[file.order]!]);
    this.kn = new KneserNey(file.order, file.vocabulary.length, ngrams, file.discounts);
    this.spelling = new SpellingModel(file.vocabulary.slice(2), file.spellingSmoothing);
    this.logKnown = Math.log(1 - file.oovProbability);
    this.logOov = Math.log(file.oovProbability);
  }

  /** History ids for the n-gram: start padding, then each word's id (−1 for unknown words, which no context contains). */
  private history(words: readonly string[]): number[] {
    return [...new Array<number>(this.order - 1).fill(0), ...words.map((w) => this.ids.get(w) ?? -1)];
  }

  /** ln P of each token of `text` (its words, then the end of text), in nats. */
  tokenLogProbs(text: string): number[] {
    const words = lmWords(text);
    const hist = this.history(words);
    const out: number[] = [];
    for (let i = 0; i <= words.length; i++) {
      const h = hist.slice(0, this.order - 1 + i);
      const w = i < words.length ? words[i]! : EOS;
      const wid = this.ids.get(w);
      // <s> is never predicted; spelled out, it is just an unknown word.
      if (wid !== undefined && wid !== 0) out.push(this.logKnown + Math.log(this.kn.probability(h, wid)));
      else out.push(this.logOov + this.spelling.logProb(w));
    }
    return out;
  }

  /** Mean token NLL (nats) of each text, the end of text included; perplexity = exp(meanNll). */
  async meanNll(texts: string[]): Promise<number[]> {
    return texts.map((t) => {
      const lp = this.tokenLogProbs(t);
      return -lp.reduce((a, b) => a + b, 0) / lp.length;
    });
  }

  /** The k most likely next words after `prefix` (vocabulary words only; the end of text is not a word). */
  async nextWords(prefix: string, k: number): Promise<{ word: string; logProb: number }[]> {
    if (k <= 0) return [];
    const p = this.kn.distribution(this.history(lmWords(prefix)));
    const out: { word: string; logProb: number }[] = [];
    for (let w = 2; w < this.vocabulary.length; w++) out.push({ word: this.vocabulary[w]!, logProb: this.logKnown + Math.log(p[w]!) });
    // Ties (equal probabilities) keep vocabulary order, so results are deterministic.
    return out.sort((a, b) => b.logProb - a.logProb).slice(0, k);
  }
}

/**
 * Validate a parsed JSON value as a shapes LM file; throws EngineError('INVALID_MODEL') saying
 * what is wrong (`source` names the file in the message).
 */
export function parseShapesLm(value: unknown, source = 'the shapes language model'): ShapesLmFile {
  const bad = (why: string) =>
    new EngineError('INVALID_MODEL', `${source} is not a valid shapes language model: ${why}. Regenerate it with saveShapesLm (it is a deterministic count of the world's captions).`);
  const r = fileSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw bad(`${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  const f = r.data;
  if (f.vocabulary[0] !== BOS || f.vocabulary[1] !== EOS) throw bad(`vocabulary must start with "${BOS}", "${EOS}"`);
  if (new Set(f.vocabulary).size !== f.vocabulary.length) throw bad('vocabulary has duplicate words');
  if (f.discounts.length !== f.order) throw bad(`expected ${f.order} discounts, found ${f.discounts.length}`);
  f.ngrams.forEach((g, i) => {
    if (g.length !== f.order + 1) throw bad(`ngrams[${i}] has ${g.length} numbers, expected ${f.order} ids and a count`);
    if (g.slice(0, f.order).some((id) => id >= f.vocabulary.length)) throw bad(`ngrams[${i}] uses a word id outside the vocabulary`);
    if (g[f.order]! < 1) throw bad(`ngrams[${i}] has a count below 1`);
  });
  return f;
}

/** A LanguageModel from a file object (validated). */
export function createShapesLm(file: unknown): ShapesLm {
  return new ShapesLm(parseShapesLm(file));
}

/** Write the model as JSON (default: trained with default options). Atomic: a temporary file renamed into place. */
export async function saveShapesLm(file: string, model: ShapesLmFile = trainShapesLm()): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(model));
  await rename(tmp, file);
}

/** Load a saved model; throws EngineError (INVALID_MODEL for a corrupt file, MODEL_FOLDER when unreadable). */
export async function loadShapesLm(file: string): Promise<ShapesLm> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new EngineError('MODEL_FOLDER', `Cannot read the shapes language model ${file}: ${(e as Error).message}.`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new EngineError('INVALID_MODEL', `${file} is not valid JSON (${(e as Error).message}); regenerate it with saveShapesLm.`, { cause: e });
  }
  return new ShapesLm(parseShapesLm(json, file));
}
