/**
 * `npm run bench:fuse [-- options]`: cross-concept fusion and evolution on the shapes world.
 *
 * 1. Fusion: pairs of single-object scenes from held-out two-object scenes (worldFusionTasks:
 *    different objects, positions and backgrounds). Each pair is fused in every mode; the checker
 *    reads the image back and the table counts how often both parents' objects are present (shape
 *    and colour; and at their own positions), one of them, or neither. For `blend`, whether the
 *    decoded text names both objects (shape and colour words). `regions` runs twice: each parent
 *    steering the half of its object's position, and each steering its own attention mask.
 * 2. Evolution: from the two single-object prompts toward the two-object target scene (on the
 *    first parent's background), checker fitness, population 8, up to 20 generations, per seed:
 *    whether it reaches a full match, in how many generations, and whether the best ever dropped
 *    (elitism says never). Run on the model set, and on the world oracle (the world's exact
 *    renderer: it measures the search alone). `--svg FILE` plots the best-fitness curves.
 *
 * When `--models shapes` does not resolve, the fusion part says so and the oracle evolution runs
 * alone (exit 0). Any other model set runs as a smoke test (its numbers mean nothing).
 *
 * Options: --models NAME|DIR (default shapes) --pairs N (default 50; 4 off the shapes set)
 * --seeds N (evolution seeds on the model set, default 10; 2 off it) --oracle-seeds N (default 50)
 * --generations N (20) --population N (8) --steps N --seed N --modes m,m --parents prompt|image
 * --no-evolution --no-oracle --svg FILE --json FILE --provider P --threads N --cache DIR
 * Takes: fusion ≈ pairs × 6 generations (+ 2 attention runs), evolution ≈ seeds × 20 × 7 renders;
 * the oracle part ≈ 2 s a seed on the 2-core box.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { releaseAttentionCapture } from '../src/main/engine/attention/index.js';
import {
  EvolutionSession,
  modelSetBackend,
  worldFusionTasks,
  worldOracleBackend,
  type EvolutionBackend,
  type WorldFusionTask,
} from '../src/main/engine/concepts/evolution/index.js';
import { fuse } from '../src/main/engine/concepts/fusion/fuse.js';
import { FUSE_MODES, type FuseMode, type FusionParent, type RegionName } from '../src/main/engine/concepts/fusion/types.js';
import { loadModelSet, type ModelSet } from '../src/main/engine/diffusion/load-model-set.js';
import { EngineError } from '../src/main/engine/errors.js';
import { presetSettings } from '../src/main/engine/inversion/presets.js';
import { createShapesLm, trainShapesLm } from '../src/main/engine/models/shapes/lm/index.js';
import {
  checkImage,
  sceneToPrompt,
  sceneToTensor,
  slotAccuracy,
  tensorToImage,
  type Scene,
} from '../src/main/engine/models/shapes/world/index.js';
import { isProviderChoice, type ProviderChoice } from '../src/main/engine/runtime/index.js';

const { values: a } = parseArgs({
  options: {
    models: { type: 'string', default: 'shapes' },
    pairs: { type: 'string' },
    seeds: { type: 'string' },
    'oracle-seeds': { type: 'string', default: '50' },
    generations: { type: 'string', default: '20' },
    population: { type: 'string', default: '8' },
    steps: { type: 'string' },
    seed: { type: 'string', default: '0' },
    modes: { type: 'string' },
    parents: { type: 'string', default: 'prompt' },
    'no-evolution': { type: 'boolean' },
    'no-oracle': { type: 'boolean' },
    svg: { type: 'string' },
    json: { type: 'string' },
    provider: { type: 'string', default: 'auto' },
    threads: { type: 'string' },
    cache: { type: 'string' },
  },
});
if (!isProviderChoice(a.provider!)) throw new Error('--provider must be one of auto, cpu, cuda, dml, coreml, webgpu');
const seed = Number(a.seed);
const generations = Number(a.generations);
const population = Number(a.population);
const results: Record<string, unknown> = {};
const pct = (k: number, n: number) => (n ? `${((100 * k) / n).toFixed(0)}%` : '-');

console.log(
  `bench:fuse  ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${os.loadavg()[0]!.toFixed(1)}, node ${process.version}, provider ${a.provider}`,
);

let ms: ModelSet | undefined;
try {
  ms = await loadModelSet(a.models!, {
    provider: a.provider as ProviderChoice,
    ...(a.threads ? { threads: Number(a.threads) } : {}),
    ...(a.cache ? { cacheDir: a.cache } : {}),
  });
} catch (e) {
  if (!(e instanceof EngineError && (e.code === 'NOT_INSTALLED' || e.code === 'MODEL_FOLDER'))) throw e;
  console.log(`model set '${a.models}' is not available (${e.message})`);
  console.log(
    'the fusion table and the model-set evolution need the shapes model set (or run `-- --models demo` for a smoke test); the oracle evolution runs alone.',
  );
}
const real = ms !== undefined && /shapes/i.test(ms.name);
if (ms && !real) console.log(`model set ${ms.name} is not the shapes set: smoke test only, the numbers mean nothing`);

// ---------------------------------------------------------------------------------- fusion

/** Which of the two parents' objects the checker finds (shape and colour; and at their positions). */
function presence(image: Float32Array, size: number, t: WorldFusionTask) {
  const read = checkImage(tensorToImage(image, size, size)).scene;
  const has = (o: Scene['objects'][number], pos: boolean) =>
    read.objects.some((r) => r.shape === o.shape && r.colour === o.colour && (!pos || r.position === o.position));
  const oa = t.a.objects[0]!;
  const ob = t.b.objects[0]!;
  const acc = slotAccuracy(t.target, read);
  return {
    a: has(oa, false),
    b: has(ob, false),
    both: has(oa, false) && has(ob, false),
    placed: has(oa, true) && has(ob, true),
    slots: acc.correct / acc.total,
  };
}

