import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clipFitness,
  EvolutionSession,
  loadTarget,
  modelSetBackend,
  type EvolutionBackend,
  type FitnessFactory,
} from '../../../../../src/main/engine/concepts/evolution/index.js';
import { embeddingFromBytes } from '../../../../../src/main/engine/concepts/evolution/store.js';
import { loadModelSet, type ModelSet } from '../../../../../src/main/engine/diffusion/load-model-set.js';
import { generate } from '../../../../../src/main/engine/diffusion/pipeline.js';
import { presetSettings } from '../../../../../src/main/engine/inversion/presets.js';
import type { ImageScorer } from '../../../../../src/main/engine/inversion/invert.js';
import { testCacheDir } from '../../models/demo/demo-cache.js';

let ms: ModelSet;
let backend: EvolutionBackend;
let tmp: string;
let n = 0;
const fresh = () => path.join(tmp, `s${n++}`);
const render = { width: 64, height: 64, steps: 3 };

beforeAll(async () => {
  ms = await loadModelSet('demo', { cacheDir: testCacheDir(), provider: 'cpu' });
  backend = modelSetBackend(ms, {
    invertSettings: presetSettings('fast', {
      iterations: 2,
      snapshotEvery: 1,
      previewEvery: 0,
      rankAlternatives: 0,
      e2tRounds: 2,
      steps: 2,
      rankSteps: 2,
    }),
  });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'is-evolution-demo-'));
}, 120_000);
afterAll(async () => {
  await backend?.release();
  await ms?.release();
  await rm(tmp, { recursive: true, force: true });
});

const init = [
  { kind: 'prompt' as const, text: 'a red fox in the snow' },
  { kind: 'prompt' as const, text: 'a blue boat on a lake' },
];

describe('evolution on a model set (demo)', () => {
  it('embedding crossover and Gaussian mutation: children rendered from stored embeddings, decoded to text', async () => {
    const dir = fresh();
    const s = await EvolutionSession.create(dir, backend, {
      init,
      settings: {
        seed: 1,
        population: 4,
        elite: 1,
        render,
        operators: { promptCrossover: 0, wordMutation: 0, embeddingCrossover: 1, gaussianMutation: 1 },
      },
    });
    const g0 = s.head().individuals;
    const g1 = await s.breed([g0[0]!.id, g0[1]!.id]);
    const kids = g1.individuals.filter((i) => i.generation === 'g1');
    expect(kids).toHaveLength(3);
    for (const k of kids) {
      expect(['embedding-crossover', 'gaussian-mutation']).toContain(k.operator);
      expect(k.conditioning).toBe('embedding');
      expect(k.prompt.trim().length).toBeGreaterThan(0);
      expect(k.decodedDistance).toBeGreaterThanOrEqual(0);
      const bytes = await readFile(path.join(dir, k.embedding!.file));
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(k.embedding!.sha256);
      const e = embeddingFromBytes(bytes);
      expect(e).toHaveLength(77 * ms.io.hiddenSize);
      // The image is the embedding's rendering, not the decoded text's.
      const fromEmbedding = await generate(ms, {
        prompt: k.prompt,
        embedding: e,
        seed: k.seed,
        steps: 3,
        scheduler: ms.defaults.scheduler,
        guidance: ms.defaults.guidance,
        width: 64,
        height: 64,
      });
      expect(fromEmbedding.png.equals(await readFile(k.imagePath))).toBe(true);
    }
    const cross = kids.find((k) => k.operator === 'embedding-crossover');
    if (cross) expect(cross.detail).toMatch(/^slerp t=0\.\d{3}$/);
    // Breeding again reads the stored embeddings back (after a reopen).
    const again = await EvolutionSession.open(dir, backend);
    const g2 = await again.breed(kids.map((k) => k.id));
    expect(g2.individuals.filter((i) => i.generation === 'g2')).toHaveLength(3);
    // A damaged embedding file is caught by its checksum, not bred from.
    const file = path.join(dir, kids[0]!.embedding!.file);
    const bytes = await readFile(file);
    bytes[0] = bytes[0]! ^ 0xff;
    await writeFile(file, bytes);
    await expect(again.breed([kids[0]!.id])).rejects.toThrow(/does not match its checksum/);
  }, 180_000);

  it('a locked word lost by decoding is restored, and that child renders from its text', async () => {
    const s = await EvolutionSession.create(fresh(), backend, {
      init,
      settings: {
        seed: 2,
        population: 3,
        elite: 0,
        render,
        sigma: 3,
        operators: { promptCrossover: 0, wordMutation: 0, embeddingCrossover: 0, gaussianMutation: 1 },
      },
    });
    const a = s.head().individuals[0]!;
    await s.lock(a.id, ['fox']);
    const g1 = await s.breed([a.id]);
    for (const k of g1.individuals) {
      expect(k.prompt).toMatch(/\bfox\b/);
      if (k.conditioning === 'text') expect(k.detail).toMatch(/locked words restored/);
    }
  }, 180_000);

  it('re-inverts a chosen image into the head generation', async () => {
    const s = await EvolutionSession.create(fresh(), backend, { init, settings: { seed: 3, population: 3, render } });
    const src = s.head().individuals[1]!;
    const r = await s.reinvert(src.id);
    expect(r).toMatchObject({ id: 'g0-r1', operator: 'reinvert', parents: [src.id], seed: src.seed, conditioning: 'text' });
    expect(s.head().generation.members).toContain('g0-r1');
  }, 180_000);

  it('scores by similarity to a target image through a CLIP-style scorer', async () => {
    const target = await generate(ms, {
      prompt: 'a red fox in the snow',
      seed: 7,
      steps: 3,
      scheduler: 'ddim',
      guidance: 7.5,
      width: 64,
      height: 64,
    });
    // A stand-in for CLIP: negative pixel MSE (the interface is the same ImageScorer).
    const scorer: ImageScorer = {
      name: 'clip',
      score: async (a, b) => -a.data.reduce((s, v, i) => s + (v - b.data[i]!) ** 2, 0) / a.data.length,
    };
    const factory: FitnessFactory = async (spec, dir) => {
      if (spec.kind !== 'clip') throw new Error('expected a clip fitness');
      return clipFitness(await loadTarget(dir, spec.image, 64, 64), scorer);
    };
    const dir = fresh();
    const s = await EvolutionSession.create(
      dir,
      backend,
      {
        init,
        settings: { seed: 4, population: 4, render },
        fitness: { kind: 'clip', image: { data: target.image, width: 64, height: 64 }, png: target.png },
      },
      { fitnessFactory: factory },
    );
    expect(s.file.fitness).toEqual({ kind: 'clip', image: 'targets/fitness.png' });
    expect((await readFile(path.join(dir, 'targets/fitness.png'))).equals(target.png)).toBe(true);
    const scores = s.head().individuals.map((i) => i.fitness!);
    expect(scores.every((x) => x <= 0)).toBe(true);
    const g1 = await s.breed();
    expect(g1.best!).toBeGreaterThanOrEqual(Math.max(...scores));
  }, 180_000);
});
