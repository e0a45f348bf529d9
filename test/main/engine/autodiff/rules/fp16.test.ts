/**
 * fp16 graphs stay fp16: for each rule family, the VJP of a float16 model must produce float16
 * gradients (same dtype as the activations, no float32 leaking out) that agree with the VJP of
 * the same model in float32 (inputs, weights and cotangents rounded to half first).
 */
import { describe, it, expect } from 'vitest';
import type * as ort from 'onnxruntime-node';
import { DataType, floatToHalf, halfArrayToFloat32, halfToFloat } from '../../../../../src/main/engine/onnx/dtype.js';
import { f, type GraphBuilder } from '../../../../../src/main/engine/onnx/builder.js';
import { buildVjp } from '../../../../../src/main/engine/autodiff/vjp.js';
import { buildForward, rng } from '../fd.js';
import { runModel, tensor, toNumbers } from '../ort.js';

type Build = (b: GraphBuilder, x: Record<string, string>, dtype: DataType) => string;

interface Fp16Case {
  label: string;
  opset?: number;
  inputs: Record<string, number[]>;
  build: Build;
  wrt: string[];
  wrtInitializers?: string[];
}

/** Deterministic weights, already representable in half precision. */
function halfValues(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_v, i) => halfToFloat(floatToHalf(Math.sin(i * 1.37 + seed) * 0.9)));
}

async function vjpRun(c: Fp16Case, dtype: DataType): Promise<{ grads: Record<string, Float64Array>; dtypes: Record<string, string> }> {
  const half = dtype === DataType.FLOAT16;
  const inputs = Object.fromEntries(
    Object.entries(c.inputs).map(([name, shape], k) => {
      const v = halfValues(
        shape.reduce((p, q) => p * q, 1),
        k + 1,
      );
      return [name, { shape, dtype, data: half ? v.map(floatToHalf) : v }];
    }),
  );
  const { model, feeds } = await buildForward({ opset: c.opset ?? 17, inputs, build: (b, x) => c.build(b, x, dtype) });
  const res = buildVjp(model, { wrt: c.wrt, wrtInitializers: c.wrtInitializers ?? [] });
  const rand = rng(99);
  const allFeeds = { ...feeds };
  for (const [o, cin] of Object.entries(res.cotangentInputs)) {
    const shape = model.graph.outputs.find((v) => v.name === o)!.shape as number[];
    const cot = Array.from({ length: shape.reduce((p, q) => p * q, 1) }, () => halfToFloat(floatToHalf(rand() * 2 - 1)));
    allFeeds[cin] = tensor(dtype, shape, half ? cot.map(floatToHalf) : cot);
  }
  const out = await runModel(res.model, allFeeds);
  const grads: Record<string, Float64Array> = {};
  const dtypes: Record<string, string> = {};
  for (const [w, gname] of Object.entries(res.gradOutputs)) {
    const t = out[gname] as ort.Tensor;
    dtypes[w] = t.type;
    grads[w] = half ? Float64Array.from(halfArrayToFloat32(t.data as Uint16Array)) : toNumbers(t);
  }
  // The declared graph outputs carry the activation dtype too.
  for (const gname of Object.values(res.gradOutputs)) expect(res.model.graph.outputs.find((o) => o.name === gname)!.dtype).toBe(dtype);
  return { grads, dtypes };
}

async function compare(c: Fp16Case, rtol = 2e-2): Promise<void> {
  const h = await vjpRun(c, DataType.FLOAT16);
  const s = await vjpRun(c, DataType.FLOAT);
  for (const w of [...c.wrt, ...(c.wrtInitializers ?? [])]) {
    expect(h.dtypes[w], `${c.label}: d/d${w} dtype`).toBe('float16');
    const ref = s.grads[w]!;
    const got = h.grads[w]!;
    const scale = Math.max(...Array.from(ref, Math.abs));
    let err = 0;
    for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(got[i]! - ref[i]!));
    expect(err, `${c.label}: d/d${w} max |fp16 - fp32| vs scale ${scale}`).toBeLessThanOrEqual(rtol * scale + 1e-3);
  }
}

const init = (b: GraphBuilder, name: string, dtype: DataType, dims: number[], seed: number) =>
  b.initializer(
    name,
    dtype,
    dims,
    halfValues(
      dims.reduce((p, q) => p * q, 1),
      seed,
    ),
  );

