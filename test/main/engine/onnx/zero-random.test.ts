import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../../../src/main/engine/onnx/builder.js';
import { DataType } from '../../../../src/main/engine/onnx/dtype.js';
import { emptyModel } from '../../../../src/main/engine/onnx/ir.js';
import { encodeModel } from '../../../../src/main/engine/onnx/model-io.js';
import { zeroRandomSamplers } from '../../../../src/main/engine/onnx/zero-random.js';

// The shape of the public vae_encoder's tail: latent = mean + exp(0.5 * logvar) * randn_like(mean).
function samplingEncoder(withDtype: boolean) {
  const model = emptyModel(14);
  const b = new GraphBuilder(model.graph, 14);
  b.addInput('moments', DataType.FLOAT, [1, 8, 2, 2]);
  const [mean, logvar] = b.split('moments', 1, [4, 4]) as [string, string];
  const std = b.op('Exp', [b.op('Mul', [logvar, b.scalar(0.5)])]);
  const noise = b.op('RandomNormalLike', [mean], withDtype ? { dtype: DataType.FLOAT } : {});
  b.opN('Add', [mean, b.op('Mul', [std, noise])], {}, { outputNames: ['latent_sample'] });
  b.addOutput('latent_sample', DataType.FLOAT, [1, 4, 2, 2]);
  return model;
}

describe('zeroRandomSamplers', () => {
  for (const withDtype of [true, false]) {
    it(`turns a sampling VAE encoder into its mean (dtype attribute ${withDtype ? 'set' : 'absent'})`, async () => {
      const { model, replaced } = zeroRandomSamplers(samplingEncoder(withDtype));
      expect(replaced).toBe(1);
      expect(model.graph.nodes.some((n) => n.opType.startsWith('Random'))).toBe(false);
      const moments = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i));
      const s = await ort.InferenceSession.create(encodeModel(model));
      const a = (await s.run({ moments: new ort.Tensor('float32', moments, [1, 8, 2, 2]) })).latent_sample!.data as Float32Array;
      expect(Array.from(a)).toEqual(Array.from(moments.slice(0, 16)));
    });
  }

  it('leaves deterministic graphs untouched', () => {
    const m = emptyModel(14);
    const b = new GraphBuilder(m.graph, 14);
    b.addInput('x', DataType.FLOAT, [1]);
    b.identity('x', 'y');
    expect(zeroRandomSamplers(m)).toEqual({ model: m, replaced: 0 });
  });
});
