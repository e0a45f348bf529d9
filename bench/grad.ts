/**
 * `npm run bench:grad [-- --fraction 0.25 --latent 32 --runs 5 --threads N --opt-level extended|all]`
 *
 * Builds (with our own graph builder) a UNet with Stable Diffusion 1.5 proportions at a width
 * fraction (default a quarter: channels 80/160/320/320, 2 layers per block, 8 heads,
 * cross-attention dim 768, 77 tokens) at a 32x32 latent, then times in onnxruntime-node:
 *   forward            the UNet alone
 *   forward+VJP        the model from buildVjp(wrt encoder_hidden_states)
 * with the same session options, runs alternated (fwd, vjp, fwd, vjp, ...) after one warm-up
 * each. Default graph optimisation level 'extended': on this model 'all' adds only the NCHWc
 * layout transform, which leaves the forward unchanged and slows the VJP graph (reorders
 * around every convolution whose output the gradient reads); pass --opt-level all to compare.
 * Peak RSS is measured per model in a child process (`--only fwd|vjp`), so each figure
 * covers one model's session alone.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { buildUnetModel, sd15UnetOptions } from '../src/main/engine/models/demo/unet.js';
import { specialise } from '../src/main/engine/onnx/specialise.js';
import { encodeModel } from '../src/main/engine/onnx/model-io.js';
import { buildVjp } from '../src/main/engine/autodiff/vjp.js';
import type { Model } from '../src/main/engine/onnx/ir.js';

const { values: args } = parseArgs({
  options: {
    fraction: { type: 'string', default: '0.25' },
    latent: { type: 'string', default: '32' },
    runs: { type: 'string', default: '5' },
    threads: { type: 'string' },
    'opt-level': { type: 'string', default: 'extended' },
    only: { type: 'string' },
  },
});
const fraction = Number(args.fraction);
const latent = Number(args.latent);
const runs = Math.max(1, Number(args.runs));
const SEQ = 77;

const optLevel = args['opt-level'] as 'disabled' | 'basic' | 'extended' | 'all';
const sessionOptions: ort.InferenceSession.SessionOptions = {
  graphOptimizationLevel: optLevel,
  executionMode: 'sequential',
  logSeverityLevel: 3,
  ...(args.threads ? { intraOpNumThreads: Number(args.threads) } : {}),
};

function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

function randTensor(shape: number[], seed: number): ort.Tensor {
  const r = mulberry(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return new ort.Tensor('float32', Float32Array.from({ length: n }, r), shape);
}

function build(): { fwd: Model; vjp: Model; feeds: Record<string, ort.Tensor>; vjpFeeds: Record<string, ort.Tensor>; info: string } {
  const t0 = performance.now();
  const opts = sd15UnetOptions(fraction);
  const unet = buildUnetModel(opts);
  const fwd = specialise(unet, { sample: [1, 4, latent, latent], timestep: [1], encoder_hidden_states: [1, SEQ, opts.crossAttentionDim] });
  const t1 = performance.now();
  const r = buildVjp(fwd, { wrt: ['encoder_hidden_states'] });
  const t2 = performance.now();
  let params = 0;
  for (const t of fwd.graph.initializers.values()) params += t.dims.reduce((a, b) => a * b, 1);
  const feeds: Record<string, ort.Tensor> = {
    sample: randTensor([1, 4, latent, latent], 1),
    timestep: new ort.Tensor('int64', BigInt64Array.of(500n), [1]),
    encoder_hidden_states: randTensor([1, SEQ, opts.crossAttentionDim], 2),
  };
  const vjpFeeds = { ...feeds, [r.cotangentInputs['out_sample']!]: randTensor([1, 4, latent, latent], 3) };
  const info =
    `UNet channels ${opts.channels.join('/')} (fraction ${fraction}), ${opts.layersPerBlock} layers/block, ${opts.heads} heads, ` +
    `cross-attention ${opts.crossAttentionDim}, latent ${latent}x${latent}, ${SEQ} tokens; ${(params / 1e6).toFixed(1)}M parameters\n` +
    `nodes: forward ${r.report.nodesBefore}, forward+VJP ${r.report.nodesAfter}; build ${(t1 - t0).toFixed(0)} ms, VJP transform ${(t2 - t1).toFixed(0)} ms`;
  return { fwd, vjp: r.model, feeds, vjpFeeds, info };
}

/** Wall-clock ms and process CPU ms (user + system) of one run. */
async function time(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<[number, number]> {
  const c = process.cpuUsage();
  const t = performance.now();
  await session.run(feeds);
  const wall = performance.now() - t;
  const cpu = process.cpuUsage(c);
  return [wall, (cpu.user + cpu.system) / 1000];
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (kb: number): string => `${(kb / 1024).toFixed(0)} MB`;

async function onlyOne(which: 'fwd' | 'vjp'): Promise<void> {
  const { fwd, vjp, feeds, vjpFeeds } = build();
  const s = await ort.InferenceSession.create(encodeModel(which === 'fwd' ? fwd : vjp), sessionOptions);
  for (let i = 0; i < 2; i++) await s.run(which === 'fwd' ? feeds : vjpFeeds);
  console.log(JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS }));
}

async function main(): Promise<void> {
  if (args.only === 'fwd' || args.only === 'vjp') return onlyOne(args.only);
  const { fwd, vjp, feeds, vjpFeeds, info } = build();
  console.log(info);
  console.log(`session options (both models): graphOptimizationLevel '${optLevel}', intraOpNumThreads ${args.threads ?? 'default'}, sequential`);
  const sf = await ort.InferenceSession.create(encodeModel(fwd), sessionOptions);
  const sv = await ort.InferenceSession.create(encodeModel(vjp), sessionOptions);
  await time(sf, feeds);
  await time(sv, vjpFeeds);
  const tf: number[] = [], tv: number[] = [], cf: number[] = [], cv: number[] = [];
  for (let i = 0; i < runs; i++) {
    const [a, ca] = await time(sf, feeds);
    const [b, cb] = await time(sv, vjpFeeds);
    tf.push(a), cf.push(ca), tv.push(b), cv.push(cb);
  }
  await sf.release();
  await sv.release();
  const f = median(tf);
  const v = median(tv);
  console.log(`forward:      median ${f.toFixed(1)} ms  (runs: ${tf.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`forward+VJP:  median ${v.toFixed(1)} ms  (runs: ${tv.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`ratio:        ${(v / f).toFixed(2)}  (target <= 2.0; min/min ${(Math.min(...tv) / Math.min(...tf)).toFixed(2)})`);
  console.log(`CPU time:     forward ${median(cf).toFixed(0)} ms, forward+VJP ${median(cv).toFixed(0)} ms, ratio ${(median(cv) / median(cf)).toFixed(2)} (less sensitive to other load; includes thread-pool spinning)`);
  console.log(`peak RSS this process (both sessions): ${mb(process.resourceUsage().maxRSS)}`);

  const self = fileURLToPath(import.meta.url);
  const pass = ['--fraction', String(fraction), '--latent', String(latent), '--opt-level', optLevel, ...(args.threads ? ['--threads', args.threads] : [])];
  for (const which of ['fwd', 'vjp'] as const) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--only', which, ...pass], { encoding: 'utf8' });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    try {
      const { maxRssKb } = JSON.parse(line) as { maxRssKb: number };
      console.log(`peak RSS ${which === 'fwd' ? 'forward     ' : 'forward+VJP '} (own process, build + session + 2 runs): ${mb(maxRssKb)}`);
    } catch {
      console.log(`peak RSS ${which}: measurement failed (${r.stderr.trim().split('\n').pop()})`);
    }
  }
}

await main();
