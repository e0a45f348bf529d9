/**
 * Phase 4: the UNet, epsilon prediction under SD 1.5's training schedule (scaled_linear
 * 0.00085-0.012, 1000 steps): x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps with t uniform in
 * [0, 999], loss = mean w_t (eps_hat - eps)^2 with the min-SNR weight w_t = min(SNR_t, 5) / SNR_t
 * (Hang et al. 2023: the nearly clean timesteps, easy and unimportant for sampling, stop
 * dominating the gradient; several times faster convergence). The text encoder is frozen (the CLIP phase's);
 * captions are replaced by the empty prompt with probability `cfgDropout` (classifier-free
 * guidance), two-object captions name their objects in either order.
 *
 * The x_0 are a fixed pool of rendered training images encoded once by the trained VAE (scaled
 * by its scaling factor): encoding is the expensive part of a batch, and the pool is cached in
 * the work folder so a resumed run reads it instead of encoding again.
 */
import * as ort from 'onnxruntime-node';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GraphBuilder } from '../../../onnx/builder.js';
import { throwIfAborted } from '../../../errors.js';
import { DataType } from '../../../onnx/dtype.js';
import { alphasCumprod, SD15_SCHEDULER_CONFIG } from '../../../diffusion/schedulers/index.js';
import type { ClipTokenizer } from '../../../diffusion/tokenizer/index.js';
import { addScalarOutput } from '../../../training/losses.js';
import { RandomStream } from '../../../training/random.js';
import type { BatchSource } from '../../../training/trainer.js';
import { buildUnetModel, type UnetOptions } from '../../demo/unet.js';
import type { ShapesArchitecture } from '../architecture.js';
import { renderBatch, sampleScenes, tokenizeBatch } from '../data.js';
import { sceneToPrompt, type Scene } from '../world/index.js';
import type { FrozenTextEncoder, FrozenVae } from './frozen.js';
import type { PhaseSpec } from './phase.js';
import type { ShapesTrainConfig } from './config.js';

/** The UNet options of the set (int64 timestep, float32 I/O, like SD 1.5's export). */
export function shapesUnetOptions(arch: ShapesArchitecture, weights: 'float32' | 'float16' = 'float32'): UnetOptions {
  return { ...arch.unet, crossAttentionDim: arch.text.hidden, timestepDtype: 'int64', ioDtype: 'float32', weights, seed: 1 };
}

export interface LatentPool {
  scenes: Scene[];
  /** Scaled latents, [n, 4, 8, 8]. */
  latents: Float32Array;
}

const LATENT = 4 * 8 * 8;

/**
 * The pool: `n` training scenes rendered and encoded (posterior mean * scaling factor), cached
 * as `<work>/unet-pool.json` + `.bin`. Deterministic in (seed, n, the VAE).
 */
export async function latentPool(workDir: string, n: number, seed: number, vae: FrozenVae, scalingFactor: number, key: string, onProgress?: (done: number) => void, signal?: AbortSignal): Promise<LatentPool> {
  const meta = path.join(workDir, 'unet-pool.json');
  const bin = path.join(workDir, 'unet-pool.bin');
  if (existsSync(meta) && existsSync(bin)) {
    const j = JSON.parse(await readFile(meta, 'utf8')) as { key: string; scenes: Scene[] };
    if (j.key === key) {
      const buf = await readFile(bin);
      return { scenes: j.scenes, latents: new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)) };
    }
  }
  const rng = new RandomStream(seed, 'unet-pool');
  const scenes = sampleScenes(rng, n);
  const latents = new Float32Array(n * LATENT);
  const chunk = 64;
  for (let i = 0; i < n; i += chunk) {
    throwIfAborted(signal);
    const part = scenes.slice(i, i + chunk);
    const z = await vae.encode(renderBatch(part, rng), part.length);
    for (let j = 0; j < z.length; j++) latents[i * LATENT + j] = z[j]! * scalingFactor;
    onProgress?.(Math.min(n, i + chunk));
  }
  await writeFile(bin, new Uint8Array(latents.buffer));
  await writeFile(meta, JSON.stringify({ key, scenes }));
  return { scenes, latents };
}

/** min(SNR, gamma) / SNR for an epsilon-predicting model, SNR = abar / (1 - abar); 1 when gamma is 0 (plain MSE). */
export function minSnrWeight(abar: number, gamma: number): number {
  if (!gamma) return 1;
  const snr = abar / (1 - abar);
  return Math.min(snr, gamma) / snr;
}

/** The caption of a pool scene for one use: two-object scenes name their objects in a random order. */
function captionFor(scene: Scene, rng: RandomStream): string {
  if (scene.objects.length === 2 && rng.bernoulli(0.5)) return sceneToPrompt({ background: scene.background, objects: [scene.objects[1]!, scene.objects[0]!] });
  return sceneToPrompt(scene);
}

