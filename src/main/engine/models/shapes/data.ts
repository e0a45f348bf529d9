/**
 * Training data of the shapes set: scenes from the world's sampler (training split only: the
 * held-out ~5% never reach a model), rendered with a random placement seed, as CHW float32 in
 * [-1, 1]; their captions as token ids; and the augmentations and hard negatives the recipes use.
 * Every random choice is drawn from the caller's RandomStream, so batches are reproducible and a
 * resumed run continues the same sequence.
 */
import { ClipTokenizer } from '../../diffusion/tokenizer/index.js';
import type { RandomStream } from '../../training/random.js';
import {
  BACKGROUNDS,
  COLOURS,
  imageToTensor,
  isHeldOut,
  OPPOSITE,
  POSITIONS,
  renderScene,
  sampleScene,
  SHAPES,
  SHAPES_NATIVE_SIZE,
  SIZES,
  type Scene,
} from './world/index.js';

export const IMAGE_SIZE = SHAPES_NATIVE_SIZE;
const PIXELS = IMAGE_SIZE * IMAGE_SIZE;

/** `n` training-split scenes. */
export function sampleScenes(rng: RandomStream, n: number, twoObjectFraction = 0.5): Scene[] {
  return Array.from({ length: n }, () => sampleScene(rng, { twoObjectFraction }));
}

/**
 * The same scene with one slot changed (shape, colour, size or position of one object, the
 * background, or - with two objects - the two objects' colours swapped): a hard negative for
 * contrastive training. Never a held-out scene; falls back to a fresh sample after a few tries.
 */
export function perturbScene(scene: Scene, rng: RandomStream): Scene {
  for (let attempt = 0; attempt < 8; attempt++) {
    const s: Scene = { background: scene.background, objects: scene.objects.map((o) => ({ ...o })) };
    const k = rng.int(s.objects.length);
    const o = s.objects[k]!;
    const kind = rng.int(s.objects.length === 2 ? 6 : 5);
    const other = <T>(list: readonly T[], cur: T): T => {
      const rest = list.filter((x) => x !== cur);
      return rest[rng.int(rest.length)]!;
    };
    if (kind === 0) o.shape = other(SHAPES, o.shape);
    else if (kind === 1) o.colour = other(COLOURS, o.colour);
    else if (kind === 2) o.size = other(SIZES, o.size);
    else if (kind === 3) s.background = other(BACKGROUNDS, s.background);
    else if (kind === 4) {
      if (s.objects.length === 1) o.position = other(POSITIONS, o.position);
      else {
        // move the pair to the other axis (left/right <-> top/bottom)
        const horizontal = s.objects[0]!.position === 'left' || s.objects[0]!.position === 'right';
        s.objects[0]!.position = horizontal ? 'top' : 'left';
        s.objects[1]!.position = OPPOSITE[s.objects[0]!.position]!;
      }
    } else {
      const [a, b] = s.objects as [(typeof s.objects)[0], (typeof s.objects)[0]];
      if (a.colour === b.colour && a.shape === b.shape) continue;
      if (a.colour !== b.colour) [a.colour, b.colour] = [b.colour, a.colour];
      else [a.shape, b.shape] = [b.shape, a.shape];
    }
    if (!isHeldOut(s)) return s;
  }
  return sampleScene(rng);
}

/** Options of `renderBatch`'s augmentation (applied per image with the given probabilities). */
export interface Augment {
  /** Probability of a 3x3 binomial blur. */
  blur?: number;
  /** Maximum std of additive Gaussian pixel noise (in [-1, 1] units; drawn uniformly in [0, max]). */
  noise?: number;
  /** Maximum per-channel gain/offset jitter (e.g. 0.05). */
  colour?: number;
}

function blur3(img: Float32Array, off: number): void {
  const tmp = new Float32Array(PIXELS);
  const k = [0.25, 0.5, 0.25];
  for (let c = 0; c < 3; c++) {
    const base = off + c * PIXELS;
    for (let y = 0; y < IMAGE_SIZE; y++)
      for (let x = 0; x < IMAGE_SIZE; x++) {
        let s = 0;
        for (let d = -1; d <= 1; d++) s += k[d + 1]! * img[base + y * IMAGE_SIZE + Math.min(IMAGE_SIZE - 1, Math.max(0, x + d))]!;
        tmp[y * IMAGE_SIZE + x] = s;
      }
    for (let y = 0; y < IMAGE_SIZE; y++)
      for (let x = 0; x < IMAGE_SIZE; x++) {
        let s = 0;
        for (let d = -1; d <= 1; d++) s += k[d + 1]! * tmp[Math.min(IMAGE_SIZE - 1, Math.max(0, y + d)) * IMAGE_SIZE + x]!;
        img[base + y * IMAGE_SIZE + x] = s;
      }
  }
}

