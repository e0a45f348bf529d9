/**
 * The metrics of an evaluation, in two profiles:
 *
 * - `paper` (the EDITOR/PEZ/PH2P tables): CLIP ViT-L/14 image similarity of the regeneration to
 *   the target, LPIPS (AlexNet), BERTScore P/R/F1 of the answer against the true prompt
 *   (bert-large-uncased, layer 17), perplexity of the answer under GPT-2;
 * - `shapes` (the same questions answered by the world's own instruments): the world CLIP's image
 *   similarity, the checker's slot accuracy of the regeneration (image fidelity) and of the answer
 *   text (prompt alignment), pixel PSNR, perplexity under the world's language model.
 *
 * Both add word F1 of the answer against the true prompt (metrics/word-f1.ts). A metric whose
 * model is not installed is skipped with the reason (how to install it); the others still run.
 */
import type { LanguageModel } from '../e2t/language-model.js';
import { languageModelInstalled, loadCausalLm } from '../e2t/language-model.js';
import { EngineError } from '../errors.js';
import type { TargetImage } from '../inversion/invert.js';
import { cosine } from '../metrics/clip-image.js';
import { loadBertScorer, type BertScorer } from '../metrics/bertscore.js';
import { loadLpips, type LpipsModel } from '../metrics/lpips.js';
import { perplexities } from '../metrics/perplexity.js';
import { psnr } from '../metrics/psnr.js';
import { imageSlotAccuracy, slotRatio, textSlotAccuracy } from '../metrics/shapes-checker.js';
import { wordF1 } from '../metrics/word-f1.js';
import type { Scene } from '../models/shapes/world/index.js';
import type { MetricValues } from './results-log.js';

export type MetricProfile = 'paper' | 'shapes';

/** PSNR of identical images is infinite; the tables cap it here (dB) so a mean stays defined. */
export const PSNR_CAP = 100;

export interface MetricColumn {
  key: string;
  /** Table header. */
  label: string;
  better: 'higher' | 'lower';
  digits: number;
  /** What it measures, for the report's legend. */
  description: string;
}

/** Something that embeds an image to a unit vector (a CLIP image tower). */
export interface ImageEmbedder {
  readonly name: string;
  embed(image: TargetImage): Promise<Float32Array>;
}

export interface ScoreInput {
  target: TargetImage;
  /** The answer's regeneration. */
  regenerated: TargetImage;
  /** The initial prompt's regeneration (Figs. 4–5: initial vs inverted). */
  initialRegenerated?: TargetImage;
  answer: string;
  reference: string;
  scene?: Scene;
}

export interface MetricSuite {
  readonly profile: MetricProfile;
  /** The table's columns, in order (only the metrics that run). */
  readonly columns: MetricColumn[];
  /** Metrics left out and why. */
  readonly skipped: { metric: string; reason: string }[];
  /** Which model each metric used. */
  readonly sources: Record<string, string>;
  score(i: ScoreInput): Promise<MetricValues>;
  release(): Promise<void>;
}

const COLUMNS: Record<string, MetricColumn> = {
  clip: {
    key: 'clip',
    label: 'CLIP ↑',
    better: 'higher',
    digits: 3,
    description: 'cosine of the CLIP image embeddings of the regeneration and the target',
  },
  lpips: {
    key: 'lpips',
    label: 'LPIPS ↓',
    better: 'lower',
    digits: 3,
    description: 'LPIPS (AlexNet) between the regeneration and the target',
  },
  bertP: {
    key: 'bertP',
    label: 'BERT-P ↑',
    better: 'higher',
    digits: 3,
    description: 'BERTScore precision of the answer against the true prompt',
  },
  bertR: { key: 'bertR', label: 'BERT-R ↑', better: 'higher', digits: 3, description: 'BERTScore recall' },
  bertF1: { key: 'bertF1', label: 'BERT-F1 ↑', better: 'higher', digits: 3, description: 'BERTScore F1' },
  ppl: { key: 'ppl', label: 'PPL ↓', better: 'lower', digits: 1, description: 'perplexity of the answer under the language model' },
  checkerImage: {
    key: 'checkerImage',
    label: 'checker(image) ↑',
    better: 'higher',
    digits: 3,
    description: "slot accuracy of the scene the world's checker reads from the regeneration, against the true scene",
  },
  checkerText: {
    key: 'checkerText',
    label: 'checker(text) ↑',
    better: 'higher',
    digits: 3,
    description: 'slot accuracy of what the answer text says (readSlots), against the true scene',
  },
  psnr: {
    key: 'psnr',
    label: 'PSNR ↑',
    better: 'higher',
    digits: 2,
    description: 'pixel PSNR (dB) of the regeneration against the target',
  },
  wordF1: {
    key: 'wordF1',
    label: 'word F1 ↑',
    better: 'higher',
    digits: 3,
    description: 'bag-of-words F1 of the answer against the true prompt',
  },
};

