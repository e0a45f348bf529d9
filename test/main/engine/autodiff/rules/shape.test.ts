import { describe, it, expect } from 'vitest';
import { DataType } from '../../../../../src/main/engine/onnx/dtype.js';
import { checkGradient, type CheckGradientSpec } from '../fd.js';
import { sliceRange } from '../../../../../src/main/engine/autodiff/rules/shape.js';

const D = DataType.DOUBLE;
const I64 = DataType.INT64;
const BIG = 2 ** 63;

async function check(spec: CheckGradientSpec): Promise<void> {
  const r = await checkGradient(spec);
  expect(r.checks.length).toBe((spec.wrt?.length ?? 0) + (spec.wrtInitializers?.length ?? 0));
}

describe('sliceRange (ONNX clamping rules)', () => {
  it('positive, negative and clamped ranges', () => {
    expect(sliceRange(10, 2, 8, 3)).toEqual({ first: 2, count: 2, step: 3 });
    expect(sliceRange(10, -1, -BIG, -1)).toEqual({ first: 9, count: 10, step: -1 });
    expect(sliceRange(10, 0, BIG, 1)).toEqual({ first: 0, count: 10, step: 1 });
    expect(sliceRange(10, 8, 2, -2)).toEqual({ first: 8, count: 3, step: -2 });
    expect(sliceRange(10, 5, 3, 1).count).toBe(0);
  });
});

