/**
 * `npx tsx scripts/train-shapes-e2t.ts [options]`: train the shapes world's E2T pair (inverter +
 * corrector) for the shapes set's text encoder with the project's trainer, write it to
 * models/shapes/e2t/, and measure the round trip from c = T(P*) on held-out prompts for the
 * pair and for the search (docs/e2t.md, "Shapes world pair").
 *
 * Resumable: run the same command again after an interruption (checkpoints in --work).
 *
 * Options:
 *   --set DIR        the shapes model set (default: the committed models/shapes, installed into the cache)
 *   --out DIR        the pair's folder (default <repo>/models/shapes/e2t)
 *   --work DIR       checkpoints (default .scratch/train-shapes-e2t)
 *   --quick          a tenth of the steps (a smoke run; writes to <work>/out unless --out is given)
 *   --threads N      onnxruntime intra-op threads (default 2)
 *   --eval N         held-out prompts for the pair's round trip (default 200; 0 skips)
 *   --search N       held-out prompts for the search's round trip (default 50; 0 skips)
 *   --eval-only      skip training (measure an existing --out)
 *   --json FILE      write the measurements
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadModelSet } from '../src/main/engine/diffusion/load-model-set.js';
import { textEncoderOfModelSet } from '../src/main/engine/e2t/choose-decoder.js';
import { HotFlipDecoder } from '../src/main/engine/e2t/hotflip-decoder.js';
import { measureRoundTrip, shapesCorpus, SHAPES_PAIR_CONFIG, type RoundTripReport } from '../src/main/engine/e2t/shapes-pair.js';
import { createTextEncoderOracle } from '../src/main/engine/e2t/text-encoder-oracle.js';
import { trainPair, type PairTrainConfig } from '../src/main/engine/e2t/train-pair.js';
import { loadVec2Text, type Vec2TextResult } from '../src/main/engine/e2t/vec2text.js';
import { ensureShapesModelSet } from '../src/main/engine/models/shapes/index.js';
import { createShapesLm, trainShapesLm } from '../src/main/engine/models/shapes/lm/index.js';
import { heldOutPrompts, WORLD_VOCABULARY } from '../src/main/engine/models/shapes/world/index.js';
import { RandomStream } from '../src/main/engine/training/index.js';
import { readModel } from '../src/main/engine/onnx/model-io.js';

const { values: a } = parseArgs({
  options: {
    set: { type: 'string' },
    out: { type: 'string' },
    work: { type: 'string', default: '.scratch/train-shapes-e2t' },
    quick: { type: 'boolean', default: false },
    threads: { type: 'string', default: '2' },
    eval: { type: 'string', default: '200' },
    search: { type: 'string', default: '50' },
    'eval-only': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const threads = Number(a.threads);
const work = path.resolve(a.work!);
const out = path.resolve(a.out ?? (a.quick ? path.join(work, 'out') : path.join(repo, 'models', 'shapes', 'e2t')));
const setDir = a.set ? path.resolve(a.set) : await ensureShapesModelSet();
const ms = await loadModelSet(setDir, { skipVaeEncoder: true, threads });
const base = SHAPES_PAIR_CONFIG;
// The pair reads the set's own width (128 for the committed set; the toy sets are narrower).
const embedder = { ...base.embedder, dim: ms.io.hiddenSize };
const config: PairTrainConfig = a.quick
  ? {
      ...base,
      embedder,
      inverter: { ...base.inverter, steps: Math.round(base.inverter.steps / 10) },
      corrector: { ...base.corrector!, steps: Math.round(base.corrector!.steps / 10) },
    }
  : { ...base, embedder };
const encoder = textEncoderOfModelSet(ms, 32);
const ac = new AbortController();
process.on('SIGINT', () => ac.abort());

if (!a['eval-only']) {
  const t0 = Date.now();
  const r = await trainPair({
    config,
    corpus: shapesCorpus(),
    encoder,
    workDir: path.join(work, a.quick ? 'quick' : 'full'),
    outDir: out,
    threads,
    signal: ac.signal,
    source: { modelSet: path.basename(setDir), script: 'scripts/train-shapes-e2t.ts' },
    onProgress: (e) =>
      process.stderr.write(
        `${e.name} ${e.step}/${e.total} loss ${e.meanLoss.toFixed(4)} lr ${e.lr.toExponential(2)} ${(e.secondsPerStep * 1000).toFixed(0)} ms/step ETA ${Math.round(e.etaSeconds)} s\n`,
      ),
  });
  console.log(
    `trained in ${((Date.now() - t0) / 1000).toFixed(0)} s (this run); inverter loss ${r.logs.inverter.at(-1)?.loss.toFixed(4)}, corrector ${r.logs.corrector?.at(-1)?.loss.toFixed(4)}`,
  );
}

const report: Record<string, unknown> = { config, set: setDir, out };
const fmt = (r: RoundTripReport) =>
  `${r.exact}/${r.rows.length} exact (${((100 * r.exact) / r.rows.length).toFixed(1)}%), slot accuracy ${(r.slots.correct / r.slots.total).toFixed(3)}, ${(r.seconds / r.rows.length).toFixed(2)} s/prompt`;

const nEval = Number(a.eval);
if (nEval > 0) {
  const prompts = heldOutPrompts(nEval, 7);
  const decoder = await loadVec2Text(out, { embedder: encoder, threads });
  const firstHypotheses: string[] = [];
  const recording = {
    name: 'vec2text',
    decode: async (...args: Parameters<typeof decoder.decode>) => {
      const r = (await decoder.decode(...args)) as Vec2TextResult;
      firstHypotheses.push(r.trace[0]!.candidates[0]!.text);
      return r;
    },
  };
  const pair = await measureRoundTrip(recording, encoder, prompts, () => ({ init: '', maxRounds: 20, beam: 4 }));
  const inverterExact = firstHypotheses.filter((t, i) => t === prompts[i]).length;
  console.log(`pair (20 steps, beam 4): ${fmt(pair)}; the inverter's first hypothesis alone: ${inverterExact}/${prompts.length} exact`);
  report.pair = { ...pair, inverterExact };
  await decoder.release();
}

const nSearch = Number(a.search);
if (nSearch > 0) {
  const prompts = heldOutPrompts(nEval > 0 ? nEval : nSearch, 7).slice(0, nSearch);
  const oracle = await createTextEncoderOracle(await readModel(path.join(setDir, 'text_encoder', 'model.onnx')), ms.tokenizer);
  const lm = createShapesLm(trainShapesLm());
  const search = new HotFlipDecoder(oracle, { dictionary: WORLD_VOCABULARY, lm });
  const corpus = shapesCorpus();
  const starts = prompts.map((_, i) => corpus.sample(new RandomStream(100 + i, 'search-start')));
  const r = await measureRoundTrip(search, encoder, prompts, (_, i) => ({ init: starts[i]!, match: 'prompt', fluencyWeight: 0.01 }));
  console.log(`search (HotFlip, world dictionary, shapes LM, fluency 0.01, start = a random training caption): ${fmt(r)}`);
  report.search = r;
  await oracle.release();
}

if (a.json) await writeFile(a.json, JSON.stringify(report, null, 2) + '\n');
await ms.release();
