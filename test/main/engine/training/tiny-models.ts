/**
 * Tiny models for the training tests: a conv net classifier (convolutions with stride 1 and 2,
 * 1x1 and 3x3 kernels, GroupNorm, SiLU, a linear head) with a cross-entropy loss, and its data.
 */
import * as ort from 'onnxruntime-node';
import { Net } from '../../../../src/main/engine/models/demo/nn.js';
import { DataType } from '../../../../src/main/engine/onnx/dtype.js';
import type { Model } from '../../../../src/main/engine/onnx/ir.js';
import { addScalarOutput, softmaxCrossEntropy } from '../../../../src/main/engine/training/losses.js';
import { initialiseParams, paramsOf, type ParamSet } from '../../../../src/main/engine/training/params.js';
import type { BatchSource } from '../../../../src/main/engine/training/trainer.js';
import type { RandomStream } from '../../../../src/main/engine/training/random.js';

export const TINY_BATCH = 8;
export const TINY_CLASSES = 3;

/** x [B,2,8,8] -> logits [B,3]; loss = cross-entropy against t [B,3]. */
export function tinyClassifier(): { model: Model; params: ParamSet } {
  const net = new Net(1);
  const b = net.b;
  const x = b.addInput('x', DataType.FLOAT, ['batch', 2, 8, 8]);
  let h = net.conv(x, 'conv_in', 2, 8, 3);
  h = net.silu(net.groupNorm(h, 'norm1', 8, 4), 'act1');
  h = net.conv(h, 'down', 8, 8, 3, { stride: 2, pad: 1 });
  h = net.conv(net.silu(h, 'act2'), 'proj', 8, 4, 1);
  const flat = b.reshape(h, [0, 4 * 4 * 4]);
  const logits = net.linear(flat, 'head', 64, TINY_CLASSES);
  b.identity(logits, 'logits');
  b.addOutput('logits', DataType.FLOAT, ['batch', TINY_CLASSES]);
  const t = b.addInput('t', DataType.FLOAT, ['batch', TINY_CLASSES]);
  addScalarOutput(b, softmaxCrossEntropy(b, logits, t));
  const params = paramsOf(net.model);
  initialiseParams(params, 7);
  return { model: net.model, params };
}

export const TINY_SHAPES = { x: [TINY_BATCH, 2, 8, 8], t: [TINY_BATCH, TINY_CLASSES] };

/** Class c: a bright blob in one of three places on noise. */
export const tinyBatches: BatchSource = {
  next(rng: RandomStream) {
    const n = TINY_BATCH;
    const xs = new Float32Array(n * 2 * 64);
    const ts = new Float32Array(n * TINY_CLASSES);
    for (let i = 0; i < n; i++) {
      const c = rng.int(TINY_CLASSES);
      ts[i * TINY_CLASSES + c] = 1;
      for (let j = 0; j < 128; j++) {
        const y = (j % 64) >> 3;
        const xx = j % 8;
        const on = Math.abs(y - 4) < 2 && Math.abs(xx - (1 + 3 * c)) < 2 ? 1 : 0;
        xs[i * 128 + j] = rng.normal() * 0.3 + on;
      }
    }
    return { x: new ort.Tensor('float32', xs, [n, 2, 8, 8]), t: new ort.Tensor('float32', ts, [n, TINY_CLASSES]) };
  },
};
