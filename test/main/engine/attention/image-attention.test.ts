/**
 * Capture during generation and through the noising path, on the demo set: what a plain
 * generation produces is untouched, the captured maps are probabilities summed over the steps,
 * the batching variants of the exports agree, and bad input fails with a clear error.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAttentionCapture, releaseAttentionCapture } from '../../../../src/main/engine/attention/capture-session.js';
import { AttentionCaptureError } from '../../../../src/main/engine/attention/find-cross-attention.js';
import {
  attentionForImage,
  generateWithAttention,
  NOISING_TIMESTEPS,
  segmentGeneration,
  segmentImage,
  segmentInversionAnswer,
  workingSize,
} from '../../../../src/main/engine/attention/image-attention.js';
import type { CapturedAttention } from '../../../../src/main/engine/attention/maps.js';
import { loadModelSet, type ModelSet } from '../../../../src/main/engine/diffusion/load-model-set.js';
import { generate, planFor, type GenerateRequest } from '../../../../src/main/engine/diffusion/pipeline.js';
import { CancelledError, EngineError } from '../../../../src/main/engine/errors.js';
import { writeDemoModelSet } from '../../../../src/main/engine/models/demo/index.js';
import { writeModel } from '../../../../src/main/engine/onnx/model-io.js';
import { testCacheDir } from '../models/demo/demo-cache.js';
import { tinyAttentionUnet } from './tiny-attention-unet.js';

let ms: ModelSet;
let tmp: string;
beforeAll(async () => {
  ms = await loadModelSet('demo', { cacheDir: testCacheDir(), provider: 'cpu' });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'is-attention-'));
}, 120_000);
afterAll(async () => {
  if (ms) await releaseAttentionCapture(ms);
  await ms?.release();
  await rm(tmp, { recursive: true, force: true });
});

const req: GenerateRequest = {
  prompt: 'a red fox in a snowy forest',
  seed: 4,
  steps: 4,
  scheduler: 'ddim',
  guidance: 7.5,
  width: 64,
  height: 64,
};

/** Per layer and pixel, the sum over the 77 positions (= evaluations summed, as each row is a distribution). */
function rowSums(c: CapturedAttention): number[] {
  const out: number[] = [];
  for (const l of c.layers)
    for (let p = 0; p < l.height * l.width; p++) {
      let s = 0;
      for (let t = 0; t < l.positions; t++) s += l.data[p * l.positions + t]!;
      out.push(s);
    }
  return out;
}

describe('generateWithAttention', () => {
  it('produces the plain generation bit for bit, and leaves plain generation as it was', async () => {
    const before = await generate(ms, req);
    const { result, attention } = await generateWithAttention(ms, req);
    const after = await generate(ms, req);
    expect(result.png.equals(before.png)).toBe(true);
    expect(after.png.equals(before.png)).toBe(true);
    expect(attention.timesteps).toEqual(planFor(ms, 'ddim', 4).timesteps);
    expect(attention.layers.map((l) => [l.height, l.factor])).toEqual([
      [8, 1],
      [4, 2],
      [2, 4],
      [4, 2],
      [4, 2],
      [8, 1],
      [8, 1],
    ]);
    for (const s of rowSums(attention)) expect(Math.abs(s - 4)).toBeLessThan(1e-4);
  });

  it('captures the same maps whether the export batches guidance or runs uncond and cond apart', async () => {
    const a = await generateWithAttention(ms, req);
    const split: ModelSet = { ...ms, io: { ...ms.io, unetFixedBatch: 1 } };
    const b = await generateWithAttention(split, req);
    expect(b.result.png.equals((await generate(split, req)).png)).toBe(true);
    let diff = 0;
    a.attention.layers.forEach((l, i) => l.data.forEach((v, j) => (diff = Math.max(diff, Math.abs(v - b.attention.layers[i]!.data[j]!)))));
    expect(diff).toBeLessThan(1e-4);
    await releaseAttentionCapture(split);
  });

  it('works without guidance (batch of 1) and can sum a subset of the steps', async () => {
    const { attention } = await generateWithAttention(ms, { ...req, guidance: 1 }, { stepFilter: (i) => i >= 2 });
    expect(attention.timesteps).toEqual(planFor(ms, 'ddim', 4).timesteps.slice(2));
    for (const s of rowSums(attention)) expect(Math.abs(s - 2)).toBeLessThan(1e-4);
  });

  it('segments the generation at its size by the prompt words', async () => {
    const { segmentation: s, result } = await segmentGeneration(ms, req, { threshold: 0.5 });
    expect(s.source).toBe('generation');
    expect(s.words.map((w) => w.word)).toEqual(['red', 'fox', 'snowy', 'forest']);
    expect([s.width, s.height]).toEqual([64, 64]);
    expect(s.layers.length).toBe(6); // the mid block is left out
    for (const w of s.words) {
      expect(w.heat.length).toBe(64 * 64);
      expect(Math.max(...w.heat)).toBeLessThanOrEqual(1);
      expect(Math.max(...w.heat)).toBeGreaterThan(0.9);
      expect(w.mask.every((m, i) => m === (w.heat[i]! >= 0.5 ? 1 : 0))).toBe(true);
    }
    expect(Math.max(...s.labels)).toBeLessThanOrEqual(4);
    expect(result.width).toBe(64);
  });
});

