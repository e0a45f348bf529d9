/**
 * Sampling scenes, and the held-out split that keeps the benchmarks' prompts out of training.
 *
 * The split is a pure function of the scene: a hash of the canonical caption (objects in reading
 * order, so both orders of a two-object caption fall on the same side) puts ~5% of all scenes in
 * the held-out set. Everything that trains (the models, the language model) samples with the
 * default `split: 'train'`; the benchmarks draw from `sampleHeldOut` / `heldOutPrompts`.
 */
import { EngineError } from '../../../errors.js';
import { Stream } from '../../demo/prng.js';
import { canonicalScene, sceneToPrompt } from './grammar.js';
import { BACKGROUNDS, COLOURS, POSITIONS, SHAPES, SIZES, type Position, type Scene, type ShapeObject } from './vocabulary.js';

/** A source of uniforms in [0, 1). The demo PRNG's `Stream` is one (`createRng`). */
export interface Rng {
  uniform(): number;
}

/** A seeded generator for scene sampling (mulberry32 stream of the demo PRNG, keyed by `key`). */
export function createRng(seed: number, key = 'shapes/scenes'): Rng {
  return new Stream(seed, key);
}

/** Which scenes a sampler may return. */
export type Split = 'train' | 'heldout' | 'all';

export interface SampleOptions {
  /** Probability of a two-object scene (default 0.5). */
  twoObjectFraction?: number;
  /** 'train' (default): never a held-out scene; 'heldout': only those; 'all': either. */
  split?: Split;
}

/** Fraction of canonical scenes that are held out (target; the hash realises ≈ this). */
export const HELD_OUT_FRACTION = 0.05;

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.min(items.length - 1, Math.floor(rng.uniform() * items.length))]!;
}

function randomObject(rng: Rng, position: Position): ShapeObject {
  return { shape: pick(rng, SHAPES), colour: pick(rng, COLOURS), size: pick(rng, SIZES), position };
}

const PAIRS: readonly (readonly [Position, Position])[] = [
  ['left', 'right'],
  ['right', 'left'],
  ['top', 'bottom'],
  ['bottom', 'top'],
];

function randomScene(rng: Rng, two: boolean): Scene {
  const background = pick(rng, BACKGROUNDS);
  if (!two) return { background, objects: [randomObject(rng, pick(rng, POSITIONS))] };
  const [p, q] = pick(rng, PAIRS);
  return { background, objects: [randomObject(rng, p), randomObject(rng, q)] };
}

/** 32-bit FNV-1a of a string with a murmur3 finaliser, as a fraction in [0, 1). */
function hashFraction(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/**
 * True for the ~5% of scenes reserved for benchmarks: decided by a hash of the canonical caption
 * (objects in reading order), so it does not depend on the order a caption names the objects.
 */
export function isHeldOut(scene: Scene): boolean {
  return hashFraction(sceneToPrompt(canonicalScene(scene))) < HELD_OUT_FRACTION;
}

/**
 * A random scene from the split (default: the training split). The number of objects is drawn
 * first, then the scene is redrawn until it is on the asked side of the split, so the two-object
 * fraction holds on both sides. Uses 2 + 4 per object draws of `rng` per attempt.
 */
export function sampleScene(rng: Rng, opts: SampleOptions = {}): Scene {
  const fraction = opts.twoObjectFraction ?? 0.5;
  if (!(fraction >= 0 && fraction <= 1)) throw new EngineError('INVALID_ARGUMENT', `twoObjectFraction must be in [0, 1] (got ${fraction}).`);
  const split = opts.split ?? 'train';
  const two = rng.uniform() < fraction;
  for (;;) {
    const scene = randomScene(rng, two);
    if (split === 'all' || isHeldOut(scene) === (split === 'heldout')) return scene;
  }
}

/** A random held-out scene (for benchmarks); `sampleScene(rng, { ...opts, split: 'heldout' })`. */
export function sampleHeldOut(rng: Rng, opts: Omit<SampleOptions, 'split'> = {}): Scene {
  return sampleScene(rng, { ...opts, split: 'heldout' });
}

/**
 * Every canonical scene (objects in reading order): 1,400 one-object scenes, then 39,200
 * two-object ones (each of which has two captions, one per object order).
 */
export function* allCanonicalScenes(): Generator<Scene> {
  const objectsAt = function* (position: Position): Generator<ShapeObject> {
    for (const size of SIZES) for (const colour of COLOURS) for (const shape of SHAPES) yield { shape, colour, size, position };
  };
  for (const background of BACKGROUNDS) for (const position of POSITIONS) for (const o of objectsAt(position)) yield { background, objects: [o] };
  for (const background of BACKGROUNDS)
    for (const [p, q] of [['left', 'right'], ['top', 'bottom']] as const)
      for (const a of objectsAt(p)) for (const b of objectsAt(q)) yield { background, objects: [a, b] };
}

let heldOutCache: { one: Scene[]; two: Scene[] } | undefined;

/** All held-out canonical scenes, split by object count (computed once, ~40k hashes). */
export function heldOutCanonicalScenes(): { one: readonly Scene[]; two: readonly Scene[] } {
  if (!heldOutCache) {
    const one: Scene[] = [];
    const two: Scene[] = [];
    for (const s of allCanonicalScenes()) if (isHeldOut(s)) (s.objects.length === 1 ? one : two).push(s);
    heldOutCache = { one, two };
  }
  return heldOutCache;
}

function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * `n` distinct held-out scenes for a benchmark, deterministic in `seed`. About
 * `twoObjectFraction` (default 0.5) of them have two objects (named in a random order); there are
 * only ~70 held-out one-object scenes, so beyond those the rest are two-object scenes.
 * Throws when `n` exceeds the held-out set (~2,000 scenes).
 */
export function heldOutScenes(n: number, seed: number, opts: { twoObjectFraction?: number } = {}): Scene[] {
  const { one, two } = heldOutCanonicalScenes();
  if (!Number.isInteger(n) || n < 0 || n > one.length + two.length)
    throw new EngineError('INVALID_ARGUMENT', `n must be an integer in [0, ${one.length + two.length}] (the held-out set's size); got ${n}.`);
  const rng = createRng(seed, 'shapes/heldout');
  const nOne = Math.max(n - two.length, Math.min(one.length, Math.round(n * (1 - (opts.twoObjectFraction ?? 0.5)))));
  const picked = [...shuffled(one, rng).slice(0, nOne), ...shuffled(two, rng).slice(0, n - nOne)].map((s) =>
    s.objects.length === 2 && rng.uniform() < 0.5 ? { background: s.background, objects: [s.objects[1]!, s.objects[0]!] } : s,
  );
  // Copies: the cached canonical scenes must not be mutated through the result.
  return shuffled(picked, rng).map((s) => structuredClone(s));
}

/** Captions of `heldOutScenes(n, seed, opts)`: the benchmarks' prompts, never seen in training. */
export function heldOutPrompts(n: number, seed: number, opts: { twoObjectFraction?: number } = {}): string[] {
  return heldOutScenes(n, seed, opts).map(sceneToPrompt);
}
