/**
 * A stand-in for deepghs/imgutils-models' LPIPS export in the same layout and I/O:
 * `lpips/lpips_feature.onnx` (`input` [B,3,H,W] in [0, 1] -> `feat_0..feat_4`, channel-normalised)
 * and `lpips/lpips_diff.onnx` (`feat_x_l`, `feat_y_l` -> `output` [B]). The "network" is small
 * and exact to recompute: LPIPS' scaling layer, then per layer l a 2^l average pool of the
 * scaled image, a 1x1 convolution (weights W_l [C_l, 3]) and a ReLU; the diff graph is LPIPS'
 * head (squared difference, 1x1 "lin" weights, spatial mean, sum over layers).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { GraphBuilder } from '../../../../src/main/engine/onnx/builder.js';
import { DataType } from '../../../../src/main/engine/onnx/dtype.js';
import { emptyGraph, emptyModel } from '../../../../src/main/engine/onnx/ir.js';
import { writeModel } from '../../../../src/main/engine/onnx/model-io.js';
import type { FeatureMap } from '../../../../src/main/engine/metrics/lpips.js';

export const SHIFT = [-0.03, -0.088, -0.188];
export const SCALE = [0.458, 0.448, 0.45];
export const CHANNELS = [4, 3, 5, 2, 3];

function values(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3));
}
export const CONV = CHANNELS.map((c, l) => values(c * 3, l + 1));
export const LIN = CHANNELS.map((c, l) => values(c, l + 11).map((v) => Math.abs(v)));

/** The fixture's features of an image in [-1, 1] (before channel normalisation), computed in JS. */
export function fixtureFeatures(chw: Float32Array, w: number, h: number): FeatureMap[] {
  const x01 = Array.from(chw, (v) => (v + 1) / 2);
  const scaled = new Float32Array(3 * w * h);
  for (let c = 0; c < 3; c++) for (let p = 0; p < w * h; p++) scaled[c * w * h + p] = (2 * x01[c * w * h + p]! - 1 - SHIFT[c]!) / SCALE[c]!;
  return CHANNELS.map((C, l) => {
    const k = 2 ** l;
    const W = Math.floor(w / k);
    const H = Math.floor(h / k);
    const data = new Float32Array(C * W * H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const px = [0, 1, 2].map((c) => {
          let s = 0;
          for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) s += scaled[c * w * h + (y * k + dy) * w + x * k + dx]!;
          return s / (k * k);
        });
        for (let o = 0; o < C; o++)
          data[o * W * H + y * W + x] = Math.max(
            0,
            CONV[l]![o * 3]! * px[0]! + CONV[l]![o * 3 + 1]! * px[1]! + CONV[l]![o * 3 + 2]! * px[2]!,
          );
      }
    }
    return { data, channels: C, height: H, width: W };
  });
}

/** Write `<dir>/lpips/lpips_feature.onnx` and `lpips_diff.onnx`. */
export async function writeLpipsFixture(dir: string): Promise<void> {
  await mkdir(path.join(dir, 'lpips'), { recursive: true });
  const opset = 17;
  {
    const g = emptyGraph('lpips_feature');
    const b = new GraphBuilder(g, opset);
    const x = b.addInput('input', DataType.FLOAT, ['batch', 3, 'height', 'width']);
    const two = b.initializer('two', DataType.FLOAT, [], [2]);
    const one = b.initializer('one', DataType.FLOAT, [], [1]);
    const shift = b.initializer('shift', DataType.FLOAT, [1, 3, 1, 1], SHIFT);
    const scale = b.initializer('scale', DataType.FLOAT, [1, 3, 1, 1], SCALE);
    const s = b.op('Div', [b.op('Sub', [b.op('Sub', [b.op('Mul', [x, two]), one]), shift]), scale]);
    const eps = b.initializer('eps', DataType.FLOAT, [], [1e-10]);
    CHANNELS.forEach((C, l) => {
      const k = 2 ** l;
      const pooled = k === 1 ? s : b.op('AveragePool', [s], { kernel_shape: [k, k], strides: [k, k] });
      const w = b.initializer(`conv${l}`, DataType.FLOAT, [C, 3, 1, 1], CONV[l]!);
      const f = b.op('Relu', [b.op('Conv', [pooled, w], { kernel_shape: [1, 1] })]);
      const norm = b.op('Sqrt', [b.op('ReduceSum', [b.op('Mul', [f, f]), b.int64s([1], 'axes')], { keepdims: 1 })]);
      b.opN('Div', [f, b.op('Add', [norm, eps])], {}, { outputNames: [`feat_${l}`] });
      b.addOutput(`feat_${l}`, DataType.FLOAT, ['batch', C, 'h', 'w']);
    });
    await writeModel(emptyModel(opset, g), path.join(dir, 'lpips', 'lpips_feature.onnx'));
  }
  {
    const g = emptyGraph('lpips_diff');
    const b = new GraphBuilder(g, opset);
    const terms = CHANNELS.map((C, l) => {
      const fx = b.addInput(`feat_x_${l}`, DataType.FLOAT, ['batch', C, 'h', 'w']);
      return fx;
    });
    const ys = CHANNELS.map((C, l) => b.addInput(`feat_y_${l}`, DataType.FLOAT, ['batch', C, 'h', 'w']));
    const per = CHANNELS.map((C, l) => {
      const d = b.op('Sub', [terms[l]!, ys[l]!]);
      const lin = b.op('Conv', [b.op('Mul', [d, d]), b.initializer(`lin${l}`, DataType.FLOAT, [1, C, 1, 1], LIN[l]!)], {
        kernel_shape: [1, 1],
      });
      return b.op('ReduceMean', [lin], { axes: [2, 3], keepdims: 1 });
    });
    const sum = per.slice(1).reduce((a, v) => b.op('Add', [a, v]), per[0]!);
    b.opN('Reshape', [sum, b.int64s([-1], 'flat')], {}, { outputNames: ['output'] });
    b.addOutput('output', DataType.FLOAT, ['batch']);
    await writeModel(emptyModel(opset, g), path.join(dir, 'lpips', 'lpips_diff.onnx'));
  }
}
