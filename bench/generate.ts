/**
 * `npm run bench:generate [-- options]`: generation speed.
 *
 *  1. The demo model set end to end through generate(): text encoding, per-step time (UNet with
 *     classifier-free guidance as one batch of 2 + scheduler update), VAE decode, total.
 *  2. The SD-1.5-proportioned UNet from the same generator (models/demo/unet.ts, default a quarter
 *     of the width: channels 80/160/320/320, 2 layers per block, 8 heads, cross-attention 768) at a
 *     32x32 latent (a 256x256 image), batch 2 as under guidance: per-step time and the total for
 *     `--steps` steps. (Full SD 1.5 is --fraction 1 --latent 64: ~3.4 GB of weights.)
 *
 * Options: --size N (demo image side, default 256) --steps N (default 20) --runs N (measured runs,
 * default 2, after one warm-up) --fraction F (default 0.25) --latent N (default 32)
 * --threads N --provider P --cache DIR --skip-demo --skip-sd
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadModelSet } from '../src/main/engine/diffusion/load-model-set.js';
import { generate } from '../src/main/engine/diffusion/pipeline.js';
import { gaussian } from '../src/main/engine/diffusion/rng.js';
import { buildUnetModel, sd15UnetOptions } from '../src/main/engine/models/demo/unet.js';
import { encodeModel } from '../src/main/engine/onnx/model-io.js';
import { createSession, isProviderChoice, type ProviderChoice } from '../src/main/engine/runtime/index.js';
import { floatTensor, timestepTensor } from '../src/main/engine/runtime/tensors.js';

const { values: a } = parseArgs({
  options: {
    size: { type: 'string', default: '256' },
    steps: { type: 'string', default: '20' },
    runs: { type: 'string', default: '2' },
    fraction: { type: 'string', default: '0.25' },
    latent: { type: 'string', default: '32' },
    threads: { type: 'string' },
    provider: { type: 'string', default: 'auto' },
    cache: { type: 'string' },
    'skip-demo': { type: 'boolean' },
    'skip-sd': { type: 'boolean' },
  },
});
const size = Number(a.size);
const steps = Number(a.steps);
const runs = Math.max(1, Number(a.runs));
const fraction = Number(a.fraction);
const latent = Number(a.latent);
const threads = a.threads ? Number(a.threads) : undefined;
if (!isProviderChoice(a.provider!)) throw new Error(`--provider must be one of auto, cpu, cuda, dml, coreml, webgpu`);
const provider = a.provider as ProviderChoice;

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const ms = (s: number): string => `${(s * 1000).toFixed(1)} ms`;

console.log(
  `bench:generate  ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${os.loadavg()[0]!.toFixed(1)}, node ${process.version}, provider ${provider}${threads ? `, ${threads} threads` : ''}`,
);

if (!a['skip-demo']) {
  const tLoad = performance.now();
  const set = await loadModelSet('demo', {
    provider,
    ...(threads ? { threads } : {}),
    ...(a.cache ? { cacheDir: a.cache } : {}),
    skipVaeEncoder: true,
  });
  const loadS = (performance.now() - tLoad) / 1000;
  const req = {
    prompt: 'a red fox in a snowy forest at sunset',
    seed: 0,
    steps,
    scheduler: 'ddim' as const,
    guidance: 7.5,
    width: size,
    height: size,
  };
  let encodeS = 0;
  let decodeS = 0;
  const stepAll: number[] = [];
  const totals: number[] = [];
  for (let r = 0; r <= runs; r++) {
    const marks: Record<string, number> = {};
    const res = await generate(set, req, {
      png: false,
      onProgress: (e) => {
        marks[`${e.phase}:${e.step}`] = performance.now();
      },
    });
    if (r === 0) continue; // warm-up
    encodeS += (marks['encode:1']! - marks['encode:0']!) / 1000 / runs;
    decodeS += (marks['decode:1']! - marks['decode:0']!) / 1000 / runs;
    stepAll.push(...res.stepSeconds);
    totals.push(res.seconds);
  }
  console.log(
    `\ndemo set (${set.provider}), ${size}x${size} (latent ${size / 8}x${size / 8}), ddim ${steps} steps, guidance 7.5 (UNet batch 2), ${runs} runs after a warm-up`,
  );
  console.log(`  load (generation cached)  ${loadS.toFixed(2)} s`);
  console.log(`  text encode (2 prompts)   ${ms(encodeS)}`);
  console.log(`  per step                  median ${ms(median(stepAll))}, mean ${ms(stepAll.reduce((x, y) => x + y, 0) / stepAll.length)}`);
  console.log(`  VAE decode                ${ms(decodeS)}`);
  console.log(`  total                     median ${median(totals).toFixed(2)} s`);
  await set.release();
}

if (!a['skip-sd']) {
  const opts = sd15UnetOptions(fraction);
  const tBuild = performance.now();
  const model = buildUnetModel(opts);
  const params = [...model.graph.initializers.values()].reduce((s, t) => s + t.dims.reduce((x, y) => x * y, 1), 0);
  const bytes = encodeModel(model);
  const buildS = (performance.now() - tBuild) / 1000;
  const tSess = performance.now();
  const s = await createSession(bytes, { provider, ...(threads ? { threads } : {}), name: 'sd15-proportioned unet' });
  const sessS = (performance.now() - tSess) / 1000;
  const n = 2 * 4 * latent * latent;
  const feeds = {
    sample: floatTensor(gaussian(1, n), [2, 4, latent, latent]),
    timestep: timestepTensor(500, 'int64', 2),
    encoder_hidden_states: floatTensor(gaussian(2, 2 * 77 * 768), [2, 77, 768]),
  };
  await s.run(feeds); // warm-up
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < steps; i++) {
      const t = performance.now();
      await s.run(feeds);
      times.push((performance.now() - t) / 1000);
    }
  }
  const per = median(times);
  console.log(
    `\nSD-1.5-proportioned UNet (${s.provider}): width x${fraction} = channels ${opts.channels.join('/')}, ${(params / 1e6).toFixed(1)}M parameters (${((params * 4) / 1e6).toFixed(0)} MB fp32)`,
  );
  console.log(
    `  latent ${latent}x${latent} (${latent * 8}x${latent * 8} image), batch 2 (guidance), ${runs} x ${steps} steps after a warm-up`,
  );
  console.log(`  build + encode ${buildS.toFixed(1)} s, session ${sessS.toFixed(1)} s`);
  console.log(`  per step       median ${ms(per)}, min ${ms(Math.min(...times))}, max ${ms(Math.max(...times))}`);
  console.log(`  ${steps} steps      ${(per * steps).toFixed(2)} s (UNet only)`);
  await s.release();
}
