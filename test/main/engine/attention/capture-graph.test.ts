/**
 * The capture graph's outputs against a reference path: the unmodified graph run with each
 * cross-attention Softmax output exposed as an extra output, reduced in JS (conditional half of
 * the batch, mean over heads).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { addAttentionOutputs } from '../../../../src/main/engine/attention/capture-graph.js';
import { findCrossAttention, type CrossAttentionLayer } from '../../../../src/main/engine/attention/find-cross-attention.js';
import { cloneModel } from '../../../../src/main/engine/onnx/clone.js';
import { DataType } from '../../../../src/main/engine/onnx/dtype.js';
import type { Model } from '../../../../src/main/engine/onnx/ir.js';
import { readModel, serializeForSession } from '../../../../src/main/engine/onnx/model-io.js';
import { testDemoModelSet } from '../models/demo/demo-cache.js';
import { fixtureDir, fixtureFolders, haveFixture, maxAbsDiff } from '../onnx/peer-fixtures.js';
import { tinyAttentionUnet } from './tiny-attention-unet.js';

async function session(model: Model): Promise<ort.InferenceSession> {
  const s = await serializeForSession(model);
  try {
    return s.path !== undefined
      ? await ort.InferenceSession.create(s.path, { logSeverityLevel: 3 })
      : await ort.InferenceSession.create(s.bytes!, { logSeverityLevel: 3 });
  } finally {
    await s.dispose();
  }
}

function wave(n: number, f: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * f) + 0.3 * Math.cos(i * f * 2.7));
}

interface Case {
  batch: number;
  side: number;
  text: number;
  timestep: 'int64' | 'float32';
}

function feeds(c: Case): Record<string, ort.Tensor> {
  const { batch: B, side: s, text: D } = c;
  return {
    sample: new ort.Tensor('float32', wave(B * 4 * s * s, 0.37), [B, 4, s, s]),
    timestep:
      c.timestep === 'int64'
        ? new ort.Tensor('int64', new BigInt64Array(B).fill(400n), [B])
        : new ort.Tensor('float32', new Float32Array(B).fill(400), [B]),
    encoder_hidden_states: new ort.Tensor('float32', wave(B * 77 * D, 0.11), [B, 77, D]),
  };
}

/** Reference: mean over heads of the conditional half of an exposed probability tensor, per cond item. */
function reference(p: ort.Tensor, batch: number): { dims: number[]; data: Float32Array } {
  const data = p.data as Float32Array;
  const [N, M] = p.dims.slice(-2) as [number, number];
  const heads = data.length / (batch * N * M);
  const start = Math.floor(batch / 2);
  const cond = batch - start;
  const out = new Float32Array(cond * N * M);
  for (let c = 0; c < cond; c++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < N * M; i++) out[c * N * M + i] = out[c * N * M + i]! + data[((start + c) * heads + h) * N * M + i]! / heads;
  return { dims: [cond, N, M], data: out };
}

async function compare(model: Model, c: Case): Promise<{ layers: CrossAttentionLayer[]; maxDiff: number; outDiff: number }> {
  const layers = findCrossAttention(model);
  const exposed = cloneModel(model);
  for (const l of layers) exposed.graph.outputs.push({ name: l.probabilities, dtype: DataType.FLOAT });
  const capture = addAttentionOutputs(model);
  const [ref, cap] = await Promise.all([session(exposed), session(capture.model)]);
  const f = feeds(c);
  const [r, o] = [await ref.run(f), await cap.run(f)];
  let maxDiff = 0;
  layers.forEach((l, i) => {
    const want = reference(r[l.probabilities]!, c.batch);
    const got = o[capture.outputs[i]!]!;
    expect(got.dims, l.name).toEqual(want.dims);
    expect(got.dims[2]).toBe(77);
    maxDiff = Math.max(maxDiff, maxAbsDiff(got.data as Float32Array, want.data));
  });
  const outDiff = maxAbsDiff(o.out_sample!.data as Float32Array, r.out_sample!.data as Float32Array);
  await Promise.all([ref.release(), cap.release()]);
  return { layers, maxDiff, outDiff };
}

