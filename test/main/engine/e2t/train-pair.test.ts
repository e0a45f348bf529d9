import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainPair, type PairCorpus, type PairTrainConfig, type TrainPairResult } from '../../../../src/main/engine/e2t/train-pair.js';
import { loadVec2Text } from '../../../../src/main/engine/e2t/vec2text.js';
import { bagOfWordsEncoder } from './fake-encoders.js';
import { tempDir } from './tiny-vec2text.js';

// A closed grammar of 48 captions; every 8th is held out of training.
const COLOURS = ['red', 'blue', 'green', 'yellow'];
const ANIMALS = ['cat', 'dog', 'fox', 'owl'];
const PLACES = ['sofa', 'grass', 'roof'];
const ALL = COLOURS.flatMap((c) => ANIMALS.flatMap((a) => PLACES.map((p) => `a ${c} ${a} on the ${p}`)));
const HELD_OUT = ALL.filter((_, i) => i % 8 === 3);
const TRAIN = ALL.filter((t) => !HELD_OUT.includes(t));
const SLOTS: Record<number, string[]> = { 1: COLOURS, 2: ANIMALS, 5: PLACES };

const corpus: PairCorpus = {
  words: ['a', 'on', 'the', ...COLOURS, ...ANIMALS, ...PLACES],
  sample: (rng) => TRAIN[rng.int(TRAIN.length)]!,
  corrupt: (text, rng) => {
    const w = text.split(' ');
    const slot = [1, 2, 5][rng.int(3)]!;
    w[slot] = SLOTS[slot]![rng.int(SLOTS[slot]!.length)]!;
    return w.join(' ');
  },
};

const config: PairTrainConfig = {
  architecture: {
    dModel: 32,
    numHeads: 4,
    dKv: 8,
    dFf: 64,
    numLayers: 2,
    numDecoderLayers: 2,
    numRepeatTokens: 4,
    numBuckets: 8,
    maxDistance: 16,
    tieWordEmbeddings: false,
  },
  embedder: { dim: 16, read: 'eos' },
  maxLength: 9,
  batch: 16,
  inverter: { steps: 300, lr: 3e-3, warmup: 20 },
  corrector: { steps: 150, lr: 2e-3, warmup: 20 },
  hypothesisMix: { inverter: 0.4, corrupted: 0.4, truth: 0.2 },
  clipNorm: 1,
  weightDecay: 0.01,
  seed: 3,
  precision: 'float16',
};

const encoder = bagOfWordsEncoder(16, 12);
const dirs: string[] = [];
let work: string;
let out: string;
let result: TrainPairResult;

beforeAll(async () => {
  work = await tempDir('pair-work-');
  out = path.join(await tempDir('pair-out-'), 'e2t');
  dirs.push(work, path.dirname(out));
  result = await trainPair({ config, corpus, encoder, workDir: work, outDir: out, threads: 1 });
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('training a pair for a text encoder', () => {
  it('the corrector recovers held-out captions the inverter alone misses', async () => {
    expect(result.logs.inverter.at(-1)!.loss).toBeLessThan(0.1);
    expect(result.logs.corrector!.at(-1)!.loss).toBeLessThan(0.2);
    const d = await loadVec2Text(out, { embedder: encoder });
    let inverterExact = 0;
    let pairExact = 0;
    try {
      for (const t of HELD_OUT) {
        const [e] = await encoder.encode([t]);
        const r = await d.invert({ data: e!.embedding, tokens: 12, dim: 16, length: e!.length }, { steps: 5, beam: 3 });
        if (r.trace[0]!.candidates[0]!.text === t) inverterExact++;
        if (r.text === t) pairExact++;
      }
    } finally {
      await d.release();
    }
    console.log(
      `[e2t] tiny grammar, ${HELD_OUT.length} held-out captions: inverter ${inverterExact} exact, inverter + corrector ${pairExact} exact`,
    );
    expect(pairExact).toBeGreaterThanOrEqual(inverterExact);
    expect(pairExact).toBeGreaterThanOrEqual(HELD_OUT.length - 1);
  });

  it('records the training in config.json and resumes a finished run from its checkpoints', async () => {
    const cfg = JSON.parse(await readFile(path.join(out, 'config.json'), 'utf8')) as {
      source: { training: { inverter: { steps: number } } };
    };
    expect(cfg.source.training.inverter.steps).toBe(300);
    const again = await trainPair({ config, corpus, encoder, workDir: work, outDir: out, threads: 1 });
    expect(again.logs.inverter.at(-1)).toEqual(result.logs.inverter.at(-1));
    expect(again.logs.corrector!.at(-1)).toEqual(result.logs.corrector!.at(-1));
    await expect(trainPair({ config: { ...config, seed: 4 }, corpus, encoder, workDir: work, outDir: out, threads: 1 })).rejects.toThrow(
      /another configuration/,
    );
  });
});
