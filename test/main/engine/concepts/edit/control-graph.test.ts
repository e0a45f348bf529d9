/**
 * The attention-control surgery on the small test graphs, the demo UNet, the shapes-set topology
 * and the PyTorch fixture UNets: with control off the UNet's output is bit-identical to the plain
 * graph's; the read-out equals the Softmax output's conditional half; with every probability fed
 * from another run, the edited run's attention is exactly the source's.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { addAttentionControl, findSelfAttention, type ControlGraph } from '../../../../../src/main/engine/concepts/edit/control-graph.js';
import { findCrossAttention } from '../../../../../src/main/engine/attention/index.js';
import { cloneModel } from '../../../../../src/main/engine/onnx/clone.js';
import { DataType } from '../../../../../src/main/engine/onnx/dtype.js';
import type { Model } from '../../../../../src/main/engine/onnx/ir.js';
import { readModel, serializeForSession } from '../../../../../src/main/engine/onnx/model-io.js';
import { testDemoModelSet } from '../../models/demo/demo-cache.js';
import { fixtureDir, fixtureFolders, haveFixture } from '../../onnx/peer-fixtures.js';
import { tinyAttentionUnet } from '../../attention/tiny-attention-unet.js';

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

function wave(n: number, f: number, phase = 0): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * f + phase) + 0.3 * Math.cos(i * f * 2.7));
}

interface Case {
  batch: number;
  side: number;
  text: number;
  timestep: 'int64' | 'float32';
}

/** Plain UNet feeds; `phase` changes the text (another prompt) and the latent. */
function unetFeeds(c: Case, phase = 0): Record<string, ort.Tensor> {
  const { batch: B, side: s, text: D } = c;
  return {
    sample: new ort.Tensor('float32', wave(B * 4 * s * s, 0.37, phase), [B, 4, s, s]),
    timestep:
      c.timestep === 'int64'
        ? new ort.Tensor('int64', new BigInt64Array(B).fill(400n), [B])
        : new ort.Tensor('float32', new Float32Array(B).fill(400), [B]),
    encoder_hidden_states: new ort.Tensor('float32', wave(B * 77 * D, 0.11, 3 * phase), [B, 77, D]),
  };
}

const nothing = (g: ControlGraph, gate: number): Record<string, ort.Tensor> => {
  const f: Record<string, ort.Tensor> = {
    [g.maxQueries.cross]: new ort.Tensor('int64', BigInt64Array.of(BigInt(gate)), [1]),
    [g.maxQueries.self]: new ort.Tensor('int64', BigInt64Array.of(BigInt(gate)), [1]),
  };
  for (const l of [...g.cross, ...g.self]) {
    f[l.feed] = new ort.Tensor('float32', new Float32Array(1), [1, 1, 1, 1]);
    f[l.use] = new ort.Tensor('bool', new Uint8Array(1), [1, 1, 1, 1]);
  }
  return f;
};

/** The conditional half [B div 2, B) of a probability tensor, as [condBatch · heads · N · M] values. */
function condHalf(t: ort.Tensor, batch: number): Float32Array {
  const data = t.data as Float32Array;
  const per = data.length / batch;
  return data.slice(Math.floor(batch / 2) * per);
}

