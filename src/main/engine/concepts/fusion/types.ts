/**
 * Types of cross-concept fusion (docs/fusion-evolution.md): parents, requests, results.
 */
import type { ImageTensor } from '../../attention/image-attention.js';
import type { LanguageModel } from '../../e2t/language-model.js';
import type { E2tChoice } from '../../e2t/choose-decoder.js';
import type { SchedulerName } from '../../diffusion/schedulers/index.js';
import type { ImageScorer, InitSpec } from '../../inversion/invert.js';
import type { InvertSettings } from '../../inversion/presets.js';

export const FUSE_MODES = ['concat', 'blend', 'compose', 'alternate', 'regions'] as const;
export type FuseMode = (typeof FUSE_MODES)[number];

export const REGION_NAMES = ['left', 'right', 'top', 'bottom', 'full', 'attention'] as const;
/** Where a parent steers in `regions` mode: a half of the canvas, all of it, or its own attention mask. */
export type RegionName = (typeof REGION_NAMES)[number];

/** One parent of a fusion. */
export type FusionParent =
  | {
      kind: 'prompt';
      text: string;
      label?: string;
    }
  | {
      /**
       * An image: its recorded prompt is used when it carries one (a library item, or a PNG this
       * engine wrote: `recorded`), else it is inverted on the fly (EDITOR, `invert()`).
       */
      kind: 'image';
      image: ImageTensor;
      /** The prompt the image was made from and the model set that made it (library metadata). */
      recorded?: { prompt: string; model: string };
      /** Invert even when a recorded prompt is there. */
      reinvert?: boolean;
      label?: string;
    }
  | {
      /** A text embedding [tokens·D] made on `model` (an evolution individual, an inversion snapshot). */
      kind: 'embedding';
      embedding: Float32Array;
      model: string;
      /** Meaningful positions incl. BOS/EOS (default all). */
      length?: number;
      /** Its readable text, when known (decoded or the prompt it came from). */
      text?: string;
      label?: string;
    };

/** A parent ready to fuse: its prompt and embedding on the fusion's model set. */
export interface ResolvedParent {
  label: string;
  /** Readable text (the prompt, the recorded or inverted prompt, or the embedding's text). */
  prompt: string;
  /** [tokens·D] conditioning on the fusion's model set. */
  embedding: Float32Array;
  /** Meaningful positions incl. BOS/EOS. */
  length: number;
  source: 'prompt' | 'recorded' | 'inverted' | 'embedding';
  /** The image, for image parents (its attention maps are read from it in `regions`). */
  image?: ImageTensor;
}

/** How image parents are inverted (default: the `fast` preset from 8 random words, seed 0). */
export interface FusionInvertOptions {
  settings?: InvertSettings;
  init?: InitSpec;
  scorer?: ImageScorer;
  lm?: LanguageModel;
}

export interface FuseRequest {
  parents: FusionParent[];
  mode: FuseMode;
  /**
   * One weight per parent (default equal). concat: emphasis `(part:w)` around each part when
   * unequal (mean 1); blend: interpolation weights (normalised); compose: A1111 `AND` weights
   * used as given (default 1 each, as A1111); alternate: each parent's share of the steps;
   * regions: scales each parent's mask.
   */
  weights?: number[];
  seed: number;
  steps?: number;
  scheduler?: SchedulerName;
  guidance?: number;
  width?: number;
  height?: number;
  negativePrompt?: string;
  /** concat: the word joining the parts (default "and"). */
  connective?: string;
  /** concat: words never dropped by the token budget. */
  keepWords?: string[];
  /** blend: 'slerp' (default) or 'lerp'. */
  interpolation?: 'slerp' | 'lerp';
  /** regions: one per parent (default: vertical strips, left to right in parent order). */
  regions?: RegionName[];
}

export interface FuseProgress {
  phase: 'invert' | 'attention' | 'generate' | 'decode' | 'grid';
  /** Parent or cell index, 0-based, when the phase works through several. */
  index?: number;
  total?: number;
  step?: number;
  steps?: number;
  message?: string;
}

export interface FuseOptions {
  signal?: AbortSignal;
  onProgress?: (e: FuseProgress) => void;
  onWarning?: (message: string) => void;
  /** How image parents without a recorded prompt are inverted. */
  invert?: FusionInvertOptions;
  /** The decoder for `blend` (default 'auto': the model set's trained pair, else the search). */
  e2t?: E2tChoice;
  /** Language model for the search decoder (proposals and fluency). */
  lm?: LanguageModel;
  /** Also encode the PNG (default true). */
  png?: boolean;
}

/** A word concat dropped to fit the token window. */
export interface DroppedWord {
  parent: number;
  word: string;
  /** Its share of its parent's attention mass, times the parent's weight. */
  mass: number;
}

export interface FuseResult {
  mode: FuseMode;
  /** The weights as applied (normalised for blend; as given for compose). */
  weights: number[];
  /** The text shown with the image: the joined prompt (concat), the decoded blend, `A AND B`, `[A|B]`, or the parts (regions). */
  prompt: string;
  /** blend: the fused embedding decoded to text, with its distance and the decoder that read it. */
  decoded?: { text: string; distance: number; decoder: 'vec2text' | 'search' };
  parents: { label: string; prompt: string; source: ResolvedParent['source'] }[];
  /** concat: what the token budget dropped (empty when it fitted). */
  dropped?: DroppedWord[];
  /** regions: the region of each parent and the share of the canvas it steers. */
  regions?: { parent: number; region: string; share: number }[];
  /** alternate: the parent of each step. */
  schedule?: number[];
  /** CHW RGB in [-1, 1]. */
  image: Float32Array;
  width: number;
  height: number;
  seed: number;
  /** PNG with the A1111 `parameters` text and our JSON record (with a `fusion` entry). */
  png: Buffer;
  warnings: string[];
  seconds: number;
}

export interface FuseGridRequest extends Omit<FuseRequest, 'mode' | 'weights'> {
  modes?: FuseMode[];
  /** Weight vectors, one column each (default: equal, and each parent emphasised). */
  weightSets?: number[][];
}

export interface FuseGridResult {
  modes: FuseMode[];
  weightSets: number[][];
  /** cells[mode][weights] */
  cells: FuseResult[][];
  /** All cells tiled: rows = modes, columns = weight sets, `gap` px apart. */
  png: Buffer;
  width: number;
  height: number;
  seconds: number;
}
