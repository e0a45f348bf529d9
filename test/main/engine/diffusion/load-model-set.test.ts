/**
 * Loader tests on fixture folders in the real diffusers ONNX layout, generated here by the demo
 * generator in the variants the public exports come in.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../../../src/main/engine/errors.js';
import { writeDemoModelSet, type DemoSetOptions } from '../../../../src/main/engine/models/demo/index.js';
import { testCacheDir } from '../models/demo/demo-cache.js';
import { loadModelSet, resolveModelSetDir, type ModelSet } from '../../../../src/main/engine/diffusion/load-model-set.js';
import { encodePrompt, generate } from '../../../../src/main/engine/diffusion/pipeline.js';

let root: string;
const dirs: Record<string, string> = {};

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'is-modelset-'));
  const variants: Record<string, DemoSetOptions> = {
    fp32int64: {},
    float32ts: { timestepDtype: 'float32', unetExternalData: 'weights.pb', textIdsDtype: 'int64' },
    fp16: { precision: 'float16', timestepDtype: 'float16' },
    lcm: { timestepCondDim: 256, vaeEncoder: false, unetExternalData: false },
    missing: { omit: ['unet/model.onnx_data', 'tokenizer/merges.txt', 'vae_decoder/model.onnx'] },
  };
  for (const [name, opts] of Object.entries(variants)) {
    dirs[name] = path.join(root, name);
    await writeDemoModelSet(dirs[name]!, opts);
  }
}, 240_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function withSet<T>(dir: string, fn: (ms: ModelSet) => Promise<T>): Promise<T> {
  const ms = await loadModelSet(dir, { provider: 'cpu' });
  try {
    return await fn(ms);
  } finally {
    await ms.release();
  }
}

const small = {
  prompt: 'a red fox in a snowy forest',
  seed: 3,
  steps: 3,
  scheduler: 'ddim',
  guidance: 7.5,
  width: 64,
  height: 64,
} as const;

describe('loadModelSet: I/O metadata of the export variants', () => {
  it('fp32 export, int64 timestep, int32 ids, UNet weights in model.onnx_data', async () => {
    await withSet(dirs.fp32int64!, async (ms) => {
      expect(ms.io).toMatchObject({
        hiddenSize: 64,
        sequenceLength: 77,
        idsType: 'int32',
        textOutputType: 'float32',
        unetType: 'float32',
        timestepType: 'int64',
        latentChannels: 4,
        vaeDecoderType: 'float32',
        vaeEncoderType: 'float32',
        vaeScalingFactor: 0.18215,
      });
      expect(ms.io.unetFixedBatch).toBeUndefined();
      expect(ms.io.timestepCondDim).toBeUndefined();
      expect(ms.vaeEncoder).toBeDefined();
      expect(ms.schedulerConfig).toMatchObject({ beta_schedule: 'scaled_linear', steps_offset: 1 });
      expect(ms.tokenizer.encode('a red fox').length).toBe(5);
      expect(ms.name).toBe('fp32int64');
      expect(ms.defaults).toMatchObject({ width: 256, height: 256, scheduler: 'ddim' });
      const r = await generate(ms, small);
      expect(r.image.length).toBe(3 * 64 * 64);
    });
  });

  it('float32 timestep, int64 ids, external data named weights.pb; extra files are reported, not fatal', async () => {
    await writeFile(path.join(dirs.float32ts!, 'notes.txt'), 'hello');
    const warnings: string[] = [];
    const set = await loadModelSet(dirs.float32ts!, { provider: 'cpu', onWarning: (w) => warnings.push(w.message) });
    await set.release();
    expect(warnings.join('\n')).toMatch(/not part of the diffusers layout, ignored: notes\.txt/);
    await withSet(dirs.float32ts!, async (ms) => {
      expect(ms.io.timestepType).toBe('float32');
      expect(ms.io.idsType).toBe('int64');
      const r = await generate(ms, small);
      expect(r.image.every(Number.isFinite)).toBe(true);
    });
  });

  it('fp16 export (float16 activations and timestep) runs with conversions and matches fp32 closely', async () => {
    const ref = await withSet(dirs.fp32int64!, (ms) => generate(ms, small));
    await withSet(dirs.fp16!, async (ms) => {
      expect(ms.io).toMatchObject({
        unetType: 'float16',
        timestepType: 'float16',
        textOutputType: 'float16',
        vaeDecoderType: 'float16',
        vaeEncoderType: 'float16',
      });
      const emb = await encodePrompt(ms, 'a red fox');
      expect(emb.length).toBe(77 * 64);
      const r = await generate(ms, small);
      let err = 0;
      for (let i = 0; i < r.image.length; i++) err += Math.abs(r.image[i]! - ref.image[i]!);
      // fp16 weights and activations: close to the fp32 model, not identical.
      expect(err / r.image.length).toBeLessThan(0.1);
    });
  });

  it('LCM-style UNet with timestep_cond: detected, fed the guidance embedding, no CFG batch', async () => {
    await withSet(dirs.lcm!, async (ms) => {
      expect(ms.io.timestepCondDim).toBe(256);
      expect(ms.vaeEncoder).toBeUndefined();
      expect(ms.defaults.scheduler).toBe('turbo');
      const a = await generate(ms, { ...small, scheduler: 'turbo', steps: 2, guidance: 8 });
      const b = await generate(ms, { ...small, scheduler: 'turbo', steps: 2, guidance: 2 });
      expect(a.image.every(Number.isFinite)).toBe(true);
      // The guidance scale reaches the UNet through timestep_cond.
      expect(Buffer.from(a.png).equals(Buffer.from(b.png))).toBe(false);
    });
  });
});

describe('loadModelSet: bad folders', () => {
  it('names every missing file', async () => {
    const e = (await loadModelSet(dirs.missing!).catch((x: unknown) => x)) as EngineError;
    expect(e).toBeInstanceOf(EngineError);
    expect(e.code).toBe('MODEL_FOLDER');
    expect(e.message).toContain('vae_decoder/model.onnx');
    expect(e.message).toContain('merges.txt');
    expect(e.message).toContain('model.onnx_data');
  });

  it('reports a folder that does not exist, a file instead of a folder, and an uninstalled name', async () => {
    await expect(loadModelSet(path.join(root, 'nope'))).rejects.toMatchObject({
      code: 'MODEL_FOLDER',
      message: expect.stringMatching(/does not exist/),
    });
    const file = path.join(root, 'file.txt');
    await writeFile(file, 'x');
    await expect(loadModelSet(file)).rejects.toMatchObject({ code: 'MODEL_FOLDER' });
    const cache = path.join(root, 'empty-cache');
    await expect(loadModelSet('sd15', { cacheDir: cache })).rejects.toMatchObject({
      code: 'NOT_INSTALLED',
      message: expect.stringMatching(/models download sd15/),
    });
  });

  it('rejects a folder whose components do not fit together', async () => {
    const mixed = path.join(root, 'mixed');
    await writeDemoModelSet(mixed, { omit: ['text_encoder/model.onnx'] });
    // A text encoder of another width (32) next to a UNet that wants 64.
    const { buildTextEncoderModel } = await import('../../../../src/main/engine/models/demo/text-encoder.js');
    const { writeModel } = await import('../../../../src/main/engine/onnx/model-io.js');
    await writeModel(
      buildTextEncoderModel({ vocabSize: 5419, hidden: 32, layers: 1, heads: 2, seed: 1 }),
      path.join(mixed, 'text_encoder', 'model.onnx'),
    );
    await expect(loadModelSet(mixed)).rejects.toMatchObject({ code: 'INVALID_MODEL', message: expect.stringMatching(/width 32.*64/) });
  });

  it("resolves 'demo' to the generated set in the cache", async () => {
    const r = await resolveModelSetDir('demo', { cacheDir: testCacheDir() });
    expect(r).toEqual({ dir: path.join(testCacheDir(), 'models', 'demo'), name: 'demo' });
  });
});
