/**
 * `npm run bench:segment [-- options]`: how well cross-attention masks (DAAM, src/main/engine/attention)
 * find the objects of shapes-world scenes, whose true object masks are exact.
 *
 * For each held-out scene ("a small red square on the left and a large blue circle on the right
 * on a gray background") and each object word (shape nouns and colours), the word's mask is
 * compared with the true mask of the object(s) the word names (union when two objects share the
 * word, as its map then averages both occurrences):
 *
 *  (a) generated scenes: the prompt is sampled with attention captured during that sampling.
 *      Ground truth = the checker's object masks of the *generated* image, for the objects it reads
 *      back with the asked shape and colour. That is the fair truth for a segmentation measure:
 *      the renderer's masks of the scene that was asked for would also charge the generator's own
 *      placement and size errors (its jitter is not the renderer's) to the segmentation. Objects the
 *      model failed to draw are counted and reported, not scored. The renderer-truth number is
 *      printed too, as an upper bound of what placement errors cost.
 *  (b) rendered scenes: the renderer's image of the scene is segmented through the noising path
 *      (VAE encode, seeded noise at a few timesteps, one UNet pass each); truth = the renderer's masks.
 *
 * Reports mIoU over all (scene, word) pairs, per word (at τ = 0.4), the threshold sweep τ = 0.2…0.6,
 * a layer-selection sweep and, for (b), a noising-timestep sweep. With a model set other than
 * `shapes` it runs as a smoke test (the demo set never learned the shapes world: numbers meaningless).
 * When `--models shapes` does not resolve it says so and exits 0.
 *
 * Options: --models NAME|DIR (default shapes) --scenes N (default 100; 6 off the shapes set)
 * --size N (image side; default the set's, 64 for shapes) --steps N --seed N --threads N
 * --provider P --cache DIR --json FILE (all numbers)
 * Takes about (scenes × (steps + 20) UNet evaluations): seconds on the shapes set, ~1 min on demo.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  attentionForImage,
  generateWithAttention,
  NOISING_TIMESTEPS,
  releaseAttentionCapture,
  segmentCaptured,
  thresholdMask,
  type CapturedAttention,
  type LayerSelection,
} from '../src/main/engine/attention/index.js';
import { loadModelSet, type ModelSet } from '../src/main/engine/diffusion/load-model-set.js';
import { EngineError } from '../src/main/engine/errors.js';
import { isProviderChoice, type ProviderChoice } from '../src/main/engine/runtime/index.js';
import {
  checkImage,
  heldOutScenes,
  renderScene,
  sceneToPrompt,
  sceneToTensor,
  tensorToImage,
  type Scene,
} from '../src/main/engine/models/shapes/world/index.js';

const { values: a } = parseArgs({
  options: {
    models: { type: 'string', default: 'shapes' },
    scenes: { type: 'string' },
    size: { type: 'string' },
    steps: { type: 'string' },
    seed: { type: 'string', default: '0' },
    threads: { type: 'string' },
    provider: { type: 'string', default: 'auto' },
    cache: { type: 'string' },
    json: { type: 'string' },
  },
});
if (!isProviderChoice(a.provider!)) throw new Error('--provider must be one of auto, cpu, cuda, dml, coreml, webgpu');
const provider = a.provider as ProviderChoice;
const threads = a.threads ? Number(a.threads) : undefined;
const seed = Number(a.seed);

const TAUS = [0.2, 0.3, 0.4, 0.5, 0.6];
const DEFAULT_TAU = 0.4;
const LAYER_SETS: { name: string; sel: LayerSelection }[] = [
  { name: 'default (factor <= 4, no mid)', sel: {} },
  { name: 'factor <= 2', sel: { maxFactor: 2 } },
  { name: 'factor 1 only', sel: { maxFactor: 1 } },
  { name: 'all layers + mid', sel: { maxFactor: Infinity, includeMid: true } },
];
const TIMESTEP_SETS: { name: string; timesteps: readonly number[] }[] = [
  { name: `default ${NOISING_TIMESTEPS.join(',')}`, timesteps: NOISING_TIMESTEPS },
  { name: 'low 50,100,200,300', timesteps: [50, 100, 200, 300] },
  { name: 'high 500,600,700,800', timesteps: [500, 600, 700, 800] },
];

console.log(
  `bench:segment  ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${os.loadavg()[0]!.toFixed(1)}, node ${process.version}, provider ${provider}`,
);

let ms: ModelSet;
try {
  ms = await loadModelSet(a.models!, { provider, ...(threads ? { threads } : {}), ...(a.cache ? { cacheDir: a.cache } : {}) });
} catch (e) {
  if (e instanceof EngineError && (e.code === 'NOT_INSTALLED' || e.code === 'MODEL_FOLDER')) {
    console.log(`model set '${a.models}' is not available (${e.message})`);
    console.log('nothing to measure: the segmentation bench needs the shapes model set (or run `-- --models demo` for a smoke test).');
    process.exit(0);
  }
  throw e;
}
const real = ms.name === 'shapes' || /shapes/i.test(ms.name);
if (!real) console.log(`model set ${ms.name} is not the shapes set: smoke test only, the numbers mean nothing`);
const nScenes = a.scenes ? Number(a.scenes) : real ? 100 : 6;
const m = Math.max(8, ms.io.sizeMultiple);
const size = a.size ? Number(a.size) : real ? ms.defaults.width : Math.max(m, 64);
if (size % m !== 0) throw new Error(`--size must be a multiple of ${m} for ${ms.name}`);
const steps = a.steps ? Number(a.steps) : ms.defaults.steps;
const scenes = heldOutScenes(nScenes, seed);
console.log(
  `${nScenes} held-out scenes at ${size}x${size}; generation: ${ms.defaults.scheduler} ${steps} steps, guidance ${ms.defaults.guidance}; ` +
    `noising timesteps ${NOISING_TIMESTEPS.join(',')}`,
);

// ---------------------------------------------------------------------------------- scoring

interface Sample {
  scene: number;
  word: string;
  kind: 'shape' | 'colour';
  /** IoU per τ (TAUS order), per layer set (LAYER_SETS order). */
  iou: number[][];
}