describe('fp16 models get fp16 gradients that match float32', () => {
  it('Conv 3x3 stride 2 pads 1 with bias (input, weight and bias gradients)', () =>
    compare({
      label: 'Conv',
      inputs: { x: [1, 2, 6, 6] },
      build: (b, x, dt) =>
        b.op('Conv', [x.x!, init(b, 'w', dt, [3, 2, 3, 3], 7), init(b, 'bias', dt, [3], 8)], { strides: [2, 2], pads: [1, 1, 1, 1] }),
      wrt: ['x'],
      wrtInitializers: ['w', 'bias'],
    }));
  it('Conv 3x3 stride 1 (input gradient: Conv with the flipped kernel), grouped', () =>
    compare({
      label: 'Conv s1',
      inputs: { x: [1, 4, 5, 6] },
      build: (b, x, dt) => b.op('Conv', [x.x!, init(b, 'w', dt, [4, 2, 3, 3], 9)], { group: 2, pads: [1, 1, 1, 1] }),
      wrt: ['x'],
    }));
  it('GroupNorm as exported (InstanceNormalization with unit scale / zero bias) and erf GELU', () =>
    compare({
      label: 'exported GroupNorm + GELU',
      inputs: { x: [1, 4, 3, 3] },
      build: (b, x, dt) => {
        const r = b.op('Reshape', [x.x!, b.int64s([0, 2, -1])]);
        const n = b.op('InstanceNormalization', [r, b.initializer('ones', dt, [2], [1, 1]), b.initializer('zeros', dt, [2], [0, 0])], {
          epsilon: f(1e-5),
        });
        const y = b.op('Mul', [b.op('Reshape', [n, b.int64s([1, 4, 3, 3])]), init(b, 'gamma', dt, [4, 1, 1], 4)]);
        const e = b.op('Erf', [b.op('Div', [y, b.scalar(Math.SQRT2, dt)])]);
        return b.op('Mul', [b.op('Mul', [y, b.op('Add', [e, b.scalar(1, dt)])]), b.scalar(0.5, dt)]);
      },
      wrt: ['x'],
    }));
  it('ConvTranspose', () =>
    compare({
      label: 'ConvTranspose',
      inputs: { x: [1, 2, 3, 3] },
      build: (b, x, dt) =>
        b.op('ConvTranspose', [x.x!, init(b, 'w', dt, [2, 2, 3, 3], 5)], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }),
      wrt: ['x'],
      wrtInitializers: ['w'],
    }));
  it('MatMul activation x weight', () =>
    compare({
      label: 'MatMul',
      inputs: { a: [2, 3, 4] },
      build: (b, x, dt) => b.op('MatMul', [x.a!, init(b, 'w', dt, [4, 5], 3)]),
      wrt: ['a'],
      wrtInitializers: ['w'],
    }));
  it('Gemm transB with bias', () =>
    compare({
      label: 'Gemm',
      inputs: { a: [3, 4], b: [5, 4], c: [5] },
      build: (b, x) => b.op('Gemm', [x.a!, x.b!, x.c!], { transB: 1, alpha: f(0.5), beta: f(2) }),
      wrt: ['a', 'b', 'c'],
    }));
  it('Einsum attention values', () =>
    compare({
      label: 'Einsum',
      inputs: { p: [1, 2, 3, 4], v: [1, 2, 4, 5] },
      build: (b, x) => b.op('Einsum', [x.p!, x.v!], { equation: 'bhqk,bhkd->bhqd' }),
      wrt: ['p', 'v'],
    }));
  it('Softmax and LogSoftmax', async () => {
    await compare({ label: 'Softmax', inputs: { x: [2, 3, 5] }, build: (b, x) => b.op('Softmax', [x.x!], { axis: -1 }), wrt: ['x'] });
    await compare({ label: 'LogSoftmax', inputs: { x: [2, 5] }, build: (b, x) => b.op('LogSoftmax', [x.x!], { axis: 1 }), wrt: ['x'] });
  });
  it('InstanceNormalization', () =>
    compare({
      label: 'InstanceNormalization',
      inputs: { x: [1, 3, 4, 4], s: [3], bias: [3] },
      build: (b, x) => b.op('InstanceNormalization', [x.x!, x.s!, x.bias!], { epsilon: f(1e-5) }),
      wrt: ['x', 's', 'bias'],
    }));
  it('LayerNormalization', () =>
    compare({
      label: 'LayerNormalization',
      inputs: { x: [2, 3, 8], s: [8], bias: [8] },
      build: (b, x) => b.op('LayerNormalization', [x.x!, x.s!, x.bias!], { axis: -1, epsilon: f(1e-5) }),
      wrt: ['x', 's', 'bias'],
    }));
  it('GroupNormalization (opset 18)', () =>
    compare({
      label: 'GroupNormalization',
      opset: 18,
      inputs: { x: [1, 4, 3, 3], s: [2], bias: [2] },
      build: (b, x) => b.op('GroupNormalization', [x.x!, x.s!, x.bias!], { num_groups: 2, epsilon: f(1e-5) }),
      wrt: ['x', 's', 'bias'],
    }));
  it('Resize nearest 2x (block sum) and bilinear (MatMul with fp16 constants)', async () => {
    const resize = (mode: string, extra: Record<string, string>) => (b: GraphBuilder, x: Record<string, string>) =>
      b.op('Resize', [x.x!, '', b.initializer('scales', DataType.FLOAT, [4], [1, 1, 2, 2])], { mode, ...extra });
    await compare({
      label: 'Resize nearest',
      inputs: { x: [1, 2, 3, 3] },
      build: resize('nearest', { coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }),
      wrt: ['x'],
    });
    await compare({ label: 'Resize linear', inputs: { x: [1, 2, 3, 3] }, build: resize('linear', {}), wrt: ['x'] });
  });
  it('Trilu', () =>
    compare({ label: 'Trilu', inputs: { x: [2, 4, 4] }, build: (b, x) => b.op('Trilu', [x.x!], { upper: 0 }), wrt: ['x'] }));
});