/**
 * Render scenes into one [n, 3, 64, 64] CHW float32 batch in [-1, 1], each with a random
 * placement seed, optionally augmented.
 */
export function renderBatch(scenes: readonly Scene[], rng: RandomStream, augment?: Augment): Float32Array {
  const out = new Float32Array(scenes.length * 3 * PIXELS);
  scenes.forEach((scene, i) => {
    const off = i * 3 * PIXELS;
    out.set(imageToTensor(renderScene(scene, { size: IMAGE_SIZE, seed: rng.int(2 ** 31) })), off);
    if (augment) augmentImage(out, off, rng, augment);
  });
  return out;
}

/**
 * Like renderBatch, plus per-pixel loss weights [n, 1, 64, 64]: `objectWeight` on the objects and a
 * one-pixel ring around them (their anti-aliased edges), 1 elsewhere, normalised to mean 1 over the
 * batch. Objects cover ~5-25% of an image; without the weights the plain background dominates a
 * reconstruction loss and object colours and outlines are learned last.
 */
export function renderWeightedBatch(scenes: readonly Scene[], rng: RandomStream, objectWeight: number): { images: Float32Array; weights: Float32Array } {
  const images = new Float32Array(scenes.length * 3 * PIXELS);
  const weights = new Float32Array(scenes.length * PIXELS).fill(1);
  scenes.forEach((scene, i) => {
    const r = renderScene(scene, { size: IMAGE_SIZE, seed: rng.int(2 ** 31) });
    images.set(imageToTensor(r), i * 3 * PIXELS);
    for (const m of r.masks) {
      for (let y = 0; y < IMAGE_SIZE; y++)
        for (let x = 0; x < IMAGE_SIZE; x++) {
          let on = 0;
          for (let dy = -1; dy <= 1 && !on; dy++)
            for (let dx = -1; dx <= 1 && !on; dx++) {
              const yy = y + dy;
              const xx = x + dx;
              if (yy >= 0 && yy < IMAGE_SIZE && xx >= 0 && xx < IMAGE_SIZE && m[yy * IMAGE_SIZE + xx]) on = 1;
            }
          if (on) weights[i * PIXELS + y * IMAGE_SIZE + x] = objectWeight;
        }
    }
  });
  let sum = 0;
  for (const w of weights) sum += w;
  const mean = sum / weights.length;
  for (let k = 0; k < weights.length; k++) weights[k] = weights[k]! / mean;
  return { images, weights };
}

/** Augment one CHW image of `batch` at element offset `off`, in place. */
export function augmentImage(batch: Float32Array, off: number, rng: RandomStream, a: Augment): void {
  if (a.blur && rng.bernoulli(a.blur)) blur3(batch, off);
  if (a.colour) {
    for (let c = 0; c < 3; c++) {
      const gain = 1 + (2 * rng.uniform() - 1) * a.colour;
      const shift = (2 * rng.uniform() - 1) * a.colour;
      const base = off + c * PIXELS;
      for (let p = 0; p < PIXELS; p++) batch[base + p] = batch[base + p]! * gain + shift;
    }
  }
  if (a.noise) {
    const std = rng.uniform() * a.noise;
    for (let p = 0; p < 3 * PIXELS; p++) batch[off + p] = batch[off + p]! + rng.normal() * std;
  }
}

/** Token ids [n, length] of the prompts, and the EOS position of each (for pooling). */
export function tokenizeBatch(tok: ClipTokenizer, prompts: readonly string[], length: number): { ids: Int32Array; eos: number[] } {
  const ids = new Int32Array(prompts.length * length);
  const eos: number[] = [];
  prompts.forEach((p, i) => {
    const e = tok.encode(p);
    ids.set(e.ids.subarray(0, length), i * length);
    eos.push(Math.min(length, e.length) - 1);
  });
  return { ids, eos };
}