function iou(mask: Uint8Array, truth: Uint8Array): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < mask.length; i++) {
    inter += mask[i]! & truth[i]!;
    union += mask[i]! | truth[i]!;
  }
  return union === 0 ? 1 : inter / union;
}

function union(masks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(masks[0]!.length);
  for (const mk of masks) for (let i = 0; i < out.length; i++) out[i] = out[i]! | mk[i]!;
  return out;
}

/** The object words of a scene with the indices of the objects each names. */
function objectWords(scene: Scene): { word: string; kind: 'shape' | 'colour'; objects: number[] }[] {
  const words = new Map<string, { word: string; kind: 'shape' | 'colour'; objects: number[] }>();
  scene.objects.forEach((o, k) => {
    for (const [word, kind] of [
      [o.shape, 'shape'],
      [o.colour, 'colour'],
    ] as const) {
      const w = words.get(word) ?? { word, kind, objects: [] };
      w.objects.push(k);
      words.set(word, w);
    }
  });
  return [...words.values()];
}

/** IoUs of one scene's words against `truth(objects)` (undefined = not scored), for every τ and layer set. */
function score(
  sceneIndex: number,
  scene: Scene,
  captured: CapturedAttention,
  truth: (objects: number[]) => Uint8Array | undefined,
  layerSets: typeof LAYER_SETS,
): Sample[] {
  const prompt = sceneToPrompt(scene);
  const words = objectWords(scene);
  const perSet = layerSets.map((ls) =>
    segmentCaptured(ms.tokenizer, prompt, captured, { words: words.map((w) => w.word), layers: ls.sel, width: size, height: size }),
  );
  const out: Sample[] = [];
  words.forEach((w, k) => {
    const t = truth(w.objects);
    if (!t) return;
    const ious = TAUS.map((tau) => perSet.map((seg) => iou(thresholdMask(seg.words[k]!.heat, tau), t)));
    out.push({ scene: sceneIndex, word: w.word, kind: w.kind, iou: ious });
  });
  return out;
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((x, y) => x + y, 0) / xs.length : NaN);
const f3 = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : '  -  ');

function report(title: string, samples: Sample[], setNames: string[], extra: string[] = []): Record<string, unknown> {
  const t0 = TAUS.indexOf(DEFAULT_TAU);
  if (samples.length === 0) {
    console.log(`\n${title}: no (scene, word) pairs to score${extra.length ? `; ${extra.join('; ')}` : ''}`);
    return { pairs: 0 };
  }
  console.log(
    `\n${title}: ${samples.length} (scene, word) pairs from ${new Set(samples.map((s) => s.scene)).size} scenes${extra.length ? `; ${extra.join('; ')}` : ''}`,
  );
  console.log(
    `  mIoU by threshold τ (rows: layer sets)\n  ${'layers'.padEnd(30)} ${TAUS.map((t) => `τ=${t.toFixed(1)}`.padStart(7)).join('')}`,
  );
  const sweep: Record<string, number[]> = {};
  setNames.forEach((name, li) => {
    const row = TAUS.map((_, ti) => mean(samples.map((s) => s.iou[ti]![li]!)));
    sweep[name] = row;
    console.log(`  ${name.padEnd(30)} ${row.map((v) => f3(v).padStart(7)).join('')}`);
  });
  const byWord = new Map<string, number[]>();
  for (const s of samples) byWord.set(s.word, [...(byWord.get(s.word) ?? []), s.iou[t0]![0]!]);
  const perWord = Object.fromEntries([...byWord].sort(([x], [y]) => (x < y ? -1 : 1)).map(([w, v]) => [w, { iou: mean(v), n: v.length }]));
  console.log(`  per word at τ=${DEFAULT_TAU}, default layers:`);
  console.log(
    `  ${Object.entries(perWord)
      .map(([w, v]) => `${w} ${f3(v.iou)} (${v.n})`)
      .join(', ')}`,
  );
  const byKind = (k: string) => mean(samples.filter((s) => s.kind === k).map((s) => s.iou[t0]![0]!));
  console.log(`  shapes ${f3(byKind('shape'))}, colours ${f3(byKind('colour'))}; mIoU ${f3(mean(samples.map((s) => s.iou[t0]![0]!)))}`);
  return {
    pairs: samples.length,
    mIoU: mean(samples.map((s) => s.iou[t0]![0]!)),
    sweep,
    taus: TAUS,
    perWord,
    shapes: byKind('shape'),
    colours: byKind('colour'),
  };
}