describe('shape rules (finite differences, float64)', () => {
  it('Reshape with 0 and -1 in the target shape', () =>
    check({ inputs: { a: { shape: [2, 3, 4] } }, build: (b, x) => b.op('Sin', [b.op('Reshape', [x.a!, b.int64s([0, -1])])]), wrt: ['a'] }));
  it('Flatten at axis 2 and at a negative axis', async () => {
    await check({
      inputs: { a: { shape: [2, 3, 2, 2] } },
      build: (b, x) => b.op('Sin', [b.op('Flatten', [x.a!], { axis: 2 })]),
      wrt: ['a'],
    });
    await check({ inputs: { a: { shape: [2, 3, 2] } }, build: (b, x) => b.op('Sin', [b.op('Flatten', [x.a!], { axis: -1 })]), wrt: ['a'] });
  });
  it('Squeeze / Unsqueeze with negative axes (opset 13+ axes inputs)', () =>
    check({
      inputs: { a: { shape: [2, 1, 3, 1] } },
      build: (b, x) => b.op('Sin', [b.unsqueeze(b.squeeze(x.a!, [-1, 1]), [-1, 0])]),
      wrt: ['a'],
    }));
  it('Squeeze / Unsqueeze with axes attributes (opset 11)', () =>
    check({
      opset: 11,
      inputs: { a: { shape: [2, 1, 3] } },
      build: (b, x) => b.op('Sin', [b.unsqueeze(b.squeeze(x.a!, [1]), [-1])]),
      wrt: ['a'],
    }));
  it('Transpose with a permutation and with the default (reversed) one', async () => {
    await check({ inputs: { a: { shape: [2, 3, 4] } }, build: (b, x) => b.op('Sin', [b.transpose(x.a!, [1, 2, 0])]), wrt: ['a'] });
    await check({ inputs: { a: { shape: [2, 3, 4] } }, build: (b, x) => b.op('Sin', [b.op('Transpose', [x.a!])]), wrt: ['a'] });
  });
  it('Concat on a negative axis, some inputs frozen', () =>
    check({
      inputs: { a: { shape: [2, 2] }, b: { shape: [2, 3] }, c: { shape: [2, 1] } },
      build: (b, x) => b.op('Sin', [b.op('Concat', [x.a!, x.b!, x.c!], { axis: -1 })]),
      wrt: ['a', 'c'],
    }));
  it('Concat with a single differentiated input (Slice path)', () =>
    check({
      inputs: { a: { shape: [1, 3] }, b: { shape: [2, 3] } },
      build: (b, x) => b.op('Sin', [b.op('Concat', [x.a!, x.b!, x.a!], { axis: 0 })]),
      wrt: ['b'],
    }));
  it('Concat of the same value twice', () =>
    check({ inputs: { a: { shape: [2, 2] } }, build: (b, x) => b.op('Sin', [b.op('Concat', [x.a!, x.a!], { axis: 1 })]), wrt: ['a'] }));
  it('Split with sizes input on a negative axis; an unused output gets zeros', () =>
    check({
      inputs: { a: { shape: [2, 6] } },
      build: (b, x) => {
        const [p, _q, r] = b.opN('Split', [x.a!, b.int64s([1, 2, 3])], { axis: -1 }, { outputs: 3 });
        return [b.op('Sin', [p!]), b.op('Cos', [r!])];
      },
      wrt: ['a'],
    }));
  it('Split with num_outputs (opset 18)', () =>
    check({
      opset: 18,
      inputs: { a: { shape: [4, 3] } },
      build: (b, x) => {
        const [p, q] = b.opN('Split', [x.a!], { axis: 0, num_outputs: 2 }, { outputs: 2 });
        return b.op('Mul', [p!, q!]);
      },
      wrt: ['a'],
    }));
  it('Slice with steps, negative axes and clamped ends', () =>
    check({
      inputs: { a: { shape: [3, 7, 5] } },
      build: (b, x) => b.op('Sin', [b.slice(x.a!, [1, 0, -4], [2 ** 53, 7, -1], [-3, 1, 2], [1, 3, 2])]),
      wrt: ['a'],
    }));
  it('Slice with negative steps (reversal)', () =>
    check({
      inputs: { a: { shape: [4, 6] } },
      build: (b, x) => b.op('Sin', [b.slice(x.a!, [-1, 5], [-BIG, 0], [0, 1], [-1, -2])]),
      wrt: ['a'],
    }));
  it('Slice without axes/steps inputs', () =>
    check({
      inputs: { a: { shape: [4, 6] } },
      build: (b, x) => b.op('Sin', [b.op('Slice', [x.a!, b.int64s([1, 2]), b.int64s([3, 5])])]),
      wrt: ['a'],
    }));
  it('Slice whose selection is empty on the sliced axis gives a zero-contribution branch', () =>
    check({
      inputs: { a: { shape: [4, 3] } },
      build: (b, x) =>
        b.op('Add', [b.op('ReduceSum', [b.slice(x.a!, [3], [1], [0]), b.int64s([0])], { keepdims: 1 }), b.op('Sin', [x.a!])]),
      wrt: ['a'],
    }));
  it('Gather rows of a table (axis 0, repeated and negative indices) wrt the table (ScatterND add)', () =>
    check({
      inputs: { idx: { shape: [2, 3], dtype: I64, data: [0, 2, 2, -1, 1, 0] } },
      build: (b, x) =>
        b.op('Sin', [
          b.op('Gather', [
            b.initializer(
              'table',
              D,
              [4, 3],
              Array.from({ length: 12 }, (_v, i) => i / 10 - 0.5),
            ),
            x.idx!,
          ]),
        ]),
      wrtInitializers: ['table'],
    }));
  it('Gather wrt the table at opset 14 (one-hot MatMul path)', () =>
    check({
      opset: 14,
      inputs: { idx: { shape: [5], dtype: I64, data: [3, 0, 3, -4, 2] } },
      build: (b, x) =>
        b.op('Sin', [
          b.op('Gather', [
            b.initializer(
              'table',
              D,
              [4, 2],
              Array.from({ length: 8 }, (_v, i) => i / 10),
            ),
            x.idx!,
          ]),
        ]),
      wrtInitializers: ['table'],
    }));
  it('Gather on axis 1 with constant indices', () =>
    check({
      inputs: { a: { shape: [2, 4, 3] } },
      build: (b, x) => b.op('Sin', [b.op('Gather', [x.a!, b.initializer('i', I64, [2, 2], [3, 1, 1, -1])], { axis: 1 })]),
      wrt: ['a'],
    }));
  it('Gather on axis 1 at opset 14', () =>
    check({
      opset: 14,
      inputs: { a: { shape: [2, 4, 3] } },
      build: (b, x) => b.op('Sin', [b.op('Gather', [x.a!, b.initializer('i', I64, [3], [3, 1, 1])], { axis: 1 })]),
      wrt: ['a'],
    }));
  it('Gather of a constant scalar index on a negative axis (pooled-token style)', () =>
    check({
      inputs: { a: { shape: [2, 5, 3] } },
      build: (b, x) => b.op('Sin', [b.op('Gather', [x.a!, b.scalar(-2, I64)], { axis: -2 })]),
      wrt: ['a'],
    }));
  it('GatherElements (ScatterElements add)', () =>
    check({
      inputs: { a: { shape: [3, 4] }, idx: { shape: [3, 2], dtype: I64, data: [0, 0, 3, -1, 2, 1] } },
      build: (b, x) => b.op('Sin', [b.op('GatherElements', [x.a!, x.idx!], { axis: 1 })]),
      wrt: ['a'],
    }));
  it('Expand (rank-increasing broadcast)', () =>
    check({ inputs: { a: { shape: [3, 1] } }, build: (b, x) => b.op('Sin', [b.op('Expand', [x.a!, b.int64s([2, 3, 4])])]), wrt: ['a'] }));
  it('Tile', () =>
    check({ inputs: { a: { shape: [2, 3] } }, build: (b, x) => b.op('Sin', [b.op('Tile', [x.a!, b.int64s([2, 3])])]), wrt: ['a'] }));
  it('Pad constant: positive and negative pads, constant value differentiated', () =>
    check({
      inputs: { a: { shape: [3, 4] }, v: { shape: [] } },
      build: (b, x) => b.op('Sin', [b.op('Pad', [x.a!, b.int64s([1, -1, 2, 1]), x.v!], { mode: 'constant' })]),
      wrt: ['a', 'v'],
    }));
  it('Pad with an axes input (opset 18)', () =>
    check({
      opset: 18,
      inputs: { a: { shape: [2, 3, 4] } },
      build: (b, x) => b.op('Sin', [b.op('Pad', [x.a!, b.int64s([1, 2, 0, 1]), '', b.int64s([-1, 0])])]),
      wrt: ['a'],
    }));
  it('Pad edge and reflect modes', async () => {
    for (const mode of ['edge', 'reflect']) {
      await check({
        label: `Pad ${mode}`,
        inputs: { a: { shape: [2, 4, 5] } },
        build: (b, x) => b.op('Sin', [b.op('Pad', [x.a!, b.int64s([0, 2, 1, 0, 3, 2])], { mode })]),
        wrt: ['a'],
      });
    }
  });
});