/** The column of a metric key (also `clipInitial`, the initial prompt's CLIP similarity). */
export function metricColumn(key: string): MetricColumn | undefined {
  if (key === 'clipInitial')
    return { ...COLUMNS.clip!, key, label: 'CLIP (initial) ↑', description: "CLIP image similarity of the initial prompt's regeneration" };
  return COLUMNS[key];
}

export interface MetricSuiteOptions {
  profile: MetricProfile;
  cacheDir: string;
  /** The image tower for `clip` (already loaded: CLIP ViT-L/14, or the world CLIP); absent: `clip` is skipped with `clipMissing`. */
  clip?: ImageEmbedder;
  clipMissing?: string;
  /** The perplexity LM (GPT-2 loaded by the caller, or the world LM); default for `paper`: GPT-2 from the cache. */
  lm?: LanguageModel;
  /** Load BERTScore and LPIPS (default true; tests turn them off). */
  loadPaperModels?: boolean;
}

export async function createMetricSuite(o: MetricSuiteOptions): Promise<MetricSuite> {
  const skipped: MetricSuite['skipped'] = [];
  const sources: Record<string, string> = {};
  const columns: MetricColumn[] = [];
  const keep = (key: string, source: string) => {
    columns.push(COLUMNS[key]!);
    sources[key] = source;
  };
  const clip = o.clip;
  if (clip) keep('clip', clip.name);
  else skipped.push({ metric: 'clip', reason: o.clipMissing ?? 'no CLIP image tower' });

  let lpips: LpipsModel | undefined;
  let bert: BertScorer | undefined;
  let lm = o.lm;
  const tryLoad = async <T>(metric: string, load: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await load();
    } catch (e) {
      if (!(e instanceof EngineError)) throw e;
      skipped.push({ metric, reason: e.message });
      return undefined;
    }
  };
  if (o.profile === 'paper') {
    if (o.loadPaperModels !== false) {
      lpips = await tryLoad('lpips', () => loadLpips({ cacheDir: o.cacheDir }));
      if (lpips) keep('lpips', 'deepghs/imgutils-models lpips (AlexNet v0.1)');
      bert = await tryLoad('bertscore', () => loadBertScorer({ cacheDir: o.cacheDir }));
      if (bert) for (const k of ['bertP', 'bertR', 'bertF1']) keep(k, `bert-large-uncased layer ${bert.layer}`);
    }
    if (!lm && languageModelInstalled(o.cacheDir)) lm = await tryLoad('ppl', () => loadCausalLm({ cacheDir: o.cacheDir, offline: true }));
    if (!lm && !skipped.some((s) => s.metric === 'ppl'))
      skipped.push({ metric: 'ppl', reason: 'GPT-2 is not installed (`inversion-studio models download gpt2`)' });
  } else {
    keep('checkerImage', 'shapes world checker');
    keep('checkerText', 'shapes world readSlots');
    keep('psnr', 'pixels');
  }
  if (lm) keep('ppl', lm.name);
  else if (o.profile === 'shapes') skipped.push({ metric: 'ppl', reason: 'no language model of the world' });
  keep('wordF1', 'words');

  return {
    profile: o.profile,
    columns,
    skipped,
    sources,
    async score(i) {
      const v: MetricValues = {};
      if (clip) {
        const t = await clip.embed(i.target);
        v.clip = cosine(await clip.embed(i.regenerated), t);
        if (i.initialRegenerated) v.clipInitial = cosine(await clip.embed(i.initialRegenerated), t);
      }
      if (lpips) v.lpips = await lpips.distance(i.regenerated, i.target);
      if (bert) {
        const [s] = await bert.score([i.answer], [i.reference]);
        Object.assign(v, { bertP: s!.precision, bertR: s!.recall, bertF1: s!.f1 });
      }
      if (o.profile === 'shapes') {
        v.psnr = Math.min(PSNR_CAP, psnr(i.regenerated.data, i.target.data));
        if (i.scene) {
          v.checkerImage = slotRatio(imageSlotAccuracy(i.scene, i.regenerated));
          v.checkerText = slotRatio(textSlotAccuracy(i.scene, i.answer));
        }
      }
      if (lm) v.ppl = i.answer.trim() ? (await perplexities(lm, [i.answer]))[0]! : null;
      v.wordF1 = wordF1(i.answer, i.reference).f1;
      return v;
    },
    async release() {
      await lpips?.release();
      await bert?.release();
    },
  };
}