// ------------------------------------------------------------------------------------- runs

const setNames = LAYER_SETS.map((l) => l.name);
const genChecker: Sample[] = [];
const genRenderer: Sample[] = [];
let objectsAsked = 0;
let objectsFound = 0;
const t0 = performance.now();
for (let i = 0; i < scenes.length; i++) {
  const scene = scenes[i]!;
  const prompt = sceneToPrompt(scene);
  const { result, attention } = await generateWithAttention(
    ms,
    { prompt, seed: seed + i, steps, scheduler: ms.defaults.scheduler, guidance: ms.defaults.guidance, width: size, height: size },
    { png: false },
  );
  const checked = checkImage(tensorToImage(result.image, size, size));
  // Each asked object -> the checked object with its shape and colour (each used once).
  const used = new Set<number>();
  const found = scene.objects.map((o) => {
    const j = checked.objects.findIndex((c, k) => !used.has(k) && c.object.shape === o.shape && c.object.colour === o.colour);
    if (j >= 0) used.add(j);
    return j >= 0 ? checked.objects[j]!.mask : undefined;
  });
  objectsAsked += scene.objects.length;
  objectsFound += found.filter(Boolean).length;
  genChecker.push(
    ...score(i, scene, attention, (objs) => (objs.every((k) => found[k]) ? union(objs.map((k) => found[k]!)) : undefined), LAYER_SETS),
  );
  const asked = renderScene(scene, { size, jitter: false });
  genRenderer.push(...score(i, scene, attention, (objs) => union(objs.map((k) => asked.masks[k]!)), LAYER_SETS.slice(0, 1)));
}
const tGen = (performance.now() - t0) / 1000;

const rendered: Sample[][] = TIMESTEP_SETS.map(() => []);
const t1 = performance.now();
for (let i = 0; i < scenes.length; i++) {
  const scene = scenes[i]!;
  const r = renderScene(scene, { size, seed: seed + i });
  const image = { data: sceneToTensor(scene, { size, seed: seed + i }), width: size, height: size };
  for (let k = 0; k < TIMESTEP_SETS.length; k++) {
    const captured = await attentionForImage(ms, image, sceneToPrompt(scene), { timesteps: TIMESTEP_SETS[k]!.timesteps, seed: seed + i });
    rendered[k]!.push(
      ...score(i, scene, captured, (objs) => union(objs.map((o) => r.masks[o]!)), k === 0 ? LAYER_SETS : LAYER_SETS.slice(0, 1)),
    );
  }
}
const tRendered = (performance.now() - t1) / 1000;

const results = {
  model: ms.name,
  smokeTest: !real,
  scenes: nScenes,
  size,
  steps,
  generated: {
    checkerTruth: report('(a) generated scenes, truth = checker masks of the generated image', genChecker, setNames, [
      `${objectsFound}/${objectsAsked} asked objects drawn and found by the checker`,
      `${tGen.toFixed(1)} s`,
    ]),
    rendererTruth: report(
      "(a') generated scenes, truth = renderer masks of the asked scene (placement errors count)",
      genRenderer,
      setNames.slice(0, 1),
    ),
    objectsAsked,
    objectsFound,
    seconds: tGen,
  },
  rendered: {
    ...report('(b) rendered scenes through the noising path, truth = renderer masks', rendered[0]!, setNames, [
      `${tRendered.toFixed(1)} s for all timestep sets`,
    ]),
    timestepSweep: Object.fromEntries(
      TIMESTEP_SETS.map((ts, k) => {
        const v = mean(rendered[k]!.map((s) => s.iou[TAUS.indexOf(DEFAULT_TAU)]![0]!));
        return [ts.name, v];
      }),
    ),
    seconds: tRendered,
  },
};
console.log(`\n(b) noising timesteps, mIoU at τ=${DEFAULT_TAU}, default layers:`);
for (const [name, v] of Object.entries(results.rendered.timestepSweep)) console.log(`  ${name.padEnd(30)} ${f3(v)}`);
if (real) console.log(`\nbars (issue 13): (a) mIoU >= 0.70, (b) mIoU >= 0.60`);
if (a.json) await writeFile(a.json, JSON.stringify(results, null, 2) + '\n');
await releaseAttentionCapture(ms);
await ms.release();