describe('addAttentionOutputs', () => {
  it.each([
    ['heads', 2],
    ['heads', 1],
    ['folded', 2],
    ['folded', 1],
    ['folded', 3],
  ] as const)('small graph, %s layout, batch %d: outputs = reduced probabilities, out_sample unchanged', async (layout, batch) => {
    const { maxDiff, outDiff } = await compare(tinyAttentionUnet({ layout, heads: 3 }), { batch, side: 4, text: 5, timestep: 'float32' });
    expect(maxDiff).toBeLessThan(1e-6);
    expect(outDiff).toBe(0);
  });

  it('leaves the input model alone and appends one output per layer', () => {
    const m = tinyAttentionUnet();
    const before = JSON.stringify({ nodes: m.graph.nodes.length, outputs: m.graph.outputs });
    const cap = addAttentionOutputs(m);
    expect(JSON.stringify({ nodes: m.graph.nodes.length, outputs: m.graph.outputs })).toBe(before);
    expect(cap.model.graph.outputs.map((o) => o.name)).toEqual(['out_sample', 'attention_probs.0']);
    expect(cap.model.graph.nodes.every((n) => n.domain === '')).toBe(true);
  });

  describe('demo UNet', () => {
    let demo: Model;
    beforeAll(async () => {
      demo = await readModel(path.join(await testDemoModelSet(), 'unet', 'model.onnx'));
    });
    it.each([2, 1])('batch %d at a 16x16 latent: every layer matches the reference, out_sample bit-identical', async (batch) => {
      const { layers, maxDiff, outDiff } = await compare(demo, { batch, side: 16, text: 64, timestep: 'int64' });
      expect(layers.length).toBe(7);
      expect(maxDiff).toBeLessThan(1e-6);
      expect(outDiff).toBe(0);
    });
  });

  // The shapes set's UNet builder (models/shapes, being trained elsewhere): untrained, tiny widths.
  const shapesRecipe = path.resolve(import.meta.dirname, '../../../../src/main/engine/models/shapes/recipes/unet.ts');
  it.skipIf(!existsSync(shapesRecipe))(
    'shapes-set UNet topology at its 8x8 latent: maps at 8x8, 4x4, 2x2, each matching the reference',
    async () => {
      const { shapesUnetOptions } = (await import(
        shapesRecipe
      )) as typeof import('../../../../src/main/engine/models/shapes/recipes/unet.js');
      const { TINY_ARCHITECTURE } = await import('../../../../src/main/engine/models/shapes/architecture.js');
      const { buildUnetModel } = await import('../../../../src/main/engine/models/demo/unet.js');
      const model = buildUnetModel(shapesUnetOptions(TINY_ARCHITECTURE));
      const { layers, maxDiff, outDiff } = await compare(model, {
        batch: 2,
        side: 8,
        text: TINY_ARCHITECTURE.text.hidden,
        timestep: 'int64',
      });
      expect(layers.map((l) => l.block)).toEqual(['down', 'down', 'down', 'mid', 'up', 'up', 'up', 'up', 'up', 'up']);
      expect(maxDiff).toBeLessThan(1e-6);
      expect(outDiff).toBe(0);
      const cap = addAttentionOutputs(model);
      const s = await session(cap.model);
      const out = await s.run(feeds({ batch: 2, side: 8, text: TINY_ARCHITECTURE.text.hidden, timestep: 'int64' }));
      expect(cap.outputs.map((o) => out[o]!.dims[1])).toEqual([64, 16, 4, 4, 4, 4, 16, 16, 64, 64]);
      await s.release();
    },
  );

  describe.each(fixtureFolders)('PyTorch fixture %s', (folder) => {
    it.skipIf(!haveFixture(folder))('batch 2: every layer matches the reference, out_sample unchanged', async () => {
      const model = await readModel(path.join(fixtureDir(folder), 'unet.onnx'));
      const { layers, maxDiff, outDiff } = await compare(model, { batch: 2, side: 16, text: 32, timestep: 'float32' });
      expect(layers.length).toBe(10);
      expect(maxDiff).toBeLessThan(1e-6);
      expect(outDiff).toBeLessThan(1e-6);
    });
  });
});
