/**
 * The baselines end to end on generated models: PH2P on the demo set (noise-prediction loss
 * through the demo text encoder), PEZ on a world-CLIP fixture (random tiny towers), the caption
 * baseline with a fake captioner, and the dispatch's messages for missing models.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelSet, type ModelSet } from '../../../../../src/main/engine/diffusion/load-model-set.js';
import { inversionModelsFromSet } from '../../../../../src/main/engine/inversion/from-model-set.js';
import type { InversionModels } from '../../../../../src/main/engine/inversion/inversion-models.js';
import type { TargetImage } from '../../../../../src/main/engine/inversion/invert.js';
import { invertWith, methodUnavailable, truncateToTokens } from '../../../../../src/main/engine/inversion/methods/index.js';
import { loadShapesClipTowers, resizeChw, type ClipTowers } from '../../../../../src/main/engine/inversion/methods/clip-towers.js';
import { createPezTower, cosineLoss } from '../../../../../src/main/engine/inversion/methods/pez.js';
import { createPh2pTower } from '../../../../../src/main/engine/inversion/methods/ph2p.js';
import { normaliseRows, projectToVocabulary } from '../../../../../src/main/engine/inversion/methods/projection.js';
import { testCacheDir } from '../../models/demo/demo-cache.js';
import { writeClipFixture } from './clip-fixture.js';

let ms: ModelSet;
let m: InversionModels;
let target: TargetImage;
let root: string;
let clip: ClipTowers;

beforeAll(async () => {
  ms = await loadModelSet('demo', { cacheDir: testCacheDir(), threads: 1 });
  m = await inversionModelsFromSet(ms);
  const data = new Float32Array(3 * 64 * 64);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 0.8;
  target = { data, width: 64, height: 64 };
  root = mkdtempSync(path.join(os.tmpdir(), 'methods-test-'));
  clip = await loadShapesClipTowers(await writeClipFixture(root, path.join(ms.dir, 'tokenizer')));
}, 120_000);
afterAll(async () => {
  await clip?.release();
  await ms?.release();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('PH2P', () => {
  it('returns projected vocabulary tokens, their text and a loss per iteration (EDITOR result shape)', async () => {
    const tower = await createPh2pTower(m);
    try {
      const r = await invertWith('ph2p', { models: m, towers: { ph2p: tower } }, target, { iterations: 3, initLength: 4, seed: 1 });
      expect(r.method).toBe('ph2p');
      expect(r.objective).toBe('denoise');
      expect(r.loss).toHaveLength(3);
      expect(r.loss.every(Number.isFinite)).toBe(true);
      expect(r.iterations).toBe(3);
      expect(r.tokens).toHaveLength(4);
      // The answer is the text of the projected tokens: real vocabulary entries, no special tokens.
      expect(r.prompt).toBe(tower.decode(Int32Array.from(r.tokens!)));
      expect(r.tokens!.every((id) => id !== tower.bosId && id !== tower.eosId && id < tower.vocabSize)).toBe(true);
      expect(r.candidates[0]!.prompt).toBe(r.prompt);
      expect(new Set(r.candidates.map((c) => c.prompt)).size).toBe(r.candidates.length);
      expect(r.seconds).toBeGreaterThan(0);
      // Tokens are their own nearest neighbours: projecting their embeddings gives them back.
      const unit = normaliseRows(tower.table, tower.dim);
      const rows = new Float32Array(4 * tower.dim);
      r.tokens!.forEach((id, i) => rows.set(tower.table.subarray(id * tower.dim, (id + 1) * tower.dim), i * tower.dim));
      expect(Array.from(projectToVocabulary(rows, unit, tower.dim).ids)).toEqual(r.tokens);
    } finally {
      await tower.release();
    }
  }, 120_000);
});

describe('PEZ', () => {
  it('1 - cos and its gradient are right (hand-computed, and against finite differences)', () => {
    const v = Float32Array.of(0.6, 0.8);
    const { loss, grad } = cosineLoss(Float32Array.of(3, 0), v);
    expect(loss).toBeCloseTo(1 - 0.6, 6);
    // d cos/dt = v/|t| - (t.v) t / |t|^3 = (0.2, 0.2667) - (1.8*3/27, 0) = (0, 0.26667); grad = -that.
    expect(grad[0]).toBeCloseTo(0, 6);
    expect(grad[1]).toBeCloseTo(-0.8 / 3, 6);
    const t = Float32Array.of(0.3, -1.2, 2);
    const u = Float32Array.of(1, 2, 2).map((x) => x / 3);
    const g = cosineLoss(t, u).grad;
    for (let i = 0; i < 3; i++) {
      const p = Float32Array.from(t);
      const q = Float32Array.from(t);
      p[i] = p[i]! + 1e-3;
      q[i] = q[i]! - 1e-3;
      expect(g[i]).toBeCloseTo((cosineLoss(p, u).loss - cosineLoss(q, u).loss) / 2e-3, 3);
    }
  });

  it('optimises 16 projected tokens for the CLIP text-image cosine and answers the best one', async () => {
    const tower = await createPezTower(clip);
    try {
      const r = await invertWith('pez', { clip, towers: { pez: tower } }, target, { iterations: 6, seed: 2, pez: { lr: 0.5 } });
      expect(r.method).toBe('pez');
      expect(r.objective).toBe('clip-text');
      expect(r.tokens).toHaveLength(16);
      expect(r.loss).toHaveLength(6);
      // The answer is the best projected prompt: its loss is the smallest measured.
      expect(r.candidates[0]!.loss).toBe(Math.min(...r.loss));
      expect(r.prompt).toBe(tower.decode(Int32Array.from(r.tokens!)));
      // Its loss is 1 - cos(text tower(answer tokens), image embedding), recomputed here.
      const t = await tower.forward(tower.template(r.tokens!));
      const v = await clip.embedImage(target);
      expect(cosineLoss(t, v).loss).toBeCloseTo(r.candidates[0]!.loss, 5);
    } finally {
      await tower.release();
    }
  }, 120_000);

  it('embeds images of any size through the 64x64 tower (area resize)', async () => {
    const small = resizeChw(target, 32, 32);
    expect(small.data.length).toBe(3 * 32 * 32);
    // Area resampling by 2: each output pixel is the mean of a 2x2 block.
    const d = target.data;
    expect(small.data[0]).toBeCloseTo((d[0]! + d[1]! + d[64]! + d[65]!) / 4, 6);
    const e = await clip.embedImage(small);
    expect(Math.hypot(...e)).toBeCloseTo(1, 5);
  });
});

describe('caption baseline and dispatch', () => {
  it('answers the caption as is', async () => {
    const captioner = { name: 'fake', caption: async () => 'a red circle on the left' };
    const r = await invertWith('caption', { captioner }, target);
    expect(r).toMatchObject({
      method: 'caption',
      prompt: 'a red circle on the left',
      initialPrompt: 'a red circle on the left',
      iterations: 0,
      loss: [],
    });
    expect(r.candidates).toHaveLength(1);
  });

  it('says what is missing for each method, and invertWith refuses with NOT_INSTALLED', async () => {
    expect(methodUnavailable('pez', { models: m })).toMatch(/CLIP.*clip-vit-l14/);
    expect(methodUnavailable('caption', { models: m })).toMatch(/captioner.*florence2-base-ft/);
    expect(methodUnavailable('editor', {})).toMatch(/model set/);
    expect(methodUnavailable('ph2p', { models: { ...m, encodeLatent: undefined } as unknown as InversionModels })).toMatch(/VAE encoder/);
    expect(methodUnavailable('ph2p', { models: m })).toBeUndefined();
    await expect(invertWith('pez', { models: m }, target)).rejects.toMatchObject({ code: 'NOT_INSTALLED' });
  });

  it('cuts a start text to N tokens with the model set tokenizer', () => {
    expect(truncateToTokens(m.tokenizer, 'a red cat on a blue sofa', 3)).toBe('a red cat');
    expect(truncateToTokens(m.tokenizer, 'a red cat', 8)).toBe('a red cat');
  });
});
