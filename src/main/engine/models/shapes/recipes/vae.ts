/**
 * Phase 2: the VAE. Loss = MSE + l1Weight * MAE between the reconstruction and the image (L1
 * keeps edges crisp enough for the checker's shape templates), both weighted per pixel with
 * `objectWeight` on the objects (data.ts: renderWeightedBatch), + klWeight * KL(posterior || N(0,1))
 * per latent element (small: the latents stay informative, just bounded and smooth, which the
 * UNet likes). After training, `scaling_factor` = 1 / std of the posterior means over a sample of
 * training images, so the scaled latents have unit variance as SD's do.
 */
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../../onnx/builder.js';
import { DataType } from '../../../onnx/dtype.js';
import { addScalarOutput, gaussianKl, weightedSum } from '../../../training/losses.js';
import type { BatchSource } from '../../../training/trainer.js';
import { renderWeightedBatch, sampleScenes } from '../data.js';
import { buildShapesVaeAutoencoder } from '../vae.js';
import type { PhaseSpec } from './phase.js';
import type { ShapesTrainConfig } from './config.js';

export function vaePhase(cfg: ShapesTrainConfig): PhaseSpec {
  const { batch: B } = cfg.vae;
  const model = buildShapesVaeAutoencoder(cfg.arch.vae);
  const b = new GraphBuilder(model.graph, 17, 'loss/');
  // per-pixel weights [B, 1, H, W] (mean 1) broadcast over the colour channels
  const w = b.addInput('pixel_weight', DataType.FLOAT, ['batch', 1, 64, 64]);
  const d = b.op('Sub', ['reconstruction', 'image']);
  const mean = (x: string): string => b.reduce('ReduceMean', b.op('Mul', [x, w]), [0, 1, 2, 3], false);
  const loss = weightedSum(b, [
    { value: mean(b.op('Mul', [d, d])), weight: 1 },
    { value: mean(b.op('Abs', [d])), weight: cfg.vae.l1Weight },
    { value: gaussianKl(b, 'latent_mean', 'latent_logvar', 4), weight: cfg.vae.klWeight },
  ]);
  addScalarOutput(b, loss);
  const lat = cfg.arch.vae.latentChannels;
  const batches: BatchSource = {
    next(rng) {
      const { images, weights } = renderWeightedBatch(sampleScenes(rng, B), rng, cfg.vae.objectWeight);
      const eps = rng.normals(new Float32Array(B * lat * 64));
      return {
        image: new ort.Tensor('float32', images, [B, 3, 64, 64]),
        eps: new ort.Tensor('float32', eps, [B, lat, 8, 8]),
        pixel_weight: new ort.Tensor('float32', weights, [B, 1, 64, 64]),
      };
    },
  };
  return {
    name: 'vae',
    model,
    // residual branches and the output conv start small (a near-identity network trains steadily)
    initRules: [
      { pattern: /^decoder\.conv_out\.weight$/, init: { kind: 'fanIn', gain: 0.1 } },
      { pattern: /conv2\.weight$/, init: { kind: 'fanIn', gain: 0.5 } },
    ],
    shapes: { image: [B, 3, 64, 64], eps: [B, lat, 8, 8], pixel_weight: [B, 1, 64, 64] },
    steps: cfg.vae.steps,
    schedule: { lr: cfg.vae.lr, warmup: cfg.vae.warmup, kind: 'cosine', minFactor: 0.05 },
    adam: { weightDecay: 0 },
    clipNorm: 1,
    seed: cfg.seed + 2,
    batches,
    config: { arch: cfg.arch.vae, batch: B, kl: cfg.vae.klWeight, l1: cfg.vae.l1Weight, objectWeight: cfg.vae.objectWeight, data: 'rendered, no augmentation' },
  };
}

