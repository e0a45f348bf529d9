/**
 * The whole training pipeline on the tiny configuration (toy networks, a few steps per phase):
 * every phase runs on the project's own gradient engine, the set is written in the diffusers
 * layout the ordinary loader reads, it installs into a cache as `--models shapes` does, and a
 * second run resumes (loads every finished phase instead of training again).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelSet } from '../../../../../src/main/engine/diffusion/load-model-set.js';
import { generate } from '../../../../../src/main/engine/diffusion/pipeline.js';
import { validateModelFolder } from '../../../../../src/main/engine/models/model-folder.js';
import { ensureShapesModelSet } from '../../../../../src/main/engine/models/shapes/install.js';
import { readShapesStamp } from '../../../../../src/main/engine/models/shapes/stamp.js';
import { TINY_TRAIN_CONFIG } from '../../../../../src/main/engine/models/shapes/recipes/config.js';
import { trainShapesSet, type TrainShapesResult } from '../../../../../src/main/engine/models/shapes/train-set.js';

let root: string;
let out: string;
let first: TrainShapesResult;
const messages: string[] = [];

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'shapes-train-test-'));
  out = path.join(root, 'set');
  first = await trainShapesSet({ config: TINY_TRAIN_CONFIG, workDir: path.join(root, 'work'), outDir: out, threads: 1 });
}, 300_000);
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('trainShapesSet (tiny configuration)', () => {
  it('trains every phase and writes a complete diffusers folder with the extra components', async () => {
    expect(first.phases.map((p) => p.name)).toEqual(['clip', 'vae', 'captioner', 'unet']);
    for (const p of first.phases) expect(p.steps).toBeGreaterThan(0);
    const report = await validateModelFolder(out);
    expect(report.missing).toEqual([]);
    expect(report.extra).toEqual([]);
    expect(report.hasVaeEncoder).toBe(true);
    for (const f of ['clip/image_encoder.onnx', 'clip/text_encoder.onnx', 'clip/config.json', 'captioner/model.onnx', 'captioner/config.json', 'vae_decoder/config.json'])
      expect(existsSync(path.join(out, f)), f).toBe(true);
    const stamp = await readShapesStamp(out);
    expect(stamp?.defaults.width).toBe(64);
    expect(stamp?.sizeMultiple).toBe(32);
    const sf = JSON.parse(await readFile(path.join(out, 'vae_decoder', 'config.json'), 'utf8')) as { scaling_factor: number };
    expect(sf.scaling_factor).toBeGreaterThan(0);
  });

  it('loads with the ordinary loader and generates at 64x64 with the stamp defaults', async () => {
    const ms = await loadModelSet(out, { threads: 1 });
    try {
      expect(ms.defaults.width).toBe(64);
      expect(ms.io.hiddenSize).toBe(TINY_TRAIN_CONFIG.arch.text.hidden);
      expect(ms.io.vaeScalingFactor).toBe(first.scalingFactor);
      const r = await generate(ms, { prompt: 'a large red circle on the left on a gray background', seed: 1, steps: 2, guidance: 3, scheduler: 'ddim', width: 64, height: 64 }, { png: false });
      expect(r.image.length).toBe(3 * 64 * 64);
    } finally {
      await ms.release();
    }
  });

  it('writes CLIP towers and a captioner that run with their documented I/O', async () => {
    const img = await ort.InferenceSession.create(path.join(out, 'clip', 'image_encoder.onnx'));
    const e = await img.run({ pixel_values: new ort.Tensor('float32', new Float32Array(2 * 3 * 64 * 64), [2, 3, 64, 64]) });
    expect(e['image_embeds']!.dims).toEqual([2, TINY_TRAIN_CONFIG.arch.clipDim]);
    const txt = await ort.InferenceSession.create(path.join(out, 'clip', 'text_encoder.onnx'));
    const ids = new Int32Array(77).fill(611);
    ids[0] = 610;
    const t = await txt.run({ input_ids: new ort.Tensor('int32', ids, [1, 77]) });
    expect(t['text_embeds']!.dims).toEqual([1, TINY_TRAIN_CONFIG.arch.clipDim]);
    const cap = await ort.InferenceSession.create(path.join(out, 'captioner', 'model.onnx'));
    const c = await cap.run({ pixel_values: new ort.Tensor('float32', new Float32Array(3 * 64 * 64), [1, 3, 64, 64]) });
    expect(c['logits']!.dims).toEqual([1, 39]);
  });

  it('resumes: a second run loads the finished phases instead of training', async () => {
    messages.length = 0;
    const again = await trainShapesSet({ config: TINY_TRAIN_CONFIG, workDir: path.join(root, 'work'), outDir: path.join(root, 'set2'), threads: 1, onProgress: (e) => messages.push(`${e.name}: ${e.message}`) });
    for (const name of ['clip', 'vae', 'captioner', 'unet']) expect(messages.some((m) => m.startsWith(`${name}: already trained`)), name).toBe(true);
    expect(again.phases.map((p) => p.finalLoss)).toEqual(first.phases.map((p) => p.finalLoss));
  });

  it('installs into a cache once, and again when the files change', async () => {
    const cache = path.join(root, 'cache');
    const dir = await ensureShapesModelSet(cache, { source: out });
    expect(existsSync(path.join(dir, 'unet', 'model.onnx'))).toBe(true);
    expect(existsSync(path.join(cache, 'registry', 'shapes.json'))).toBe(true);
    expect((await validateModelFolder(dir)).extra).toEqual([]);
    const stampBefore = await readFile(path.join(dir, 'model_index.json'), 'utf8');
    // unchanged source: nothing is copied (a file written into the installed copy survives)
    await writeFile(path.join(dir, 'scheduler', 'probe.txt'), 'x');
    await ensureShapesModelSet(cache, { source: out });
    expect(existsSync(path.join(dir, 'scheduler', 'probe.txt'))).toBe(true);
    // a new component in the committed folder (e.g. lm/): reinstalled
    await writeFile(path.join(out, 'lm.txt'), 'new');
    const src2 = out;
    await ensureShapesModelSet(cache, { source: src2 });
    expect(existsSync(path.join(dir, 'lm.txt'))).toBe(true);
    expect(existsSync(path.join(dir, 'scheduler', 'probe.txt'))).toBe(false);
    expect(await readFile(path.join(dir, 'model_index.json'), 'utf8')).toBe(stampBefore);
  });
});
