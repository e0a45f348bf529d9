import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gaussian } from '../../../../../src/main/engine/diffusion/rng.js';
import { encodeModel, readModel } from '../../../../../src/main/engine/onnx/model-io.js';
import type { Model } from '../../../../../src/main/engine/onnx/ir.js';
import { validateModelFolder } from '../../../../../src/main/engine/models/model-folder.js';
import { readInstallRecord } from '../../../../../src/main/engine/models/cache.js';
import { DEMO_GENERATOR_VERSION, demoUnetOptions, ensureDemoModelSet, readDemoStamp } from '../../../../../src/main/engine/models/demo/index.js';
import { buildTextEncoderModel, TOKEN_EMBEDDING_NAME } from '../../../../../src/main/engine/models/demo/text-encoder.js';
import { buildUnetModel, sd15UnetOptions } from '../../../../../src/main/engine/models/demo/unet.js';
import { buildVaeDecoderModel, buildVaeEncoderModel } from '../../../../../src/main/engine/models/demo/vae.js';
import { testDemoModelSet } from './demo-cache.js';

let demoDir: string;
beforeAll(async () => {
  demoDir = await testDemoModelSet();
});

const ops = (m: Model): Set<string> => new Set(m.graph.nodes.map((n) => n.opType));
const paramCount = (m: Model): number => [...m.graph.initializers.values()].reduce((s, t) => s + t.dims.reduce((a, b) => a * b, 1), 0);

