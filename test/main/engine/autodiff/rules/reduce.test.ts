import { describe, it, expect } from 'vitest';
import { DataType } from '../../../../../src/main/engine/onnx/dtype.js';
import { checkGradient, type CheckGradientSpec } from '../fd.js';

async function check(spec: CheckGradientSpec): Promise<void> {
  const r = await checkGradient(spec);
  expect(r.checks.length).toBe(spec.wrt?.length ?? 0);
}

const sin = (b: Parameters<CheckGradientSpec['build']>[0], v: string): string => b.op('Sin', [v]);

describe('reduce rules (finite differences, float64)', () => {
  for (const keepdims of [0, 1]) {
    it(`ReduceSum with an axes input, negative axes, keepdims=${keepdims}`, () =>
      check({
        inputs: { a: { shape: [2, 3, 4] } },
        build: (b, x) => sin(b, b.op('ReduceSum', [x.a!, b.int64s([-1, 0])], { keepdims })),
        wrt: ['a'],
      }));
    it(`ReduceMean with an axes attribute (opset 17), keepdims=${keepdims}`, () =>
      check({
        inputs: { a: { shape: [2, 3, 4] } },
        build: (b, x) => sin(b, b.op('ReduceMean', [x.a!], { axes: [1, -1], keepdims })),
        wrt: ['a'],
      }));
    it(`ReduceMean with an axes input (opset 18), keepdims=${keepdims}`, () =>
      check({
        opset: 18,
        inputs: { a: { shape: [2, 3, 4] } },
        build: (b, x) => sin(b, b.op('ReduceMean', [x.a!, b.int64s([-2])], { keepdims })),
        wrt: ['a'],
      }));
  }
  it('ReduceSum over all axes (no axes input) to a scalar', () =>
    check({ inputs: { a: { shape: [2, 3] } }, build: (b, x) => sin(b, b.op('ReduceSum', [x.a!], { keepdims: 0 })), wrt: ['a'] }));
  it('ReduceMean over all axes (no axes attribute), keepdims default', () =>
    check({ inputs: { a: { shape: [2, 3] } }, build: (b, x) => sin(b, b.op('ReduceMean', [x.a!])), wrt: ['a'] }));
  it('ReduceSum with empty axes and noop_with_empty_axes=1 is the identity', () =>
    check({
      inputs: { a: { shape: [2, 3] } },
      build: (b, x) => sin(b, b.op('ReduceSum', [x.a!, b.int64s([])], { keepdims: 1, noop_with_empty_axes: 1 })),
      wrt: ['a'],
    }));
  it('ReduceSum with axes attribute at opset 11', () =>
    check({
      opset: 11,
      inputs: { a: { shape: [2, 3] } },
      build: (b, x) => sin(b, b.op('ReduceSum', [x.a!], { axes: [0], keepdims: 0 })),
      wrt: ['a'],
    }));
  it('decomposed LayerNorm (ReduceMean/Sub/Pow/Sqrt/Div as in opset-14 exports)', () =>
    check({
      inputs: { a: { shape: [2, 3, 8] } },
      build: (b, x) => {
        const mu = b.op('ReduceMean', [x.a!], { axes: [-1], keepdims: 1 });
        const d = b.op('Sub', [x.a!, mu]);
        const v = b.op('ReduceMean', [b.op('Pow', [d, b.scalar(2, DataType.DOUBLE)])], { axes: [-1], keepdims: 1 });
        return b.op('Div', [d, b.op('Sqrt', [b.op('Add', [v, b.scalar(1e-5, DataType.DOUBLE)])])]);
      },
      wrt: ['a'],
    }));
});
