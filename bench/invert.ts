/**
 * `npm run bench:invert [-- options]`: planted-prompt recovery on the demo model set.
 *
 * For each planted prompt P* (words of models/demo/words.txt) the target is rendered from
 * c* = T(P*) with the inversion's own renderer (5-step LMS, guidance 7.5, seed 0 — the settings
 * both presets' objectives use, so the target is exactly reachable; the bench checks that
 * generate() with the same request gives the same image). The inversion starts from a perturbed
 * P* (a word replaced and/or dropped) and runs once per objective x preset. Per run it prints:
 *
 *   loss          objective loss at the first and the last iteration
 *   dist c→c*     mean squared distance of the embedding to c* over the optimised positions
 *                 (1..EOS of the start text), for the start c0 and the best (final) snapshot
 *   moved         the same distance between the best snapshot and c0 (how far refinement went)
 *   F1 init/final word-level F1 (metrics/word-f1.ts) vs P* of the start text and of the answer
 *   P* found      whether any candidate decoded to P* exactly
 *   s, ms/it      wall time of the whole invert() call, and of one refinement iteration
 *                 (steady state: first iteration and session set-up excluded)
 *
 * Options (all optional):
 *   --size N                 inversion size (default 128; multiple of the set's sizeMultiple)
 *   --prompts N              how many planted prompts (default 6, at most the list below)
 *   --objectives a,b         pixel,latent,denoise (default all)
 *   --presets a,b            fast,paper (default both)
 *   --fast-iterations N      override fast's iterations (also --fast-steps, --fast-snapshot-every)
 *   --paper-iterations N     cap paper's 1000 iterations (default 300; env BENCH_PAPER_ITERATIONS)
 *   --iterations-denoise N   separate iteration count for the denoise objective (it is ~15x cheaper)
 *   --cache DIR              model cache holding the demo set (default: INVERSION_STUDIO_CACHE or per-user)
 *   --paper-objectives a,b   objectives for the paper preset (default pixel, the paper's); the first
 *                           100 paper iterations are the same trajectory as fast's, so a capped
 *                           paper run is only informative beyond fast's iteration count
 *   --docs                   replace the results block of docs/inversion.md with this run's table
 *   --block NAME             which block: <!-- bench:invert:NAME:start/end --> (default main)
 *   --set KEY=VALUE          override any InvertSettings field in every run (repeatable),
 *                           e.g. --set includePadding=true --set lrMax=0.02
 *   --json FILE              also write every run as JSON
 */
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadModelSet } from '../src/main/engine/diffusion/load-model-set.js';
import { generate } from '../src/main/engine/diffusion/pipeline.js';
import { HotFlipDecoder } from '../src/main/engine/e2t/hotflip-decoder.js';
import { createTextEncoderOracle } from '../src/main/engine/e2t/text-encoder-oracle.js';
import type { DecodeOptions, EmbeddingToText, TextEmbedding } from '../src/main/engine/e2t/types.js';
import { inversionModelsFromSet } from '../src/main/engine/inversion/from-model-set.js';
import { invert } from '../src/main/engine/inversion/invert.js';
import { presetSettings, type InvertSettings, type ObjectiveName, type PresetName } from '../src/main/engine/inversion/presets.js';
import { createRenderer } from '../src/main/engine/inversion/embedding-renderer.js';
import { readDemoStamp } from '../src/main/engine/models/demo/index.js';
import { wordF1 } from '../src/main/engine/metrics/word-f1.js';

