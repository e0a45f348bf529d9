/**
 * What an evolution session needs from the models, behind one interface: render a genome (a prompt,
 * or a decoded embedding) from a seed, encode and decode embeddings, invert an image. The model-set
 * backend does it with the diffusion pipeline, the E2T decoder and EDITOR; the world oracle
 * (world-oracle.ts) renders prompts exactly with the shapes world's renderer, to measure the search
 * itself.
 */
import type { ImageTensor } from '../../attention/image-attention.js';
import type { ModelSet } from '../../diffusion/load-model-set.js';
import { generate } from '../../diffusion/pipeline.js';
import { encodeWeightedPrompt } from '../../diffusion/prompt-weights.js';
import type { SchedulerName } from '../../diffusion/schedulers/index.js';
import { modelSetWordList, type E2tChoice } from '../../e2t/choose-decoder.js';
import type { LanguageModel } from '../../e2t/language-model.js';
import { throwIfAborted } from '../../errors.js';
import { inversionModelsFromSet } from '../../inversion/from-model-set.js';
import { invert, type ImageScorer, type InitSpec } from '../../inversion/invert.js';
import type { InversionModels } from '../../inversion/inversion-models.js';
import { presetSettings, type InvertSettings } from '../../inversion/presets.js';
import { openEmbeddingDecoder, type EmbeddingDecoder } from '../fusion/decode-text.js';

/** How individuals are rendered (fixed for a session). */
export interface RenderSettings {
  width: number;
  height: number;
  steps: number;
  scheduler: SchedulerName;
  guidance: number;
  negativePrompt: string;
}

export interface Rendered {
  /** CHW RGB in [-1, 1]. */
  image: ImageTensor;
  /** PNG with the generation record. */
  png: Buffer;
}

export interface EvolutionBackend {
  /** Model set name, recorded in the session (a session only reopens on the same set). */
  readonly model: string;
  /** The session's default render settings (the model set's). */
  readonly defaults: RenderSettings;
  /** Words a mutation may insert when there is no language model. */
  readonly dictionary: readonly string[];
  /** Next-word proposals for mutations. */
  readonly lm?: LanguageModel;
  /** Embedding width D and positions (undefined: no embedding operators). */
  readonly embedding?: { tokens: number; dim: number };
  render(
    r: { prompt: string; embedding?: Float32Array; seed: number; settings: RenderSettings },
    o?: { signal?: AbortSignal },
  ): Promise<Rendered>;
  /** Text embedding [tokens·D] and its meaningful length (absent: no embedding operators). */
  encode?(prompt: string): Promise<{ embedding: Float32Array; length: number }>;
  /** Embedding back to text (absent: no embedding operators). */
  decode?(
    embedding: Float32Array,
    o: { length: number; inits: readonly string[]; signal?: AbortSignal },
  ): Promise<{ text: string; distance: number }>;
  /** EDITOR inversion of an image (absent: re-inversion and image inits are unavailable). */
  invert?(image: ImageTensor, o?: { signal?: AbortSignal; onProgress?: (message: string) => void }): Promise<{ prompt: string }>;
  release(): Promise<void>;
}

export interface ModelSetBackendOptions {
  /** Mutation proposals and the search decoder's LM (the set's own, or GPT-2). */
  lm?: LanguageModel;
  e2t?: E2tChoice;
  /** Inversion settings for re-inversion and image inits (default: `fast`, previews off). */
  invertSettings?: InvertSettings;
  /** Start text of inversions (default 8 random words; a captioner when the caller has one). */
  invertInit?: InitSpec;
  scorer?: ImageScorer;
}

/** The backend of a loaded model set (the studio's and the CLI's). */
export function modelSetBackend(ms: ModelSet, o: ModelSetBackendOptions = {}): EvolutionBackend {
  let decoder: EmbeddingDecoder | undefined;
  let models: Promise<InversionModels> | undefined;
  const d = ms.defaults;
  return {
    model: ms.name,
    defaults: { width: d.width, height: d.height, steps: d.steps, scheduler: d.scheduler, guidance: d.guidance, negativePrompt: '' },
    dictionary: modelSetWordList(ms.dir).words,
    ...(o.lm ? { lm: o.lm } : {}),
    embedding: { tokens: ms.io.sequenceLength, dim: ms.io.hiddenSize },
    async render(r, opts = {}) {
      const s = r.settings;
      const g = await generate(
        ms,
        {
          prompt: r.prompt,
          ...(r.embedding ? { embedding: r.embedding } : {}),
          ...(s.negativePrompt ? { negativePrompt: s.negativePrompt } : {}),
          seed: r.seed,
          steps: s.steps,
          scheduler: s.scheduler,
          guidance: s.guidance,
          width: s.width,
          height: s.height,
        },
        opts.signal ? { signal: opts.signal } : {},
      );
      return { image: { data: g.image, width: g.width, height: g.height }, png: g.png };
    },
    async encode(prompt) {
      const e = await encodeWeightedPrompt(ms, prompt);
      return { embedding: e.embedding, length: e.length };
    },
    async decode(embedding, opts) {
      decoder ??= openEmbeddingDecoder(ms, { ...(o.e2t ? { choice: o.e2t } : {}), ...(o.lm ? { lm: o.lm } : {}) });
      return decoder.decode(embedding, opts);
    },
    async invert(image, opts = {}) {
      models ??= inversionModelsFromSet(ms);
      const m = await models;
      throwIfAborted(opts.signal);
      const r = await invert(m, image, {
        settings: o.invertSettings ?? presetSettings('fast', { previewEvery: 0 }),
        init: o.invertInit ?? { kind: 'random' },
        ...(o.scorer ? { scorer: o.scorer } : {}),
        ...(o.lm ? { lm: o.lm } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        onProgress: (e) => opts.onProgress?.(e.phase),
      });
      return { prompt: r.prompt };
    },
    async release() {
      await decoder?.release();
      decoder = undefined;
    },
  };
}