function bitEqual(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/**
 * Runs the three checks on a model: control off (out_sample bit-identical, read-outs = the
 * Softmax outputs' conditional halves), gate 0 (empty read-outs), full replacement (another
 * prompt's run fed every probability of the source run: its P' equals the source's exactly).
 */
async function check(model: Model, c: Case): Promise<{ graph: ControlGraph; replacedDiffers: boolean }> {
  const graph = addAttentionControl(model);
  const layers = [...graph.cross, ...graph.self];
  expect(layers.length).toBeGreaterThan(0);
  expect(graph.model.graph.nodes.every((n) => n.domain === '' || model.graph.nodes.some((o) => o.name === n.name))).toBe(true);
  // Reference: the plain model with every Softmax output exposed.
  const exposed = cloneModel(model);
  for (const l of layers) exposed.graph.outputs.push({ name: l.probabilities, dtype: DataType.FLOAT });
  // The control graph with the controlled values (what the layers use) exposed too.
  const probe = cloneModel(graph.model);
  for (const l of layers) probe.graph.outputs.push({ name: l.controlled, dtype: DataType.FLOAT });
  const [ref, ctl] = await Promise.all([session(exposed), session(probe)]);

  const f = unetFeeds(c);
  const r = await ref.run(f);
  const o = await ctl.run({ ...f, ...nothing(graph, 1 << 30) });
  expect(bitEqual(o.out_sample!.data as Float32Array, r.out_sample!.data as Float32Array)).toBe(true);
  for (const l of layers) {
    const want = condHalf(r[l.probabilities]!, c.batch);
    expect(bitEqual(o[l.output]!.data as Float32Array, want), l.name).toBe(true);
    expect(o[l.output]!.dims[0]).toBe(c.batch - Math.floor(c.batch / 2));
    expect(bitEqual(o[l.controlled]!.data as Float32Array, r[l.probabilities]!.data as Float32Array)).toBe(true);
  }
  const closed = await ctl.run({ ...f, ...nothing(graph, 0) });
  for (const l of layers) expect(closed[l.output]!.dims[0]).toBe(0);
  expect(bitEqual(closed.out_sample!.data as Float32Array, r.out_sample!.data as Float32Array)).toBe(true);

  // Full replacement: run "edited" (other text and latent) with every cond probability fed from the source run.
  const fe = unetFeeds(c, 1);
  const plainEdited = await ref.run(fe);
  const feeds: Record<string, ort.Tensor> = { ...fe, ...nothing(graph, 1 << 30) };
  for (const l of layers) {
    const src = o[l.output]!;
    feeds[l.feed] = src;
    feeds[l.use] = new ort.Tensor('bool', new Uint8Array(src.data.length).fill(1), [...src.dims]);
  }
  const e = await ctl.run(feeds);
  for (const l of layers) {
    expect(bitEqual(condHalf(e[l.controlled]!, c.batch), o[l.output]!.data as Float32Array), l.name).toBe(true);
    // The unconditional half is never touched.
    const uncond = (e[l.controlled]!.data as Float32Array).slice(
      0,
      (plainEdited[l.probabilities]!.data as Float32Array).length - condHalf(plainEdited[l.probabilities]!, c.batch).length,
    );
    expect(bitEqual(uncond, (plainEdited[l.probabilities]!.data as Float32Array).slice(0, uncond.length))).toBe(true);
  }
  const replacedDiffers = !bitEqual(e.out_sample!.data as Float32Array, plainEdited.out_sample!.data as Float32Array);
  await Promise.all([ref.release(), ctl.release()]);
  return { graph, replacedDiffers };
}

describe('addAttentionControl', () => {
  it.each([
    ['heads', 2],
    ['heads', 1],
    ['folded', 2],
    ['folded', 1],
  ] as const)(
    'small graph, %s layout, batch %d: control off = plain, read-out = P, full replacement = the source attention',
    async (layout, batch) => {
      const { graph, replacedDiffers } = await check(tinyAttentionUnet({ layout, heads: 3 }), {
        batch,
        side: 4,
        text: 5,
        timestep: 'float32',
      });
      expect(graph.cross.length).toBe(1);
      expect(graph.self.length).toBe(1);
      expect(replacedDiffers).toBe(true);
    },
  );

  it('selects text columns: fed where use is true, computed elsewhere', async () => {
    const model = tinyAttentionUnet({ heads: 2 });
    const graph = addAttentionControl(model);
    const s = await session(graph.model);
    const c: Case = { batch: 2, side: 4, text: 5, timestep: 'float32' };
    const f = { ...unetFeeds(c), ...nothing(graph, 1 << 30) };
    const plain = await s.run(f);
    const l = graph.cross[0]!;
    const computed = plain[l.output]!.data as Float32Array; // [1, 2, 16, 77]
    const use = new Uint8Array(77);
    use[3] = 1;
    use[40] = 1;
    const fed = new Float32Array(computed.length).fill(0.25);
    const out = await s.run({
      ...f,
      [l.feed]: new ort.Tensor('float32', fed, [1, 2, 16, 77]),
      [l.use]: new ort.Tensor('bool', use, [1, 1, 1, 77]),
    });
    expect(bitEqual(out.out_sample!.data as Float32Array, plain.out_sample!.data as Float32Array)).toBe(false);
    // The read-out is the computed attention (before the Where), unchanged by the feed.
    expect(bitEqual(out[l.output]!.data as Float32Array, computed)).toBe(true);
    await s.release();
  });

  it('finds self-attention as the attention Softmax nodes that are not cross-attention', () => {
    const model = tinyAttentionUnet();
    const self = findSelfAttention(model, findCrossAttention(model));
    expect(self.map((l) => l.name)).toEqual(['down_blocks.0.attentions.0.transformer_blocks.0.attn1']);
  });

  it('leaves the input model alone', () => {
    const m = tinyAttentionUnet();
    const before = JSON.stringify({ nodes: m.graph.nodes.map((n) => n.inputs), outputs: m.graph.outputs, inputs: m.graph.inputs });
    addAttentionControl(m);
    expect(JSON.stringify({ nodes: m.graph.nodes.map((n) => n.inputs), outputs: m.graph.outputs, inputs: m.graph.inputs })).toBe(before);
  });

  describe('demo UNet', () => {
    let demo: Model;
    beforeAll(async () => {
      demo = await readModel(path.join(await testDemoModelSet(), 'unet', 'model.onnx'));
    });
    it.each([2, 1])('batch %d at a 16x16 latent: control off bit-identical, full replacement exact', async (batch) => {
      const { graph, replacedDiffers } = await check(demo, { batch, side: 16, text: 64, timestep: 'int64' });
      expect(graph.cross.length).toBe(7);
      expect(graph.self.length).toBe(7);
      expect(replacedDiffers).toBe(true);
    });
  });

  const shapesRecipe = path.resolve(import.meta.dirname, '../../../../../src/main/engine/models/shapes/recipes/unet.ts');
  it.skipIf(!existsSync(shapesRecipe))('shapes-set UNet topology at its 8x8 latent', async () => {
    const { shapesUnetOptions } = (await import(
      shapesRecipe
    )) as typeof import('../../../../../src/main/engine/models/shapes/recipes/unet.js');
    const { TINY_ARCHITECTURE } = await import('../../../../../src/main/engine/models/shapes/architecture.js');
    const { buildUnetModel } = await import('../../../../../src/main/engine/models/demo/unet.js');
    const model = buildUnetModel(shapesUnetOptions(TINY_ARCHITECTURE));
    const { graph, replacedDiffers } = await check(model, { batch: 2, side: 8, text: TINY_ARCHITECTURE.text.hidden, timestep: 'int64' });
    expect(graph.cross.length).toBe(10);
    expect(graph.self.length).toBe(10);
    expect(replacedDiffers).toBe(true);
  });

  describe.each(fixtureFolders)('PyTorch fixture %s', (folder) => {
    it.skipIf(!haveFixture(folder))('batch 2: control off bit-identical, full replacement exact', async () => {
      const model = await readModel(path.join(fixtureDir(folder), 'unet.onnx'));
      const { graph, replacedDiffers } = await check(model, { batch: 2, side: 16, text: 32, timestep: 'float32' });
      expect(graph.cross.length).toBe(10);
      expect(graph.self.length).toBe(10);
      expect(replacedDiffers).toBe(true);
    });
  });
});