/** Planted prompts and their perturbed starts (one word replaced, or one dropped, or both). */
const PLANTED: { truth: string; start: string; perturbation: string }[] = [
  { truth: 'a red cat on a blue sofa', start: 'a green cat on a blue sofa', perturbation: 'replace red→green' },
  { truth: 'an old house in the forest', start: 'an old house in the desert', perturbation: 'replace forest→desert' },
  { truth: 'a small boat on the lake at sunset', start: 'a small boat on the lake', perturbation: 'drop "at sunset"' },
  { truth: 'a white horse running on the beach', start: 'a brown horse on the beach', perturbation: 'replace white→brown, drop running' },
  { truth: 'a lighthouse in a storm', start: 'a castle in a storm', perturbation: 'replace lighthouse→castle' },
  { truth: 'a fox in the snow', start: 'a wolf in the grass', perturbation: 'replace fox→wolf, snow→grass' },
  { truth: 'a knight with a sword', start: 'a knight with a shield', perturbation: 'replace sword→shield' },
  { truth: 'a bowl of fruit on a table', start: 'a bowl of soup on a table', perturbation: 'replace fruit→soup' },
];

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '128' },
    prompts: { type: 'string', default: '6' },
    objectives: { type: 'string', default: 'pixel,latent,denoise' },
    presets: { type: 'string', default: 'fast,paper' },
    'fast-iterations': { type: 'string' },
    'fast-steps': { type: 'string' },
    'fast-snapshot-every': { type: 'string' },
    'paper-iterations': { type: 'string', default: process.env.BENCH_PAPER_ITERATIONS ?? '300' },
    'iterations-denoise': { type: 'string' },
    cache: { type: 'string' },
    'paper-objectives': { type: 'string' },
    docs: { type: 'boolean', default: false },
    block: { type: 'string', default: 'main' },
    json: { type: 'string' },
    set: { type: 'string', multiple: true },
  },
});

const size = Number(args.size);
const promptCount = Math.min(PLANTED.length, Math.max(1, Number(args.prompts)));
const objectives = args.objectives.split(',').map((s) => s.trim()) as ObjectiveName[];
const paperObjectives = (args['paper-objectives'] ?? 'pixel').split(',').map((s) => s.trim()) as ObjectiveName[];
const presets = args.presets.split(',').map((s) => s.trim()) as PresetName[];
const int = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));

function settingsFor(preset: PresetName, objective: ObjectiveName): InvertSettings {
  const o: Partial<InvertSettings> = { objective, previewEvery: 0 };
  if (preset === 'fast') {
    const it = int(args['fast-iterations']);
    if (it) o.iterations = it;
    const st = int(args['fast-steps']);
    if (st) o.steps = st;
    const se = int(args['fast-snapshot-every']);
    if (se) o.snapshotEvery = se;
  } else {
    o.iterations = Number(args['paper-iterations']);
  }
  const dn = int(args['iterations-denoise']);
  if (objective === 'denoise' && dn) o.iterations = dn;
  for (const kv of args.set ?? []) {
    const [k, v] = kv.split('=') as [keyof InvertSettings, string];
    (o as Record<string, unknown>)[k] = v === 'true' ? true : v === 'false' ? false : Number.isNaN(Number(v)) ? v : Number(v);
  }
  return presetSettings(preset, o);
}

/** Passes decoding through to the HotFlip decoder, keeping each snapshot it was asked to decode. */
class RecordingDecoder implements EmbeddingToText {
  readonly name = 'hotflip';
  calls: { embedding: Float32Array; text: string }[] = [];
  constructor(private readonly inner: EmbeddingToText) {}
  async decode(target: TextEmbedding, o: DecodeOptions) {
    const r = await this.inner.decode(target, o);
    this.calls.push({ embedding: Float32Array.from(target.data), text: r.text });
    return r;
  }
}

/** Mean squared difference over positions 1..length-1 (the optimised ones). */
function positionDistance(a: Float32Array, b: Float32Array, length: number, dim: number): number {
  let s = 0;
  for (let i = dim; i < length * dim; i++) s += (a[i]! - b[i]!) ** 2;
  return s / ((length - 1) * dim);
}

interface Row {
  preset: PresetName;
  objective: ObjectiveName;
  iterations: number;
  steps: number;
  snapshotEvery: number;
  truth: string;
  start: string;
  prompt: string;
  lossFirst: number;
  lossLast: number;
  distFirst: number;
  distLast: number;
  /** How far the refinement moved: best snapshot vs c0, same positions. */
  moved: number;
  f1Init: number;
  f1Final: number;
  found: boolean;
  /** Pixel MSE of the regenerated start text and of the answer against the target (what ranking minimises without CLIP). */
  regenStart: number;
  regenAnswer: number;
  seconds: number;
  msPerIteration: number;
  stopped?: string;
  /** Only in --json: the loss curve and the decoded text of every snapshot. */
  losses?: number[];
  decoded?: string[];
}

const fmt = (v: number, d = 3) => (Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(d) : v.toExponential(1));

