/**
 * `npm run train:shapes [-- options]`: train the shapes model set with the project's own gradient
 * engine on onnxruntime (docs/shapes-world.md), write it to models/shapes/ and the loss curves to
 * docs/shapes-world-loss.svg.
 *
 * Resumable: kill it and run the same command again; finished phases are loaded from the work
 * folder and the interrupted one continues from its last checkpoint (same next step).
 *
 * Options:
 *   --config full|quick|tiny   full (default): the committed set, <= 2 h on 2 cores; quick: the same
 *                              networks with a fraction of the steps; tiny: toy networks, seconds
 *   --work DIR                 checkpoints and phase results (default .scratch/train-shapes/<config>)
 *   --out DIR                  the finished set (default models/shapes for full, <work>/out otherwise)
 *   --plot FILE                loss-curve SVG (default docs/shapes-world-loss.svg for full, <work>/loss.svg otherwise)
 *   --threads N                onnxruntime intra-op threads (default: one per core)
 *   --fresh                    delete the work folder first (start over)
 */
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { CancelledError } from '../src/main/engine/errors.js';
import { trainConfig, trainShapesSet } from '../src/main/engine/models/shapes/index.js';
import { lossCurvesSvg } from '../src/main/engine/training/plot.js';

const { values: a } = parseArgs({
  options: {
    config: { type: 'string', default: 'full' },
    work: { type: 'string' },
    out: { type: 'string' },
    plot: { type: 'string' },
    threads: { type: 'string' },
    fresh: { type: 'boolean', default: false },
  },
});
const config = trainConfig(a.config!);
const root = process.cwd();
const work = path.resolve(a.work ?? path.join(root, '.scratch', 'train-shapes', config.name));
const out = path.resolve(a.out ?? (config.name === 'full' ? path.join(root, 'models', 'shapes') : path.join(work, 'out')));
const plot = path.resolve(
  a.plot ?? (config.name === 'full' ? path.join(root, 'docs', 'shapes-world-loss.svg') : path.join(work, 'loss.svg')),
);
const threads = a.threads ? Number(a.threads) : undefined;

if (a.fresh && existsSync(work)) await rm(work, { recursive: true, force: true });
const ac = new AbortController();
let interrupts = 0;
process.on('SIGINT', () => {
  if (++interrupts > 1) process.exit(130);
  console.log('\ninterrupted: saving a checkpoint (Ctrl-C again to quit at once)');
  ac.abort();
});

const t0 = performance.now();
const stamp = (): string => {
  const s = Math.round((performance.now() - t0) / 1000);
  return `${String(Math.floor(s / 3600))}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};
console.log(
  `train:shapes  config ${config.name}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(1)}, work ${work}, out ${out}`,
);
try {
  const r = await trainShapesSet({
    config,
    workDir: work,
    outDir: out,
    ...(threads ? { threads } : {}),
    signal: ac.signal,
    onProgress: (e) => console.log(`[${stamp()}] ${e.name}: ${e.message}`),
  });
  const min = (s: number): string => `${(s / 60).toFixed(1)} min`;
  const svg = lossCurvesSvg(
    r.phases.map((p) => ({
      name: `${p.name}: ${p.parameters.toLocaleString('en-US')} parameters`,
      note: `${p.steps} steps, ${min(p.seconds)} wall (${min(p.cpuSeconds)} CPU), ${p.secondsPerStep.toFixed(2)} s/step; final loss ${p.finalLoss.toPrecision(3)}`,
      points: p.log.map((l) => [l.step, l.loss] as [number, number]),
    })),
  );
  await writeFile(plot, svg);
  console.log(
    `\n${'phase'.padEnd(10)} ${'params'.padStart(10)} ${'steps'.padStart(6)} ${'s/step'.padStart(7)} ${'minutes'.padStart(8)} ${'cpu min'.padStart(8)} ${'first loss'.padStart(11)} ${'final loss'.padStart(11)}`,
  );
  for (const p of r.phases) {
    console.log(
      `${p.name.padEnd(10)} ${p.parameters.toLocaleString('en-US').padStart(10)} ${String(p.steps).padStart(6)} ${p.secondsPerStep.toFixed(2).padStart(7)} ${(p.seconds / 60).toFixed(1).padStart(8)} ${(p.cpuSeconds / 60).toFixed(1).padStart(8)} ${p.firstLoss.toPrecision(4).padStart(11)} ${p.finalLoss.toPrecision(4).padStart(11)}`,
    );
  }
  console.log(`\nscaling factor ${r.scalingFactor}; evaluation ${JSON.stringify(r.evaluation)}`);
  console.log(`wrote ${out} and ${plot}; this run took ${min(r.seconds)}`);
} catch (e) {
  if (e instanceof CancelledError) {
    console.log(`${e.message}`);
    process.exit(130);
  }
  throw e;
}
