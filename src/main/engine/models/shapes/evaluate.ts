/**
 * Measuring the trained shapes set with the world's checker: generation fidelity (slot accuracy
 * of `generate()` images read back by the checker), the captioner's slot accuracy, the VAE round
 * trip, and the CLIP's choice between a caption and its hard negative. Held-out scenes only.
 */
import * as ort from 'onnxruntime-node';
import { generate } from '../../diffusion/pipeline.js';
import type { ModelSet } from '../../diffusion/load-model-set.js';
import type { SchedulerName } from '../../diffusion/schedulers/index.js';
import { throwIfAborted } from '../../errors.js';
import { RandomStream } from '../../training/random.js';
import { decodeCaptionerLogits } from './captioner.js';
import { perturbScene, renderBatch } from './data.js';
import {
  addSlotAccuracy,
  checkImage,
  emptySlotAccuracy,
  heldOutScenes,
  sceneToPrompt,
  slotAccuracy,
  tensorToImage,
  type Scene,
  type SlotAccuracy,
} from './world/index.js';

/** Slot accuracy overall and split by object count. */
export interface FidelityReport {
  all: SlotAccuracy;
  one: SlotAccuracy;
  two: SlotAccuracy;
  /** correct / total of `all`. */
  accuracy: number;
  /** Images whose every slot was read right. */
  exact: number;
  n: number;
}

export function ratio(a: SlotAccuracy): number {
  return a.total > 0 ? a.correct / a.total : 0;
}

function collect(): { add(truth: Scene, read: Scene): void; report(): FidelityReport } {
  let all = emptySlotAccuracy();
  let one = emptySlotAccuracy();
  let two = emptySlotAccuracy();
  let exact = 0;
  let n = 0;
  return {
    add(truth, read) {
      const acc = slotAccuracy(truth, read);
      all = addSlotAccuracy(all, acc);
      if (truth.objects.length === 1) one = addSlotAccuracy(one, acc);
      else two = addSlotAccuracy(two, acc);
      if (acc.correct === acc.total) exact++;
      n++;
    },
    report: () => ({ all, one, two, accuracy: ratio(all), exact, n }),
  };
}

export interface GenerationEvalOptions {
  steps: number;
  guidance: number;
  scheduler: SchedulerName;
  /** Seed of the first image (image i uses seed + i). */
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (e: { phase: 'evaluate'; step: number; total: number }) => void;
}

/** Generate each scene's caption at 64x64 and read the image back with the checker. */
export async function evaluateGeneration(ms: ModelSet, scenes: readonly Scene[], o: GenerationEvalOptions): Promise<FidelityReport> {
  const c = collect();
  for (let i = 0; i < scenes.length; i++) {
    throwIfAborted(o.signal);
    const s = scenes[i]!;
    const r = await generate(ms, { prompt: sceneToPrompt(s), seed: (o.seed ?? 1000) + i, steps: o.steps, scheduler: o.scheduler, guidance: o.guidance, width: 64, height: 64 }, { png: false });
    c.add(s, checkImage(tensorToImage(r.image, 64, 64)).scene);
    o.onProgress?.({ phase: 'evaluate', step: i + 1, total: scenes.length });
  }
  return c.report();
}

/** The held-out scenes an evaluation uses (deterministic in n and seed). */
export function evaluationScenes(n: number, seed = 11): Scene[] {
  return heldOutScenes(n, seed);
}

/** Captioner slot accuracy on CHW [-1, 1] images of known scenes. */
export async function evaluateCaptioner(session: ort.InferenceSession, scenes: readonly Scene[], images: Float32Array): Promise<FidelityReport> {
  const c = collect();
  const n = scenes.length;
  const r = await session.run({ pixel_values: new ort.Tensor('float32', images, [n, 3, 64, 64]) });
  const logits = r['logits']!.data as Float32Array;
  const k = logits.length / n;
  for (let i = 0; i < n; i++) c.add(scenes[i]!, decodeCaptionerLogits(logits.subarray(i * k, (i + 1) * k)).scene);
  return c.report();
}

/** Checker slot accuracy on CHW [-1, 1] images of known scenes (e.g. VAE round trips). */
export function evaluateImages(scenes: readonly Scene[], images: Float32Array): FidelityReport {
  const c = collect();
  const px = 3 * 64 * 64;
  scenes.forEach((s, i) => c.add(s, checkImage(tensorToImage(images.subarray(i * px, (i + 1) * px), 64, 64)).scene));
  return c.report();
}

/** Render held-out scenes (seeded placement), CHW [-1, 1]. */
export function renderHeldOut(scenes: readonly Scene[], seed = 5): Float32Array {
  return renderBatch(scenes, new RandomStream(seed, 'eval-render'));
}

/**
 * CLIP check: for each held-out scene, is the image closer to its own caption than to the caption
 * of a hard negative (one slot changed)? Returns the fraction right.
 * @param embedImages CHW images [n,3,64,64] -> [n, d]; @param embedTexts prompts -> [n, d]
 */
export async function evaluateClipPairs(
  scenes: readonly Scene[],
  images: Float32Array,
  embedImages: (px: Float32Array, n: number) => Promise<Float32Array>,
  embedTexts: (prompts: string[]) => Promise<Float32Array>,
): Promise<number> {
  const n = scenes.length;
  const rng = new RandomStream(17, 'eval-negatives');
  const neg = scenes.map((s) => perturbScene(s, rng));
  const im = await embedImages(images, n);
  const pos = await embedTexts(scenes.map(sceneToPrompt));
  const ng = await embedTexts(neg.map(sceneToPrompt));
  const d = im.length / n;
  const cos = (a: Float32Array, ai: number, b: Float32Array, bi: number): number => {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let j = 0; j < d; j++) {
      const x = a[ai * d + j]!;
      const y = b[bi * d + j]!;
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    return dot / Math.sqrt(na * nb + 1e-12);
  };
  let right = 0;
  for (let i = 0; i < n; i++) if (cos(im, i, pos, i) > cos(im, i, ng, i)) right++;
  return right / n;
}