async function main(): Promise<void> {
  const t0 = performance.now();
  const ms = await loadModelSet('demo', args.cache ? { cacheDir: args.cache } : {});
  if (size % ms.io.sizeMultiple !== 0) throw new Error(`--size must be a multiple of ${ms.io.sizeMultiple}`);
  const m = await inversionModelsFromSet(ms);
  const oracle = await createTextEncoderOracle(m.textEncoder, m.tokenizer, m.sessionOptions ? { sessionOptions: m.sessionOptions } : {});
  const decoder = new HotFlipDecoder(oracle);
  const { embedding: uncond } = await m.encodePrompt('');
  const base = presetSettings('paper');
  const renderer = await createRenderer(m, {
    width: size,
    height: size,
    steps: base.steps,
    scheduler: base.scheduler,
    guidance: base.guidance,
    seed: base.seed,
    uncond,
  });
  const machine = `${os.cpus()[0]?.model.trim() ?? 'cpu'} x${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB, ${process.platform} ${os.release()}, Node ${process.versions.node}, ${ms.provider}`;
  const stamp = await readDemoStamp(ms.dir);
  const demoVersion = `demo generator v${stamp?.version ?? '?'}`;
  const loadAvg = () => os.loadavg()[0]!.toFixed(1);
  console.error(`bench:invert on ${machine}; load average ${loadAvg()}`);
  console.error(
    `${demoVersion} set ${ms.dir}; size ${size}x${size}; ${promptCount} prompts; presets ${presets.join(',')}; objectives ${objectives.join(',')}`,
  );

  const rows: Row[] = [];
  let maxGenDiff = 0;
  for (const p of PLANTED.slice(0, promptCount)) {
    const truth = await m.encodePrompt(p.truth);
    const target = { data: await renderer.render(truth.embedding), width: size, height: size };
    // The same request through generate() must give the same picture (it clamps to [-1, 1]).
    const g = await generate(
      ms,
      {
        prompt: p.truth,
        seed: base.seed,
        steps: base.steps,
        scheduler: base.scheduler,
        guidance: base.guidance,
        width: size,
        height: size,
      },
      { png: false },
    );
    for (let i = 0; i < g.image.length; i++)
      maxGenDiff = Math.max(maxGenDiff, Math.abs(g.image[i]! - Math.max(-1, Math.min(1, target.data[i]!))));
    const start = await m.encodePrompt(p.start);
    for (const preset of presets) {
      for (const objective of preset === 'paper' ? paperObjectives : objectives) {
        const settings = settingsFor(preset, objective);
        const rec = new RecordingDecoder(decoder);
        const stamps: number[] = [];
        const res = await invert(m, target, {
          settings,
          init: { kind: 'text', text: p.start },
          e2t: rec,
          onProgress: (e) => {
            if (e.phase === 'refining' && e.previewPng === undefined) stamps.push(performance.now());
          },
        });
        const first = rec.calls[0]!.embedding;
        const last = rec.calls.at(-1)!.embedding;
        const steady = stamps.length > 1 ? (stamps.at(-1)! - stamps[0]!) / (stamps.length - 1) : NaN;
        const row: Row = {
          preset,
          objective,
          iterations: res.iterations,
          steps: settings.steps,
          snapshotEvery: settings.snapshotEvery,
          truth: p.truth,
          start: p.start,
          prompt: res.prompt,
          lossFirst: res.loss[0]!,
          lossLast: res.loss.at(-1)!,
          distFirst: positionDistance(first, truth.embedding, start.length, m.dim),
          distLast: positionDistance(last, truth.embedding, start.length, m.dim),
          moved: positionDistance(last, first, start.length, m.dim),
          f1Init: wordF1(p.start, p.truth).f1,
          f1Final: wordF1(res.prompt, p.truth).f1,
          found: res.candidates.some((c) => c.prompt === p.truth),
          regenStart: -(res.candidates.find((c) => c.prompt === p.start)?.score ?? NaN),
          regenAnswer: -res.candidates[0]!.score,
          seconds: res.seconds,
          msPerIteration: steady,
          ...(res.stopped ? { stopped: res.stopped } : {}),
        };
        rows.push({ ...row, losses: res.loss, decoded: rec.calls.map((c) => c.text) });
        console.error(
          `${preset}/${objective} it=${row.iterations} "${p.truth}" <- "${p.start}" => "${res.prompt}" ` +
            `loss ${fmt(row.lossFirst)}→${fmt(row.lossLast)} dist ${fmt(row.distFirst, 4)}→${fmt(row.distLast, 4)} moved ${fmt(row.moved, 4)} F1 ${fmt(row.f1Init, 2)}→${fmt(row.f1Final, 2)} regen MSE ${fmt(row.regenStart)}→${fmt(row.regenAnswer)} ` +
            `${row.found ? 'P* among candidates' : ''} ${row.seconds.toFixed(0)} s, ${row.msPerIteration.toFixed(0)} ms/it (load ${loadAvg()})`,
        );
      }
    }
  }
  await renderer.release();
  await oracle.release();
  await ms.release();

  const header =
    '| preset | objective | iters | steps | snap | P* | start | answer | loss first→last | dist c→c* first→last | moved | F1 init→final | regen MSE start→answer | P* found | s | ms/it |';
  const lines = [header, '|' + '---|'.repeat(16)];
  for (const r of rows) {
    lines.push(
      `| ${r.preset} | ${r.objective} | ${r.iterations}${r.stopped ? ` (${r.stopped})` : ''} | ${r.steps} | ${r.snapshotEvery} | ${r.truth} | ${r.start} | ${r.prompt} | ` +
        `${fmt(r.lossFirst)}→${fmt(r.lossLast)} | ${fmt(r.distFirst, 4)}→${fmt(r.distLast, 4)} | ${fmt(r.moved, 4)} | ${r.f1Init.toFixed(2)}→${r.f1Final.toFixed(2)} | ${fmt(r.regenStart)}→${fmt(r.regenAnswer)} | ${r.found ? 'yes' : 'no'} | ${r.seconds.toFixed(0)} | ${r.msPerIteration.toFixed(0)} |`,
    );
  }
  // Per configuration: means over prompts.
  const summary = [
    '| preset | objective | iters | runs | mean loss last/first | mean dist last/first | mean moved | mean F1 init→final | mean regen MSE start→answer | exact answers | P* found | mean s | mean ms/it |',
    '|' + '---|'.repeat(13),
  ];
  const keys = [...new Set(rows.map((r) => `${r.preset}/${r.objective}`))];
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const k of keys) {
    const rs = rows.filter((r) => `${r.preset}/${r.objective}` === k);
    summary.push(
      `| ${rs[0]!.preset} | ${rs[0]!.objective} | ${rs[0]!.iterations} | ${rs.length} | ${mean(rs.map((r) => r.lossLast / r.lossFirst)).toFixed(3)} | ${mean(rs.map((r) => r.distLast / r.distFirst)).toFixed(3)} | ${fmt(mean(rs.map((r) => r.moved)), 4)} | ` +
        `${mean(rs.map((r) => r.f1Init)).toFixed(2)}→${mean(rs.map((r) => r.f1Final)).toFixed(2)} | ${fmt(mean(rs.map((r) => r.regenStart)))}→${fmt(mean(rs.map((r) => r.regenAnswer)))} | ${rs.filter((r) => r.prompt === r.truth).length}/${rs.length} | ${rs.filter((r) => r.found).length}/${rs.length} | ` +
        `${mean(rs.map((r) => r.seconds)).toFixed(0)} | ${mean(rs.map((r) => r.msPerIteration)).toFixed(0)} |`,
    );
  }
  const when = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const minutes = ((performance.now() - t0) / 60000).toFixed(0);
  const block = [
    `Run ${when} on ${machine}; load average at the end ${loadAvg()} (other jobs were running: timings are inflated).`,
    `Command: \`npm run bench:invert -- ${process.argv.slice(2).join(' ')}\` (${minutes} min) on the ${demoVersion} models. Size ${size}x${size}; target rendered from T(P*) with 5-step LMS, guidance 7.5, seed 0; ` +
      `generate() with the same request differs from it by at most ${maxGenDiff.toExponential(1)} (after clamping).`,
    '',
    ...summary,
    '',
    ...lines,
  ].join('\n');
  console.log(block);
  if (args.json) await writeFile(args.json, JSON.stringify({ when, machine, size, rows }, null, 1));
  if (args.docs) {
    const docs = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'inversion.md');
    const text = await readFile(docs, 'utf8');
    const re = new RegExp(`(<!-- bench:invert:${args.block}:start -->)[\\s\\S]*?(<!-- bench:invert:${args.block}:end -->)`);
    if (!re.test(text)) throw new Error(`${docs} has no <!-- bench:invert:${args.block}:start/end --> block`);
    await writeFile(
      docs,
      text.replace(re, (_m, a: string, b: string) => `${a}\n${block}\n${b}`),
    );
    console.error(`updated ${docs}`);
  }
}

await main();
