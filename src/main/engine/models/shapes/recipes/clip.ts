/**
 * Phase 1: the world's CLIP (image tower + text tower, whose transformer becomes the diffusion
 * text encoder). Batches pair rendered scenes with their captions; half of each batch are hard
 * negatives of the other half (one slot changed, or two objects' colours swapped), so the text
 * tower must bind attributes to objects and positions rather than count words.
 */
import * as ort from 'onnxruntime-node';
import type { ClipTokenizer } from '../../../diffusion/tokenizer/index.js';
import type { BatchSource } from '../../../training/trainer.js';
import { initialiseParams, paramsOf, type ParamSet } from '../../../training/params.js';
import type { ShapesArchitecture } from '../architecture.js';
import { buildShapesTextEncoder } from '../text.js';
import { buildClipTrainingModel, CLIP_INITIAL_LOGIT_SCALE, LOGIT_SCALE_PARAM } from '../clip.js';
import { perturbScene, renderBatch, sampleScenes, tokenizeBatch } from '../data.js';
import { sceneToPrompt } from '../world/index.js';
import type { PhaseSpec } from './phase.js';
import type { ShapesTrainConfig } from './config.js';

/** Init rules of the text side (CLIP's: token embeddings std 0.02, positions 0.01). */
export const TEXT_INIT_RULES = [
  { pattern: /token_embedding\.weight$/, init: { kind: 'normal' as const, std: 0.02 } },
  { pattern: /position_embedding\.weight$/, init: { kind: 'normal' as const, std: 0.01 } },
];

export function clipPhase(cfg: ShapesTrainConfig, tok: ClipTokenizer): PhaseSpec {
  const { batch: B, textLength: L } = cfg.clip;
  const half = B / 2;
  const batches: BatchSource = {
    next(rng) {
      const base = sampleScenes(rng, half);
      const scenes = [...base, ...base.map((s) => perturbScene(s, rng))];
      const { ids, eos } = tokenizeBatch(tok, scenes.map(sceneToPrompt), L);
      const mask = new Float32Array(B * L);
      eos.forEach((p, i) => (mask[i * L + p] = 1));
      const px = renderBatch(scenes, rng, { blur: 0.25, noise: 0.04, colour: 0.03 });
      return {
        input_ids: new ort.Tensor('int32', ids, [B, L]),
        eos_mask: new ort.Tensor('float32', mask, [B, L]),
        pixel_values: new ort.Tensor('float32', px, [B, 3, 64, 64]),
      };
    },
  };
  return {
    name: 'clip',
    model: buildClipTrainingModel(cfg.arch, tok.vocabSize, B, L),
    initRules: [...TEXT_INIT_RULES, { pattern: new RegExp(`^${LOGIT_SCALE_PARAM.replace('.', '\\.')}$`), init: { kind: 'constant', value: CLIP_INITIAL_LOGIT_SCALE } }],
    shapes: { input_ids: [B, L], eos_mask: [B, L], pixel_values: [B, 3, 64, 64] },
    steps: cfg.clip.steps,
    schedule: { lr: cfg.clip.lr, warmup: cfg.clip.warmup, kind: 'cosine', minFactor: 0.05 },
    adam: { weightDecay: 0.05, beta2: 0.98, eps: 1e-6 },
    clipNorm: 1,
    seed: cfg.seed + 1,
    batches,
    config: { arch: cfg.arch, batch: B, textLength: L, vocab: tok.vocabSize, data: 'half hard negatives; blur 0.25 noise 0.04 colour 0.03' },
  };
}

/**
 * The text encoder's parameters at 77 positions from the CLIP phase's (trained at `textLength`):
 * position rows beyond the training length keep CLIP-style initial values (normal, std 0.01,
 * seeded), which only the padding positions after EOS ever read.
 */
export function textParamsAt77(trained: ParamSet, arch: ShapesArchitecture, vocabSize: number, seed: number): ParamSet {
  const full = paramsOf(buildShapesTextEncoder({ vocabSize, ...arch.text, maxLength: 77 }));
  initialiseParams(full, seed, TEXT_INIT_RULES);
  for (const p of full.list) {
    if (!trained.has(p.name)) continue;
    const src = trained.get(p.name).values;
    if (src.length === p.values.length) p.values.set(src);
    else if (p.name.endsWith('position_embedding.weight') && src.length < p.values.length) p.values.set(src, 0);
    else throw new Error(`text parameter ${p.name}: ${src.length} trained values for ${p.values.length}`);
  }
  return full;
}