export function unetPhase(cfg: ShapesTrainConfig, tok: ClipTokenizer, text: FrozenTextEncoder, pool: LatentPool): PhaseSpec {
  const { batch: B } = cfg.unet;
  const D = cfg.arch.text.hidden;
  const model = buildUnetModel(shapesUnetOptions(cfg.arch));
  const b = new GraphBuilder(model.graph, 17, 'loss/');
  const noise = b.addInput('noise', DataType.FLOAT, ['batch', 4, 8, 8]);
  const weight = b.addInput('loss_weight', DataType.FLOAT, ['batch', 1, 1, 1]);
  const d = b.op('Sub', ['out_sample', noise]);
  addScalarOutput(b, b.reduce('ReduceMean', b.op('Mul', [b.op('Mul', [d, d]), weight]), [0, 1, 2, 3], false));
  const abar = alphasCumprod(SD15_SCHEDULER_CONFIG);
  const T = abar.length;
  let empty: Float32Array | undefined;
  const batches: BatchSource = {
    async next(rng) {
      const idx = Array.from({ length: B }, () => rng.int(pool.scenes.length));
      const drop = idx.map(() => rng.bernoulli(cfg.unet.cfgDropout));
      const prompts = idx.map((i, k) => (drop[k] ? '' : captionFor(pool.scenes[i]!, rng)));
      const ts = idx.map(() => rng.int(T));
      const eps = rng.normals(new Float32Array(B * LATENT));
      const x = new Float32Array(B * LATENT);
      idx.forEach((p, k) => {
        const a = Math.sqrt(abar[ts[k]!]!);
        const s = Math.sqrt(1 - abar[ts[k]!]!);
        for (let j = 0; j < LATENT; j++) x[k * LATENT + j] = a * pool.latents[p * LATENT + j]! + s * eps[k * LATENT + j]!;
      });
      // encode the distinct non-empty captions once; the empty prompt's embedding is cached
      const ehs = new Float32Array(B * 77 * D);
      empty ??= await text.encode(tokenizeBatch(tok, [''], 77).ids, 1);
      const todo = prompts.map((p, k) => (p === '' ? -1 : k)).filter((k) => k >= 0);
      if (todo.length) {
        const { ids } = tokenizeBatch(tok, todo.map((k) => prompts[k]!), 77);
        const h = await text.encode(ids, todo.length);
        todo.forEach((k, j) => ehs.set(h.subarray(j * 77 * D, (j + 1) * 77 * D), k * 77 * D));
      }
      prompts.forEach((p, k) => p === '' && ehs.set(empty!, k * 77 * D));
      return {
        sample: new ort.Tensor('float32', x, [B, 4, 8, 8]),
        timestep: new ort.Tensor('int64', BigInt64Array.from(ts, (t) => BigInt(t)), [B]),
        encoder_hidden_states: new ort.Tensor('float32', ehs, [B, 77, D]),
        noise: new ort.Tensor('float32', eps, [B, 4, 8, 8]),
        loss_weight: new ort.Tensor('float32', Float32Array.from(ts, (t) => minSnrWeight(abar[t]!, cfg.unet.minSnrGamma)), [B, 1, 1, 1]),
      };
    },
  };
  return {
    name: 'unet',
    model,
    initRules: [
      // LDM's zero_module on the residual branches' last layers and the output: training starts
      // from a network that passes its input through (steady, no early blow-up)
      { pattern: /^conv_out\.weight$/, init: { kind: 'constant', value: 0 } },
      { pattern: /\.proj_out\.weight$/, init: { kind: 'constant', value: 0 } },
      { pattern: /resnets\.\d+\.conv2\.weight$/, init: { kind: 'constant', value: 0 } },
    ],
    shapes: { sample: [B, 4, 8, 8], timestep: [B], encoder_hidden_states: [B, 77, D], noise: [B, 4, 8, 8], loss_weight: [B, 1, 1, 1] },
    steps: cfg.unet.steps,
    schedule: { lr: cfg.unet.lr, warmup: cfg.unet.warmup, kind: 'cosine', minFactor: 0.1 },
    adam: { weightDecay: 0.01 },
    clipNorm: 1,
    emaDecay: cfg.unet.emaDecay,
    seed: cfg.seed + 4,
    batches,
    config: { arch: cfg.arch, batch: B, cfgDropout: cfg.unet.cfgDropout, pool: cfg.unet.poolSize, minSnrGamma: cfg.unet.minSnrGamma, schedule: 'SD 1.5 scaled_linear 0.00085-0.012, epsilon' },
  };
}
