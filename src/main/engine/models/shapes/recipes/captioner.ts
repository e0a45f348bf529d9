/**
 * Phase 3: the captioner. Cross-entropy summed over the heads (captioner.ts). So that it reads
 * generated images and not only exact renders, part of every batch goes through the trained
 * VAE (encode, decode: the look of a decoded latent) and every image gets mild blur, noise and
 * colour jitter. Nothing here degrades it on purpose; its accuracy is measured on held-out scenes.
 */
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../../onnx/builder.js';
import { DataType } from '../../../onnx/dtype.js';
import { addScalarOutput, softmaxCrossEntropy } from '../../../training/losses.js';
import type { BatchSource } from '../../../training/trainer.js';
import { buildCaptionerModel, CAPTIONER_HEADS, CAPTIONER_LOGITS, captionTarget } from '../captioner.js';
import { augmentImage, renderBatch, sampleScenes } from '../data.js';
import type { FrozenVae } from './frozen.js';
import type { PhaseSpec } from './phase.js';
import type { ShapesTrainConfig } from './config.js';

const AUGMENT = { blur: 0.4, noise: 0.06, colour: 0.05 };
const IMAGE = 3 * 64 * 64;

export function captionerPhase(cfg: ShapesTrainConfig, vae: FrozenVae): PhaseSpec {
  const { batch: B } = cfg.captioner;
  const model = buildCaptionerModel(cfg.arch.captioner);
  const b = new GraphBuilder(model.graph, 17, 'loss/');
  const targets = b.addInput('targets', DataType.FLOAT, ['batch', CAPTIONER_LOGITS]);
  const sizes = CAPTIONER_HEADS.map((h) => h.labels.length);
  const ls = b.split('logits', 1, sizes);
  const ts = b.split(targets, 1, sizes);
  const terms = ls.map((l, i) => softmaxCrossEntropy(b, l, ts[i]!));
  addScalarOutput(b, b.op('Sum', terms));
  const nTrip = Math.round(B * cfg.captioner.roundTripFraction);
  const batches: BatchSource = {
    async next(rng) {
      const scenes = sampleScenes(rng, B);
      const px = renderBatch(scenes, rng);
      if (nTrip > 0) {
        const lat = await vae.encode(px.slice(0, nTrip * IMAGE), nTrip);
        const dec = await vae.decode(lat, nTrip);
        for (let i = 0; i < dec.length; i++) px[i] = Math.max(-1, Math.min(1, dec[i]!));
      }
      for (let i = 0; i < B; i++) augmentImage(px, i * IMAGE, rng, AUGMENT);
      const t = new Float32Array(B * CAPTIONER_LOGITS);
      scenes.forEach((s, i) => captionTarget(s, t, i * CAPTIONER_LOGITS));
      return { pixel_values: new ort.Tensor('float32', px, [B, 3, 64, 64]), targets: new ort.Tensor('float32', t, [B, CAPTIONER_LOGITS]) };
    },
  };
  return {
    name: 'captioner',
    model,
    shapes: { pixel_values: [B, 3, 64, 64], targets: [B, CAPTIONER_LOGITS] },
    steps: cfg.captioner.steps,
    schedule: { lr: cfg.captioner.lr, warmup: cfg.captioner.warmup, kind: 'cosine', minFactor: 0.05 },
    adam: { weightDecay: 0.01 },
    clipNorm: 1,
    seed: cfg.seed + 3,
    batches,
    config: { arch: cfg.arch.captioner, batch: B, roundTrip: cfg.captioner.roundTripFraction, augment: AUGMENT },
  };
}