describe('demo model builders', () => {
  it('are deterministic functions of the seed', () => {
    const a = encodeModel(buildTextEncoderModel({ vocabSize: 600, hidden: 32, layers: 2, heads: 4, seed: 5 }));
    const b = encodeModel(buildTextEncoderModel({ vocabSize: 600, hidden: 32, layers: 2, heads: 4, seed: 5 }));
    const c = encodeModel(buildTextEncoderModel({ vocabSize: 600, hidden: 32, layers: 2, heads: 4, seed: 6 }));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
    const u1 = encodeModel(buildUnetModel(demoUnetOptions({ seed: 9 })));
    const u2 = encodeModel(buildUnetModel(demoUnetOptions({ seed: 9 })));
    expect(Buffer.from(u1).equals(Buffer.from(u2))).toBe(true);
  });

  it('text encoder: CLIP layout, causal, named token embedding', async () => {
    const m = buildTextEncoderModel({ vocabSize: 600, hidden: 32, layers: 2, heads: 4, seed: 1 });
    expect(m.graph.initializers.get(TOKEN_EMBEDDING_NAME)?.dims).toEqual([600, 32]);
    expect(ops(m)).toEqual(expect.objectContaining({}));
    for (const op of ['Gather', 'LayerNormalization', 'Softmax', 'MatMul']) expect(ops(m).has(op)).toBe(true);
    const s = await ort.InferenceSession.create(encodeModel(m));
    expect(s.inputMetadata[0]).toMatchObject({ name: 'input_ids', type: 'int32', shape: ['batch', 77] });
    expect(s.outputMetadata[0]).toMatchObject({ name: 'last_hidden_state', shape: ['batch', 77, 32] });
    // Causality: changing token 5 leaves positions 0..4 unchanged and changes 5..76.
    const ids = new Int32Array(77).fill(599);
    ids[0] = 598;
    const ids2 = ids.slice();
    ids2[5] = 300;
    const run = async (x: Int32Array) => (await s.run({ input_ids: new ort.Tensor('int32', x, [1, 77]) })).last_hidden_state!.data as Float32Array;
    const [a, b] = [await run(ids), await run(ids2)];
    const rowDiff = (r: number) => Math.max(...Array.from({ length: 32 }, (_, j) => Math.abs(a[r * 32 + j]! - b[r * 32 + j]!)));
    for (let r = 0; r < 5; r++) expect(rowDiff(r)).toBe(0);
    for (const r of [5, 6, 40, 76]) expect(rowDiff(r)).toBeGreaterThan(1e-3);
  });

  it('UNet: SD topology ops, cross-attention at two resolutions, symbolic dims', async () => {
    const m = buildUnetModel(demoUnetOptions());
    for (const op of ['Conv', 'Cos', 'Sin', 'Softmax', 'InstanceNormalization', 'Resize', 'Concat', 'LayerNormalization', 'Erf', 'Sigmoid']) expect(ops(m).has(op)).toBe(true);
    const xattn = m.graph.nodes.filter((n) => n.opType === 'Softmax' && n.name.includes('/attn2/'));
    const levels = new Set(xattn.map((n) => /^\/(down_blocks\.\d+|mid_block|up_blocks\.\d+)/.exec(n.name)?.[1]));
    expect(levels.has('down_blocks.0') && levels.has('down_blocks.1') && levels.has('mid_block')).toBe(true);
    const resize = m.graph.nodes.find((n) => n.opType === 'Resize')!;
    expect(resize.attrs.mode).toEqual({ kind: 'string', value: 'nearest' });
    const s = await ort.InferenceSession.create(encodeModel(m));
    expect(s.inputMetadata.map((i) => [i.name, i.isTensor && i.type, i.isTensor && i.shape])).toEqual([
      ['sample', 'float32', ['batch', 4, 'height', 'width']],
      ['timestep', 'int64', ['batch']],
      ['encoder_hidden_states', 'float32', ['batch', 'sequence', 64]],
    ]);
    const out = await s.run({
      sample: new ort.Tensor('float32', gaussian(1, 2 * 4 * 16 * 8), [2, 4, 16, 8]),
      timestep: new ort.Tensor('int64', BigInt64Array.from([999n, 10n]), [2]),
      encoder_hidden_states: new ort.Tensor('float32', gaussian(2, 2 * 77 * 64), [2, 77, 64]),
    });
    expect(out.out_sample!.dims).toEqual([2, 4, 16, 8]);
    expect(Array.from(out.out_sample!.data as Float32Array).every(Number.isFinite)).toBe(true);
  });

  it('UNet variants: float timesteps, fp16 I/O, LCM timestep_cond', async () => {
    const f16 = await ort.InferenceSession.create(encodeModel(buildUnetModel(demoUnetOptions({ timestepDtype: 'float16', ioDtype: 'float16', weights: 'float16', timestepCondDim: 32 }))));
    const meta = Object.fromEntries(f16.inputMetadata.map((i) => [i.name, i.isTensor ? i.type : '']));
    expect(meta).toEqual({ sample: 'float16', timestep: 'float16', encoder_hidden_states: 'float16', timestep_cond: 'float16' });
    const f32 = buildUnetModel(demoUnetOptions({ timestepDtype: 'float32' }));
    expect(f32.graph.inputs[1]).toMatchObject({ name: 'timestep', dtype: 1 });
  });

  it('SD-1.5-proportioned UNet: SD block structure at a fraction of the width', async () => {
    const o = sd15UnetOptions(1 / 8);
    expect(o.channels).toEqual([40, 80, 160, 160]);
    expect(o.crossAttentionDim).toBe(768);
    const m = buildUnetModel(o);
    const names = [...m.graph.initializers.keys()];
    expect(names).toContain('down_blocks.2.attentions.1.transformer_blocks.0.attn2.to_k.weight');
    expect(names).toContain('up_blocks.3.resnets.2.conv1.weight');
    expect(names.some((n) => n.startsWith('down_blocks.3.attentions'))).toBe(false);
    expect(m.graph.initializers.get('down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight')?.dims).toEqual([768, 40]);
    // Full SD 1.5 has ~860M parameters; the 1/8-width version scales roughly with width^2.
    const full = 859.5e6;
    expect(paramCount(m)).toBeGreaterThan(full / 64 * 0.5);
    expect(paramCount(m)).toBeLessThan(full / 8);
    const s = await ort.InferenceSession.create(encodeModel(m));
    const out = await s.run({
      sample: new ort.Tensor('float32', gaussian(3, 4 * 8 * 8), [1, 4, 8, 8]),
      timestep: new ort.Tensor('int64', BigInt64Array.from([500n]), [1]),
      encoder_hidden_states: new ort.Tensor('float32', gaussian(4, 77 * 768), [1, 77, 768]),
    });
    expect(out.out_sample!.dims).toEqual([1, 4, 8, 8]);
  });

  it('VAE: decoder upsamples 8x into colourful images, encoder inverts it approximately', async () => {
    const dec = await ort.InferenceSession.create(encodeModel(buildVaeDecoderModel({ seed: 3, colourGain: 0.6 })));
    const enc = await ort.InferenceSession.create(encodeModel(buildVaeEncoderModel({ seed: 3, colourGain: 0.6 })));
    // A smooth latent (what the UNet produces), unscaled as the decoder sees it.
    const h = 8, w = 8;
    const z = new Float32Array(4 * h * w);
    for (let c = 0; c < 4; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) z[(c * h + y) * w + x] = Math.sin(0.7 * x + c) * Math.cos(0.5 * y - c) / 0.18215;
    const img = (await dec.run({ latent_sample: new ort.Tensor('float32', z, [1, 4, h, w]) })).sample!;
    expect(img.dims).toEqual([1, 3, 64, 64]);
    const px = img.data as Float32Array;
    // Colourful: the three channels are far from equal (not grey).
    let chroma = 0;
    for (let i = 0; i < 64 * 64; i++) chroma += Math.abs(px[i]! - px[4096 + i]!) + Math.abs(px[4096 + i]! - px[8192 + i]!);
    expect(chroma / 4096).toBeGreaterThan(0.2);
    const back = (await enc.run({ sample: new ort.Tensor('float32', px, [1, 3, 64, 64]) })).latent_sample!.data as Float32Array;
    let dot = 0, na = 0, nb = 0;
    for (let i = 0; i < z.length; i++) {
      dot += z[i]! * back[i]!;
      na += z[i]! ** 2;
      nb += back[i]! ** 2;
    }
    expect(dot / Math.sqrt(na * nb)).toBeGreaterThan(0.9);
  });
});