describe('attentionForImage (noising path)', () => {
  it('noises the image to each timestep once, seeded: same seed, same maps', async () => {
    const img = await generate(ms, req);
    const image = { data: img.image, width: 64, height: 64 };
    const a = await attentionForImage(ms, image, req.prompt!);
    const b = await attentionForImage(ms, image, req.prompt!);
    expect(a.timesteps).toEqual([...NOISING_TIMESTEPS]);
    for (const s of rowSums(a)) expect(Math.abs(s - NOISING_TIMESTEPS.length)).toBeLessThan(1e-4);
    expect(a.layers[0]!.data).toEqual(b.layers[0]!.data);
    const c = await attentionForImage(ms, image, req.prompt!, { seed: 1, timesteps: [300], repeats: 2 });
    expect(c.timesteps).toEqual([300, 300]);
    const s = await segmentImage(ms, image, req.prompt!, { words: ['fox'], width: 100, height: 80 });
    expect([s.source, s.width, s.height, s.words.length, s.words[0]!.heat.length]).toEqual(['noising', 100, 80, 1, 8000]);
    const inv = await segmentInversionAnswer(ms, image, { prompt: 'a fox' });
    expect(inv.words.map((w) => w.word)).toEqual(['fox']);
  });

  it('refuses bad input before running the UNet', async () => {
    const image = { data: new Float32Array(3 * 64 * 64), width: 64, height: 64 };
    await expect(segmentImage(ms, image, 'a red fox', { words: ['dog'] })).rejects.toThrow(
      /"dog" is not a word of the prompt; its words are: a, red, fox/,
    );
    await expect(segmentImage(ms, image, '')).rejects.toThrow(/the prompt is empty/);
    await expect(segmentImage(ms, { data: new Float32Array(3 * 40 * 40), width: 40, height: 40 }, 'a fox')).rejects.toThrow(
      /not a multiple of 32/,
    );
    await expect(attentionForImage(ms, image, 'a fox', { timesteps: [1000] })).rejects.toThrow(/outside the schedule's 0..999/);
    await expect(segmentImage(ms, image, 'a fox', { threshold: 1.5 })).rejects.toThrow(/threshold must be a number from 0 to 1/);
    const ac = new AbortController();
    ac.abort();
    await expect(attentionForImage(ms, image, 'a fox', { signal: ac.signal })).rejects.toBeInstanceOf(CancelledError);
  });

  it('needs a VAE encoder', async () => {
    const noEncoder = await loadModelSet('demo', { cacheDir: testCacheDir(), provider: 'cpu', skipVaeEncoder: true });
    try {
      const image = { data: new Float32Array(3 * 64 * 64), width: 64, height: 64 };
      const e = await attentionForImage(noEncoder, image, 'a fox').catch((x: unknown) => x);
      expect((e as EngineError).code).toBe('NOT_INSTALLED');
    } finally {
      await releaseAttentionCapture(noEncoder);
      await noEncoder.release();
    }
  });

  it('picks a working size with the image aspect near the model area', () => {
    expect(workingSize(ms, 256, 256)).toEqual({ width: 256, height: 256 });
    expect(workingSize(ms, 1000, 500)).toEqual({ width: 352, height: 192 });
    expect(workingSize(ms, 10, 10)).toEqual({ width: 256, height: 256 });
  });
});

describe('export variants', () => {
  it.each([
    ['fp16 I/O and a float16 timestep', { precision: 'float16', timestepDtype: 'float16' }, 'euler', 7.5],
    ["LCM's timestep_cond (no guidance batch)", { timestepCondDim: 32 }, 'turbo', 8],
  ] as const)('%s: the captured generation is the plain one, maps sum to the steps', async (_label, variant, scheduler, guidance) => {
    const dir = path.join(tmp, `variant-${Object.keys(variant).join('-')}`);
    await writeDemoModelSet(dir, { ...variant, vaeEncoder: false });
    const set = await loadModelSet(dir, { provider: 'cpu' });
    try {
      const r = { ...req, scheduler, guidance } as GenerateRequest;
      const plain = await generate(set, r);
      const { result, attention } = await generateWithAttention(set, r);
      expect(result.png.equals(plain.png)).toBe(true);
      for (const s of rowSums(attention)) expect(Math.abs(s - 4)).toBeLessThan(2e-3);
    } finally {
      await releaseAttentionCapture(set);
      await set.release();
    }
  });
});

describe('openAttentionCapture on UNets without capturable cross-attention', () => {
  it.each([
    ['none', 'INVALID_MODEL', /no cross-attention found/],
    ['fused', 'UNSUPPORTED_OP', /MultiHeadAttention.*hide the attention probabilities/],
  ] as const)('%s -> %s', async (variant, code, message) => {
    const dir = path.join(tmp, variant);
    await writeModel(tinyAttentionUnet({ variant }), path.join(dir, 'unet', 'model.onnx'));
    const fake = { ...ms, dir, name: variant } as ModelSet;
    const e = await openAttentionCapture(fake).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AttentionCaptureError);
    expect((e as AttentionCaptureError).code).toBe(code);
    expect((e as Error).message).toMatch(message);
    await expect(segmentGeneration(fake, req)).rejects.toBeInstanceOf(AttentionCaptureError);
  });
});