/** Half of the canvas an object's position names (center: the whole canvas). */
const halfOf = (p: string): RegionName => (p === 'left' || p === 'right' || p === 'top' || p === 'bottom' ? p : 'full');

if (ms) {
  const nPairs = a.pairs ? Number(a.pairs) : real ? 50 : 4;
  const size = real ? ms.defaults.width : Math.max(64, ms.io.sizeMultiple);
  const steps = a.steps ? Number(a.steps) : real ? ms.defaults.steps : 4;
  const tasks = worldFusionTasks(nPairs, seed);
  const modes = (a.modes ? a.modes.split(',') : [...FUSE_MODES]) as FuseMode[];
  const rows: { label: string; mode: FuseMode; regions?: 'halves' | 'attention' }[] = [];
  for (const m of modes) {
    if (m === 'regions')
      rows.push({ label: 'regions (halves)', mode: m, regions: 'halves' }, { label: 'regions (attention)', mode: m, regions: 'attention' });
    else rows.push({ label: m, mode: m });
  }
  console.log(
    `\nfusion: ${nPairs} pairs at ${size}x${size}, ${ms.defaults.scheduler} ${steps} steps, guidance ${ms.defaults.guidance}, parents as ${a.parents}s`,
  );
  const stats = rows.map(() => ({ both: 0, a: 0, b: 0, none: 0, placed: 0, slots: 0, seconds: 0 }));
  let namesBoth = 0;
  let namesOne = 0;
  const tInvert = presetSettings('fast', { previewEvery: 0 });
  for (const [k, t] of tasks.entries()) {
    const parents: FusionParent[] = [t.a, t.b].map((s) =>
      a.parents === 'image'
        ? { kind: 'image', image: { data: sceneToTensor(s, { size }), width: size, height: size }, label: sceneToPrompt(s) }
        : { kind: 'prompt', text: sceneToPrompt(s) },
    );
    for (const [r, row] of rows.entries()) {
      const t0 = performance.now();
      const regions: RegionName[] | undefined =
        row.regions === 'attention'
          ? ['attention', 'attention']
          : row.regions === 'halves'
            ? [halfOf(t.a.objects[0]!.position), halfOf(t.b.objects[0]!.position)]
            : undefined;
      const res = await fuse(
        ms,
        { parents, mode: row.mode, seed: seed + k, steps, width: size, height: size, ...(regions ? { regions } : {}) },
        { png: false, invert: { settings: tInvert } },
      );
      const p = presence(res.image, size, t);
      const s = stats[r]!;
      s.both += p.both ? 1 : 0;
      s.a += p.a && !p.b ? 1 : 0;
      s.b += p.b && !p.a ? 1 : 0;
      s.none += !p.a && !p.b ? 1 : 0;
      s.placed += p.placed ? 1 : 0;
      s.slots += p.slots;
      s.seconds += (performance.now() - t0) / 1000;
      if (row.mode === 'blend' && res.decoded) {
        const words = new Set(res.decoded.text.toLowerCase().split(/[^a-z]+/));
        const names = (o: Scene['objects'][number]) => words.has(o.shape) && words.has(o.colour);
        const n = Number(names(t.a.objects[0]!)) + Number(names(t.b.objects[0]!));
        if (n === 2) namesBoth++;
        else if (n === 1) namesOne++;
      }
    }
    if ((k + 1) % 10 === 0 || k + 1 === tasks.length) console.log(`  ${k + 1}/${tasks.length} pairs`);
  }
  console.log('\n| mode | both objects | only A | only B | neither | both at their positions | slot accuracy vs target | s / image |');
  console.log('|---|---|---|---|---|---|---|---|');
  rows.forEach((row, r) => {
    const s = stats[r]!;
    console.log(
      `| ${row.label} | ${pct(s.both, nPairs)} | ${pct(s.a, nPairs)} | ${pct(s.b, nPairs)} | ${pct(s.none, nPairs)} | ${pct(s.placed, nPairs)} | ${(s.slots / nPairs).toFixed(3)} | ${(s.seconds / nPairs).toFixed(2)} |`,
    );
  });
  if (modes.includes('blend'))
    console.log(
      `\nblend: decoded text names both objects (shape and colour) in ${pct(namesBoth, nPairs)}, one in ${pct(namesOne, nPairs)}`,
    );
  results.fusion = {
    pairs: nPairs,
    size,
    steps,
    rows: rows.map((row, r) => ({ ...row, ...stats[r]! })),
    blendNames: { both: namesBoth, one: namesOne },
  };
  await releaseAttentionCapture(ms);
}

