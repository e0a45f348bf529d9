/**
 * An exact "generator" for the shapes world: a prompt is read with the world's lenient slot reader
 * and the scene it states is rendered by the world's renderer; slots the prompt does not state
 * are drawn from the seed. It draws what the text says, never more, so an evolution run on it
 * measures the search (operators, selection, elitism), not a model. bench:fuse reports it next
 * to the shapes model set; the tests use it to check that the search reaches its target.
 */
import { imageToPng } from '../../image/image-io.js';
import { createRng, heldOutScenes, type Rng } from '../../models/shapes/world/sampler.js';
import { readSlots, type PartialScene } from '../../models/shapes/world/slots.js';
import { imageToTensor, renderScene } from '../../models/shapes/world/renderer.js';
import {
  BACKGROUNDS,
  COLOURS,
  OPPOSITE,
  POSITIONS,
  SHAPES,
  SHAPES_NATIVE_SIZE,
  SIZES,
  WORLD_VOCABULARY,
  type Position,
  type Scene,
  type ShapeObject,
} from '../../models/shapes/world/vocabulary.js';
import type { EvolutionBackend, RenderSettings } from './backend.js';
import type { LanguageModel } from '../../e2t/language-model.js';

export const WORLD_ORACLE_MODEL = 'shapes-world-oracle';

const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.min(items.length - 1, Math.floor(rng.uniform() * items.length))]!;

/**
 * The scene a prompt states, completed from `seed` where it says nothing: the first two objects that
 * have a shape, their missing colour/size/position drawn, two objects moved to opposite positions.
 */
export function sceneOfPrompt(prompt: string, seed: number): Scene {
  const partial: PartialScene = readSlots(prompt);
  const rng = createRng(seed, 'world-oracle');
  // An object the text names no shape for is not drawn (a colour or a position alone is no object);
  // a text naming no object at all gets one random object, as a model draws something.
  const objects = partial.objects.filter((o) => o.shape !== undefined).slice(0, 2);
  if (objects.length === 0) objects.push({});
  const out: ShapeObject[] = objects.map((o) => ({
    shape: o.shape ?? pick(rng, SHAPES),
    colour: o.colour ?? pick(rng, COLOURS),
    size: o.size ?? pick(rng, SIZES),
    position: o.position ?? pick(rng, POSITIONS),
  }));
  if (out.length === 2) {
    // Two objects sit at opposite positions: keep the first one's (moving it off the centre), mirror the second.
    const sides: Position[] = ['left', 'right', 'top', 'bottom'];
    const first = out[0]!;
    const second = out[1]!;
    if (first.position === 'center') first.position = second.position !== 'center' ? OPPOSITE[second.position]! : pick(rng, sides);
    second.position = OPPOSITE[first.position]!;
  }
  return { background: partial.background ?? pick(rng, BACKGROUNDS), objects: out };
}

/** The oracle backend: prompts only (no embedding operators, no inversion). */
export function worldOracleBackend(o: { lm?: LanguageModel; size?: number } = {}): EvolutionBackend {
  const size = o.size ?? SHAPES_NATIVE_SIZE;
  const defaults: RenderSettings = { width: size, height: size, steps: 1, scheduler: 'ddim', guidance: 1, negativePrompt: '' };
  return {
    model: WORLD_ORACLE_MODEL,
    defaults,
    dictionary: WORLD_VOCABULARY,
    ...(o.lm ? { lm: o.lm } : {}),
    async render(r) {
      const scene = sceneOfPrompt(r.prompt, r.seed);
      const img = renderScene(scene, { size: r.settings.width, seed: r.seed });
      const data = imageToTensor(img);
      const png = await imageToPng(data, img.width, img.height, {
        json: { app: 'inversion-studio', model: WORLD_ORACLE_MODEL, prompt: r.prompt, seed: r.seed, scene },
      });
      return { image: { data, width: img.width, height: img.height }, png };
    },
    release: async () => {},
  };
}

/** One fusion/evolution task of the shapes world: two single-object scenes and the two-object scene that joins them. */
export interface WorldFusionTask {
  /** Object 1 of the target, alone, on the target's background. */
  a: Scene;
  /** Object 2 of the target, alone, on another background. */
  b: Scene;
  /** Both objects at their positions on A's background. */
  target: Scene;
}

/**
 * `n` tasks from held-out two-object scenes (seeded): the parents differ in object, position and
 * background; the target is their fusion on the first parent's background.
 */
export function worldFusionTasks(n: number, seed: number): WorldFusionTask[] {
  const two = heldOutScenes(n * 4 + 8, seed, { twoObjectFraction: 1 }).filter((s) => s.objects.length === 2);
  const rng = createRng(seed, 'world-fusion-tasks');
  return two.slice(0, n).map((target) => {
    const others = BACKGROUNDS.filter((b) => b !== target.background);
    return {
      a: { background: target.background, objects: [target.objects[0]!] },
      b: { background: pick(rng, others), objects: [target.objects[1]!] },
      target,
    };
  });
}