describe('ensureDemoModelSet', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'is-demo-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('writes the public diffusers layout with external UNet weights', async () => {
    const r = await validateModelFolder(demoDir);
    expect(r.ok).toBe(true);
    expect(r.missing).toEqual([]);
    expect(r.tokenizer).toBe('vocab+merges');
    expect(r.hasVaeEncoder).toBe(true);
    expect(r.unetExternalData).toEqual(['unet/model.onnx_data']);
    const unet = await readModel(path.join(demoDir, 'unet', 'model.onnx'));
    const ext = [...unet.graph.initializers.values()].filter((t) => t.external);
    expect(ext.length).toBeGreaterThan(50);
    expect(ext.every((t) => t.external!.location === 'model.onnx_data')).toBe(true);
    const sched = JSON.parse(await readFile(path.join(demoDir, 'scheduler', 'scheduler_config.json'), 'utf8'));
    expect(sched).toMatchObject({ beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', steps_offset: 1, set_alpha_to_one: false, num_train_timesteps: 1000 });
    const idx = JSON.parse(await readFile(path.join(demoDir, 'model_index.json'), 'utf8'));
    expect(idx.unet).toEqual(['diffusers', 'OnnxRuntimeModel']);
    expect((await readDemoStamp(demoDir))?.version).toBe(DEMO_GENERATOR_VERSION);
  });

  it('generates once, reuses the cache, and regenerates after a generator change', async () => {
    const dir = await ensureDemoModelSet(tmp);
    expect(dir).toBe(path.join(tmp, 'models', 'demo'));
    expect((await readInstallRecord(tmp, 'demo'))?.source).toBe('generated');
    const unetFile = path.join(dir, 'unet', 'model.onnx');
    const m1 = (await stat(unetFile)).mtimeMs;
    expect(await ensureDemoModelSet(tmp)).toBe(dir);
    expect((await stat(unetFile)).mtimeMs).toBe(m1);
    // Same bytes as the shared test set (deterministic generation).
    expect((await readFile(unetFile)).equals(await readFile(path.join(demoDir, 'unet', 'model.onnx')))).toBe(true);
    // Simulate a set written by an older generator.
    const idxFile = path.join(dir, 'model_index.json');
    const idx = JSON.parse(await readFile(idxFile, 'utf8'));
    idx._inversion_studio.version = DEMO_GENERATOR_VERSION - 1;
    await writeFile(idxFile, JSON.stringify(idx));
    await writeFile(path.join(dir, 'stale-marker'), 'x');
    expect(await ensureDemoModelSet(tmp)).toBe(dir);
    expect((await readDemoStamp(dir))?.version).toBe(DEMO_GENERATOR_VERSION);
    await expect(stat(path.join(dir, 'stale-marker'))).rejects.toThrow();
    // A set trained on another word list is stale too.
    const idx2 = JSON.parse(await readFile(idxFile, 'utf8'));
    expect(idx2._inversion_studio.words).toMatch(/^[0-9a-f]{16}$/);
    idx2._inversion_studio.words = '0000000000000000';
    await writeFile(idxFile, JSON.stringify(idx2));
    await ensureDemoModelSet(tmp);
    const words = (await readDemoStamp(dir))?.words;
    expect(words).not.toBe('0000000000000000');
    expect(words).toMatch(/^[0-9a-f]{16}$/);
    // No temporary folders left behind.
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(path.join(tmp, 'models'))).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('concurrent first uses agree on one complete set', async () => {
    const root = path.join(tmp, 'concurrent');
    const [a, b] = await Promise.all([ensureDemoModelSet(root), ensureDemoModelSet(root)]);
    expect(a).toBe(b);
    expect((await validateModelFolder(a)).ok).toBe(true);
  });
});
