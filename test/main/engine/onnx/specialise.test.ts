import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../../../src/main/engine/errors.js';
import { encodeModel, readModel } from '../../../../src/main/engine/onnx/model-io.js';
import { specialise } from '../../../../src/main/engine/onnx/specialise.js';
import {
  compareWithReference,
  fixtureDir,
  fixtureFolders,
  haveFixture,
  readFixtureTensor,
  readManifest,
  runtimeShapes,
} from './peer-fixtures.js';

const SHAPE_OPS = new Set(['Shape', 'Size', 'ConstantOfShape', 'Constant']);

describe.each(fixtureFolders)('specialise on %s', (folder) => {
  const present = haveFixture(folder);
  it.skipIf(!present).each(['unet', 'vae_decoder', 'text_encoder'])(
    '%s: every value concrete, no Shape ops, same outputs',
    async (name) => {
      const entry = readManifest(folder).models[name]!;
      const model = await readModel(join(fixtureDir(folder), entry.file));
      const nodesBefore = model.graph.nodes.length;
      const inputsBefore = JSON.stringify(model.graph.inputs);
      const shapes = Object.fromEntries(Object.entries(entry.inputs).map(([k, t]) => [k, t.shape]));
      const s = specialise(model, shapes);

      // The original is untouched and tensor bytes are shared, not copied.
      expect(model.graph.nodes.length).toBe(nodesBefore);
      expect(JSON.stringify(model.graph.inputs)).toBe(inputsBefore);
      const someWeight = [...s.graph.initializers.values()].find(
        (t) => model.graph.initializers.get(t.name)?.raw === t.raw && (t.raw?.byteLength ?? 0) > 1000,
      );
      expect(someWeight).toBeDefined();

      expect(s.graph.nodes.filter((n) => SHAPE_OPS.has(n.opType)).map((n) => n.name)).toEqual([]);
      expect(s.graph.nodes.length).toBeLessThan(nodesBefore * 0.6);
      for (const n of s.graph.nodes) {
        for (const v of [...n.inputs, ...n.outputs]) {
          if (v === '') continue;
          const shape = s.graph.valueInfo.get(v)?.shape;
          expect(shape, v).toBeDefined();
          for (const d of shape!) expect(typeof d, `${v} ${JSON.stringify(shape)}`).toBe('number');
        }
      }
      for (const o of s.graph.outputs) expect(o.shape).toEqual(entry.outputs[o.name]!.shape);

      const diffs = await compareWithReference(encodeModel(s), folder, name);
      for (const d of Object.values(diffs)) expect(d).toBeLessThan(1e-5);

      // Inferred shapes agree with what onnxruntime produces for every intermediate value.
      const feeds = Object.fromEntries(
        Object.entries(entry.inputs).map(([k, t]) => [k, { dtype: t.dtype, data: readFixtureTensor(folder, t), dims: t.shape }]),
      );
      const actual = await runtimeShapes(encodeModel, s, feeds);
      expect(actual.size).toBeGreaterThan(s.graph.nodes.length * 0.9);
      for (const [v, { dims }] of actual) expect(s.graph.valueInfo.get(v)?.shape, v).toEqual(dims);
    },
  );
  if (!present) it.skip(`fixtures absent at ${fixtureDir(folder)}`, () => {});
});

describe('specialise argument checks', () => {
  const present = haveFixture('peer-a-opset14');
  const unet = () => readModel(join(fixtureDir('peer-a-opset14'), 'unet.onnx'));
  const errorOf = (fn: () => unknown): EngineError => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(EngineError);
      return e as EngineError;
    }
    throw new Error('expected an error');
  };

  it.skipIf(!present)('binds symbols across inputs (timestep takes batch from sample)', async () => {
    const s = specialise(await unet(), { sample: [2, 4, 8, 8], encoder_hidden_states: [2, 77, 32] });
    expect(s.graph.inputs.map((v) => v.shape)).toEqual([[2, 4, 8, 8], [2], [2, 77, 32]]);
    expect(s.graph.outputs[0]!.shape).toEqual([2, 4, 8, 8]);
  });

  it.skipIf(!present)('lists inputs left symbolic and says to pass --shape', async () => {
    const m = await unet();
    const err = errorOf(() => specialise(m, { sample: [1, 4, 16, 16] }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('encoder_hidden_states [batch,sequence,32]');
    expect(err.message).not.toContain('timestep'); // its only dim, batch, is bound by sample
    expect(err.message).toContain('--shape');
  });

  it.skipIf(!present)('rank, fixed-dim and symbol conflicts are SHAPE_MISMATCH naming input, model dims and given dims', async () => {
    const m = await unet();
    const rank = errorOf(() => specialise(m, { sample: [1, 4, 16], timestep: [1], encoder_hidden_states: [1, 77, 32] }));
    expect(rank.code).toBe('SHAPE_MISMATCH');
    expect(rank.message).toMatch(/'sample'.*\[batch,4,height,width\].*\[1,4,16\]/);
    const fixed = errorOf(() => specialise(m, { sample: [1, 3, 16, 16], timestep: [1], encoder_hidden_states: [1, 77, 32] }));
    expect(fixed.code).toBe('SHAPE_MISMATCH');
    expect(fixed.message).toMatch(/'sample'.*\[batch,4,height,width\].*\[1,3,16,16\]/);
    const conflict = errorOf(() => specialise(m, { sample: [1, 4, 16, 16], timestep: [1], encoder_hidden_states: [2, 77, 32] }));
    expect(conflict.code).toBe('SHAPE_MISMATCH');
    expect(conflict.message).toMatch(/'batch' is 1 in input 'sample' but 2 in input 'encoder_hidden_states'/);
    const unknown = errorOf(() => specialise(m, { latents: [1, 4, 16, 16] }));
    expect(unknown.code).toBe('INVALID_ARGUMENT');
    expect(unknown.message).toMatch(/no input 'latents'.*sample, timestep, encoder_hidden_states/);
    const negative = errorOf(() => specialise(m, { sample: [1, 4, -1, 16] }));
    expect(negative.code).toBe('INVALID_ARGUMENT');
  });

  it.skipIf(!present)('treats initializers listed as inputs (IR < 4 exports) as constants unless kept', async () => {
    const te = await readModel(join(fixtureDir('peer-a-opset14'), 'text_encoder.onnx'));
    for (const t of te.graph.initializers.values()) te.graph.inputs.push({ name: t.name, dtype: t.dtype, shape: [...t.dims] });
    const s = specialise(te, { input_ids: [1, 77] }, { keep: ['tok.weight'] });
    expect(s.graph.inputs.map((v) => v.name)).toEqual(['input_ids', 'tok.weight']);
    expect(s.graph.nodes.filter((n) => n.opType === 'Shape')).toEqual([]);
    expect(s.graph.initializers.has('tok.weight')).toBe(true);
    const diffs = await compareWithReference(encodeModel(s), 'peer-a-opset14', 'text_encoder');
    for (const d of Object.values(diffs)) expect(d).toBeLessThan(1e-5);
  });
});