// ------------------------------------------------------------------------------- evolution

interface EvolutionRun {
  seed: number;
  curve: number[];
  reachedAt?: number;
  dropped: boolean;
}

async function evolveRuns(
  backend: EvolutionBackend,
  seeds: number,
  render: Partial<EvolutionBackend['defaults']>,
): Promise<EvolutionRun[]> {
  const tasks = worldFusionTasks(seeds, seed + 1);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'bench-fuse-'));
  const runs: EvolutionRun[] = [];
  try {
    for (const [k, t] of tasks.entries()) {
      const s = await EvolutionSession.create(path.join(tmp, `s${k}`), backend, {
        init: [
          { kind: 'prompt', text: sceneToPrompt(t.a) },
          { kind: 'prompt', text: sceneToPrompt(t.b) },
        ],
        settings: { seed: k, population, render },
        fitness: { kind: 'checker', prompt: sceneToPrompt(t.target) },
      });
      const curve = [s.head().best!];
      for (let g = 0; g < generations && curve[curve.length - 1]! < 1; g++) curve.push((await s.breed()).best!);
      const reached = curve.indexOf(1);
      runs.push({
        seed: k,
        curve,
        ...(reached >= 0 ? { reachedAt: reached } : {}),
        dropped: curve.some((v, i) => i > 0 && v < curve[i - 1]!),
      });
      await s.close();
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return runs;
}

function summarise(label: string, runs: EvolutionRun[]): void {
  const reached = runs.filter((r) => r.reachedAt !== undefined);
  const gens = reached.map((r) => r.reachedAt!).sort((x, y) => x - y);
  const median = gens.length ? gens[Math.floor((gens.length - 1) / 2)]! : undefined;
  console.log(
    `| ${label} | ${runs.length} | ${pct(reached.length, runs.length)} | ${median ?? '-'} | ${runs.some((r) => r.dropped) ? 'yes' : 'never'} |`,
  );
}

/** Mean best fitness per generation (a run that stopped at full match stays at 1), and the share at full match. */
function meanCurve(runs: EvolutionRun[]): { mean: number[]; done: number[] } {
  const mean: number[] = [];
  const done: number[] = [];
  for (let g = 0; g <= generations; g++) {
    const at = runs.map((r) => r.curve[Math.min(g, r.curve.length - 1)]!);
    mean.push(at.reduce((x, y) => x + y, 0) / at.length);
    done.push(at.filter((v) => v === 1).length / at.length);
  }
  return { mean, done };
}

function svg(series: { label: string; runs: EvolutionRun[]; colour: string }[]): string {
  const W = 640;
  const H = 360;
  const L = 56;
  const R = 180;
  const T = 24;
  const B = 44;
  const x = (g: number) => L + ((W - L - R) * g) / generations;
  const y = (v: number) => T + (H - T - B) * (1 - v);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  for (let v = 0; v <= 1.0001; v += 0.25) {
    parts.push(
      `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${L - 8}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`,
    );
  }
  for (let g = 0; g <= generations; g += 5) parts.push(`<text x="${x(g)}" y="${H - B + 18}" text-anchor="middle">${g}</text>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">generation</text>`);
  parts.push(`<text transform="translate(14 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">best fitness (checker slots)</text>`);
  series.forEach((s, k) => {
    for (const r of s.runs) {
      const pts = r.curve.map((v, g) => `${x(g).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      parts.push(`<polyline points="${pts}" fill="none" stroke="${s.colour}" stroke-opacity="0.12"/>`);
    }
    const { mean, done } = meanCurve(s.runs);
    parts.push(
      `<polyline points="${mean.map((v, g) => `${x(g).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}" fill="none" stroke="${s.colour}" stroke-width="2.5"/>`,
    );
    parts.push(
      `<polyline points="${done.map((v, g) => `${x(g).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}" fill="none" stroke="${s.colour}" stroke-width="1.5" stroke-dasharray="5 4"/>`,
    );
    const ly = T + 16 + k * 40;
    parts.push(`<line x1="${W - R + 12}" x2="${W - R + 36}" y1="${ly}" y2="${ly}" stroke="${s.colour}" stroke-width="2.5"/>`);
    parts.push(`<text x="${W - R + 42}" y="${ly + 4}">${s.label}: mean best</text>`);
    parts.push(`<line x1="${W - R + 12}" x2="${W - R + 36}" y1="${ly + 16}" y2="${ly + 16}" stroke="${s.colour}" stroke-dasharray="5 4"/>`);
    parts.push(`<text x="${W - R + 42}" y="${ly + 20}">share at full match</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

if (!a['no-evolution']) {
  const lm = createShapesLm(trainShapesLm());
  const series: { label: string; runs: EvolutionRun[]; colour: string }[] = [];
  console.log(
    `\nevolution: two single-object prompts -> the two-object target, checker fitness, population ${population}, up to ${generations} generations`,
  );
  console.log('\n| generator | seeds | full match | median generations to full match | best ever dropped |');
  console.log('|---|---|---|---|---|');
  if (ms) {
    const t0 = performance.now();
    const n = a.seeds ? Number(a.seeds) : real ? 10 : 2;
    const size = real ? ms.defaults.width : Math.max(64, ms.io.sizeMultiple);
    const runs = await evolveRuns(modelSetBackend(ms, { lm }), n, {
      width: size,
      height: size,
      ...(a.steps ? { steps: Number(a.steps) } : real ? {} : { steps: 4 }),
    });
    summarise(`${ms.name}${real ? '' : ' (smoke test)'}`, runs);
    series.push({ label: ms.name, runs, colour: '#d62728' });
    results.evolution = { model: ms.name, runs, seconds: (performance.now() - t0) / 1000 };
  }
  if (!a['no-oracle']) {
    const t0 = performance.now();
    const runs = await evolveRuns(worldOracleBackend({ lm }), Number(a['oracle-seeds']), {});
    summarise('world oracle (exact renderer)', runs);
    series.push({ label: 'oracle', runs, colour: '#1f77b4' });
    results.oracle = { runs, seconds: (performance.now() - t0) / 1000 };
    console.log(`(oracle: ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  if (a.svg && series.length) {
    await writeFile(a.svg, svg(series));
    console.log(`wrote ${a.svg}`);
  }
}
if (a.json) await writeFile(a.json, JSON.stringify(results, null, 1));
await ms?.release();
