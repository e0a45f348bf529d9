import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../../../src/main/engine/errors.js';
import { GraphBuilder, makeTensor } from '../../../../src/main/engine/onnx/builder.js';
import { DataType, ortTypeName } from '../../../../src/main/engine/onnx/dtype.js';
import { emptyGraph, emptyModel, type Dim, type Model } from '../../../../src/main/engine/onnx/ir.js';
import { encodeModel, readModel } from '../../../../src/main/engine/onnx/model-io.js';
import { inferShapes } from '../../../../src/main/engine/onnx/shape-inference.js';
import { fixtureDir, haveFixture, runtimeShapes } from './peer-fixtures.js';

// As JS numbers these are ±2^63; the builder clamps them to the exact int64 limits.
const INT64_MAX = 2 ** 63;
const INT64_MIN = -(2 ** 63);

function model(opset: number, build: (b: GraphBuilder) => void): Model {
  const g = emptyGraph('g');
  build(new GraphBuilder(g, opset));
  return emptyModel(opset, g);
}

const shapeOf = (m: Model, name: string): Dim[] | undefined => m.graph.valueInfo.get(name)?.shape;

/** Infer, then run in onnxruntime and require every value's dims and type to match. */
async function verify(m: Model): Promise<void> {
  inferShapes(m);
  const feeds: Record<string, { dtype: string; data: Float32Array | BigInt64Array; dims: number[] }> = {};
  for (const v of m.graph.inputs) {
    const dims = v.shape as number[];
    const n = dims.reduce((a, b) => a * b, 1);
    if (v.dtype === DataType.INT64) feeds[v.name] = { dtype: 'int64', data: new BigInt64Array(n).fill(1n), dims };
    else feeds[v.name] = { dtype: 'float32', data: new Float32Array(n).map((_, i) => Math.sin(i + 1)), dims };
  }
  const actual = await runtimeShapes(encodeModel, m, feeds);
  expect(actual.size).toBeGreaterThan(0);
  for (const [name, { dims, type }] of actual) {
    const vi = m.graph.valueInfo.get(name);
    expect(vi?.shape, `shape of ${name}`).toEqual(dims);
    expect(ortTypeName(vi!.dtype), `type of ${name}`).toBe(type);
  }
}

/** Add a graph output for each named value so onnxruntime computes it. */
function outputs(b: GraphBuilder, ...names: string[]): void {
  for (const n of names) b.addOutput(n, DataType.UNDEFINED);
}

describe('broadcasting', () => {
  it('multidirectional broadcasting for arithmetic, comparisons, variadic Max and Where', async () => {
    const m = model(17, (b) => {
      b.addInput('a', DataType.FLOAT, [2, 1, 4]);
      b.addInput('c', DataType.FLOAT, [3, 1]);
      const add = b.op('Add', ['a', 'c']);
      const mul = b.op('Mul', ['a', b.scalar(2)]);
      const less = b.op('Less', ['c', 'a']);
      const max = b.op('Max', ['a', 'c', b.initializer('m', DataType.FLOAT, [4], [0, 1, 2, 3])]);
      const where = b.op('Where', [less, add, b.scalar(0)]);
      const not = b.op('Not', [less]);
      const and = b.op('And', [not, less]);
      const pow = b.op('Pow', ['c', b.scalar(2)]);
      outputs(b, add, mul, less, max, where, and, pow);
    });
    await verify(m);
    const [add] = m.graph.nodes.map((n) => n.outputs[0]!);
    expect(shapeOf(m, add!)).toEqual([2, 3, 4]);
  });

  it('keeps symbolic dims and rejects incompatible static dims', () => {
    const m = model(17, (b) => {
      b.addInput('a', DataType.FLOAT, ['batch', 1, 'n']);
      b.addInput('c', DataType.FLOAT, [3, 1]);
      b.addInput('d', DataType.FLOAT, ['n']);
      outputs(b, b.op('Add', ['a', 'c']), b.op('Sub', ['a', 'd']));
    });
    inferShapes(m);
    expect(shapeOf(m, m.graph.nodes[0]!.outputs[0]!)).toEqual(['batch', 3, 'n']);
    expect(shapeOf(m, m.graph.nodes[1]!.outputs[0]!)).toEqual(['batch', 1, 'n']);
    const bad = model(17, (b) => {
      b.addInput('a', DataType.FLOAT, [2, 3]);
      b.addInput('c', DataType.FLOAT, [4]);
      b.op('Add', ['a', 'c'], {}, { name: 'bad_add' });
    });
    expect(() => inferShapes(bad)).toThrow(EngineError);
    expect(() => inferShapes(bad)).toThrow(/bad_add.*\[2,3\] and \[4\]/);
  });
});

describe('Slice', () => {
  it('negative, clamped, INT64_MAX/MIN ends, steps and axes (opset 13 inputs)', async () => {
    const cases: [number[], number[], number[], number[] | undefined][] = [
      [[1], [-1], [0], undefined],
      [[-3], [INT64_MAX], [1], undefined],
      [[2], [100], [2], [1]],
      [[-100], [3], [-1], [1]],
      [
        [0, 1],
        [INT64_MAX, INT64_MAX],
        [0, 2],
        [3, 2],
      ],
      [[-1], [INT64_MIN], [0], [-1]],
      [[INT64_MAX], [INT64_MIN], [1], [-2]],
      [[4], [1], [2], [-1]],
      [[5], [2], [0], [1]],
      [[7], [2], [0], [1]],
      [[20], [30], [2], [1]],
    ];
    const m = model(13, (b) => {
      b.addInput('x', DataType.FLOAT, [10, 8, 6]);
      for (const [s, e, a, st] of cases) outputs(b, b.slice('x', s, e, a, st));
      // Omitted axes (all leading axes) and omitted steps.
      outputs(b, b.op('Slice', ['x', b.int64s([1, 2]), b.int64s([-1, -2])]));
    });
    await verify(m);
    const o = (i: number) => shapeOf(m, m.graph.nodes[i]!.outputs[0]!);
    expect(o(0)).toEqual([8, 8, 6]);
    expect(o(1)).toEqual([10, 3, 6]);
    expect(o(4)).toEqual([4, 8, 3]);
    expect(o(5)).toEqual([10, 8, 6]);
    expect(o(7)).toEqual([10, 8, 3]); // 4,3,2
    expect(o(8)).toEqual([0, 8, 6]);
    expect(o(10)).toEqual([10, 8, 0]);
  });

  it('attribute form (opset 9) and symbolic dims', async () => {
    const m = model(9, (b) => {
      b.addInput('x', DataType.FLOAT, [10, 8]);
      outputs(b, b.op('Slice', ['x'], { starts: [2, -3], ends: [INT64_MAX, -1], axes: [0, 1] }));
    });
    await verify(m);
    expect(shapeOf(m, m.graph.nodes[0]!.outputs[0]!)).toEqual([8, 2]);
    const s = model(13, (b) => {
      b.addInput('x', DataType.FLOAT, ['b', 'seq', 32]);
      outputs(
        b,
        b.slice('x', [0, 1], [INT64_MAX, -1], [1, 2]),
        b.slice('x', [2], [INT64_MAX], [1]),
        b.slice('x', [0], [5], [1]),
        b.slice('x', [-1], [INT64_MIN], [1], [-1]),
      );
    });
    inferShapes(s);
    const o = (i: number) => shapeOf(s, s.graph.nodes[i]!.outputs[0]!);
    expect(o(0)).toEqual(['b', 'seq', 30]);
    expect(o(1)).toEqual(['b', 'seq-2', 32]);
    expect(o(2)).toEqual(['b', 5, 32]);
    expect(o(3)).toEqual(['b', 'seq', 32]);
  });
});

describe('Reshape', () => {
  it('0 copies, -1 infers, allowzero keeps zeros', async () => {
    const m = model(14, (b) => {
      b.addInput('x', DataType.FLOAT, [2, 3, 4]);
      b.addInput('z', DataType.FLOAT, [0, 3]);
      outputs(b, b.reshape('x', [0, -1]), b.reshape('x', [-1]), b.reshape('x', [4, 0, -1]), b.reshape('x', [0, 0, 2, 2]));
      outputs(b, b.op('Reshape', ['z', b.int64s([3, 0])], { allowzero: 1 }), b.op('Reshape', ['z', b.int64s([-1, 3])]));
    });
    await verify(m);
    const o = (i: number) => shapeOf(m, m.graph.nodes[i]!.outputs[0]!);
    expect(o(0)).toEqual([2, 12]);
    expect(o(1)).toEqual([24]);
    expect(o(2)).toEqual([4, 3, 2]);
    expect(o(4)).toEqual([3, 0]);
  });

  it('follows Shape -> Gather -> Concat chains with symbolic dims', () => {
    const m = model(14, (b) => {
      b.addInput('x', DataType.FLOAT, ['b', 'seq', 32]);
      const shape = b.op('Shape', ['x']);
      const bdim = b.unsqueeze(b.op('Gather', [shape, b.scalar(0, DataType.INT64)], { axis: 0 }), [0]);
      const sdim = b.op('Gather', [shape, b.int64s([1])], { axis: 0 });
      const target = b.op('Concat', [bdim, sdim, b.int64s([4, 8])], { axis: 0 });
      const r = b.op('Reshape', ['x', target]);
      const flat = b.reshape('x', [0, -1]);
      const rows = b.reshape('x', [-1, 32]);
      outputs(b, r, flat, rows);
    });
    inferShapes(m);
    const outs = m.graph.outputs.map((o) => o.shape);
    expect(outs[0]).toEqual(['b', 'seq', 4, 8]);
    expect(outs[1]).toEqual(['b', '32*seq']);
    expect(outs[2]).toEqual(['b*seq', 32]);
  });

  it('rejects impossible reshapes with SHAPE_MISMATCH', () => {
    const m = model(14, (b) => {
      b.addInput('x', DataType.FLOAT, [2, 3]);
      b.reshape('x', [4, -1]);
    });
    expect(() => inferShapes(m)).toThrow(/cannot reshape \[2,3\]/);
  });
});

describe('Einsum', () => {
  it('explicit, implicit, transposes and broadcast ellipsis', async () => {
    const m = model(12, (b) => {
      b.addInput('a', DataType.FLOAT, [2, 3, 4]);
      b.addInput('c', DataType.FLOAT, [2, 4, 5]);
      b.addInput('q', DataType.FLOAT, [1, 2, 7, 8]);
      b.addInput('k', DataType.FLOAT, [3, 2, 6, 8]);
      b.addInput('m', DataType.FLOAT, [3, 4]);
      outputs(
        b,
        b.op('Einsum', ['a', 'c'], { equation: 'bij,bjk->bik' }),
        b.op('Einsum', ['m'], { equation: 'ij->ji' }),
        b.op('Einsum', ['m', 'm'], { equation: 'ij,kj' }),
        b.op('Einsum', ['q', 'k'], { equation: '...qd,...kd->...qk' }),
        b.op('Einsum', ['a', 'a'], { equation: 'bij, bkj -> bik' }),
        b.op('Einsum', ['a'], { equation: 'bij->b' }),
        b.op('Einsum', ['a'], { equation: 'bji' }),
      );
    });
    await verify(m);
    const o = (i: number) => shapeOf(m, m.graph.nodes[i]!.outputs[0]!);
    expect(o(0)).toEqual([2, 3, 5]);
    expect(o(1)).toEqual([4, 3]);
    expect(o(2)).toEqual([3, 3]);
    expect(o(3)).toEqual([3, 2, 7, 6]);
    expect(o(5)).toEqual([2]);
    expect(o(4)).toEqual([2, 3, 3]);
    expect(o(6)).toEqual([2, 4, 3]);
  });
});

describe('indexing and layout ops', () => {
  it('Gather (scalar and tensor indices), Squeeze/Unsqueeze, Split, Concat, Transpose, Flatten, Tile, Expand (opset 13)', async () => {
    const m = model(13, (b) => {
      b.addInput('x', DataType.FLOAT, [5, 7, 1]);
      const g0 = b.op('Gather', ['x', b.scalar(2, DataType.INT64)], { axis: 1 });
      const g1 = b.op('Gather', ['x', b.initializer('idx', DataType.INT64, [2, 3], [0, 1, 2, -1, -2, 0])], { axis: 0 });
      const sq = b.squeeze('x', [-1]);
      const sqAll = b.op('Squeeze', ['x']);
      const un = b.unsqueeze('x', [0, -1]);
      const [s0, s1] = b.split('x', 1, [3, 4]);
      const eq = b.opN('Split', ['x'], { axis: 1 }, { outputs: 1 });
      const cat = b.op('Concat', [s1!, s0!], { axis: -2 });
      const tr = b.transpose('x', [2, 0, 1]);
      const fl = b.op('Flatten', ['x'], { axis: 2 });
      const fl0 = b.op('Flatten', ['x'], { axis: 0 });
      const tile = b.op('Tile', ['x', b.int64s([2, 1, 3])]);
      const ex = b.op('Expand', [sq, b.int64s([2, 1, 1])]);
      outputs(b, g0, g1, sq, sqAll, un, s0!, s1!, eq[0]!, cat, tr, fl, fl0, tile, ex);
    });
    await verify(m);
    const byOut = (i: number) => shapeOf(m, m.graph.outputs[i]!.name);
    expect(byOut(0)).toEqual([5, 1]);
    expect(byOut(1)).toEqual([2, 3, 7, 1]);
    expect(byOut(3)).toEqual([5, 7]);
    expect(byOut(13)).toEqual([2, 5, 7]);
  });

  it('attribute forms of Squeeze/Unsqueeze/Split (opset 11) and Split num_outputs (opset 18)', async () => {
    const m11 = model(11, (b) => {
      b.addInput('x', DataType.FLOAT, [6, 1, 4]);
      const sq = b.squeeze('x', [1]);
      const un = b.unsqueeze('x', [1, 4]);
      const sp = b.split('x', 0, [1, 5]);
      const even = b.opN('Split', ['x'], { axis: -1 }, { outputs: 2 });
      const red = b.op('ReduceSum', ['x'], { axes: [0, 2], keepdims: 0 });
      outputs(b, sq, un, ...sp, ...even, red);
    });
    await verify(m11);
    expect(m11.graph.outputs.map((o) => shapeOf(m11, o.name))).toEqual([
      [6, 4],
      [6, 1, 1, 4, 1],
      [1, 1, 4],
      [5, 1, 4],
      [6, 1, 2],
      [6, 1, 2],
      [1],
    ]);
    const m18 = model(18, (b) => {
      b.addInput('x', DataType.FLOAT, [7, 2]);
      outputs(b, ...b.opN('Split', ['x'], { axis: 0, num_outputs: 3 }, { outputs: 3 }));
    });
    await verify(m18);
    expect(m18.graph.outputs.map((o) => shapeOf(m18, o.name))).toEqual([
      [3, 2],
      [3, 2],
      [1, 2],
    ]);
  });

  it('Shape (start/end), Size, Range, ConstantOfShape, Cast, Trilu, Pad', async () => {
    const m = model(18, (b) => {
      b.addInput('x', DataType.FLOAT, [2, 3, 4, 5]);
      const sh = b.op('Shape', ['x'], { start: 1, end: -1 });
      const shNeg = b.op('Shape', ['x'], { start: -2 });
      const size = b.op('Size', ['x']);
      const range = b.op('Range', [b.scalar(1, DataType.INT64), b.scalar(10, DataType.INT64), b.scalar(3, DataType.INT64)]);
      const rangeF = b.op('Range', [b.scalar(0.5), b.scalar(-2), b.scalar(-0.75)]);
      const cos = b.constantOfShape(sh, 1, DataType.INT64);
      const cast = b.cast('x', DataType.INT64);
      const tri = b.op('Trilu', ['x', b.scalar(1, DataType.INT64)], { upper: 0 });
      const pad = b.op('Pad', ['x', b.int64s([0, 1, 0, 2, 0, 3, 0, 4])]);
      const padAxes = b.op('Pad', ['x', b.int64s([1, 2, 3, 4]), '', b.int64s([-1, 1])]);
      outputs(b, sh, shNeg, size, range, rangeF, cos, cast, tri, pad, padAxes);
    });
    await verify(m);
    expect(m.graph.outputs.map((o) => shapeOf(m, o.name))).toEqual([
      [2],
      [2],
      [],
      [3],
      [4],
      [3, 4],
      [2, 3, 4, 5],
      [2, 3, 4, 5],
      [2, 7, 4, 11],
      [2, 9, 4, 9],
    ]);
  });
});

describe('convolution, pooling and resize', () => {
  it('Conv with strides/pads/dilations/auto_pad and ConvTranspose with output_padding/output_shape/group', async () => {
    const w = (name: string, dims: number[]) =>
      makeTensor(name, DataType.FLOAT, dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.1));
    const m = model(17, (b) => {
      b.addInput('x', DataType.FLOAT, [1, 4, 9, 10]);
      const w1 = b.addInitializer(w('w1', [8, 4, 3, 3]));
      const w2 = b.addInitializer(w('w2', [4, 3, 3, 3]));
      const w3 = b.addInitializer(w('w3', [8, 2, 3, 3]));
      outputs(
        b,
        b.op('Conv', ['x', w1], { strides: [2, 2], pads: [1, 1, 1, 1] }),
        b.op('Conv', ['x', w1], { dilations: [2, 1] }),
        b.op('Conv', ['x', w1], { auto_pad: 'SAME_UPPER', strides: [2, 3] }),
        b.op('Conv', ['x', w3], { group: 2, pads: [0, 1, 2, 1] }),
        b.op('ConvTranspose', ['x', w2], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }),
        b.op('ConvTranspose', ['x', w2], { strides: [2, 2], output_shape: [19, 21] }),
        b.op('ConvTranspose', ['x', w2], { strides: [1, 2], dilations: [2, 1] }),
        b.op('ConvTranspose', ['x', w2], { group: 2 }),
        b.op('MaxPool', ['x'], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }),
        b.op('AveragePool', ['x'], { kernel_shape: [2, 2], strides: [2, 2] }),
        b.op('GlobalAveragePool', ['x']),
      );
    });
    await verify(m);
    expect(m.graph.outputs.map((o) => shapeOf(m, o.name))).toEqual([
      [1, 8, 5, 5],
      [1, 8, 5, 8],
      [1, 8, 5, 4],
      [1, 8, 9, 10],
      [1, 3, 18, 20],
      [1, 3, 19, 21],
      [1, 3, 13, 21],
      [1, 6, 11, 12],
      [1, 4, 4, 5],
      [1, 4, 4, 5],
      [1, 4, 1, 1],
    ]);
  });

  it('Resize by scales or sizes (opset 13 and 18 with axes); symbolic x2 upsampling', async () => {
    const m13 = model(13, (b) => {
      b.addInput('x', DataType.FLOAT, [1, 2, 5, 6]);
      const scales = b.initializer('scales', DataType.FLOAT, [4], [1, 1, 2, 2]);
      const empty = b.initializer('empty', DataType.FLOAT, [0], []);
      outputs(
        b,
        b.op('Resize', ['x', '', scales], { mode: 'nearest' }),
        b.op('Resize', ['x', empty, empty, b.int64s([1, 2, 7, 3])], { mode: 'nearest' }),
        b.op('Resize', ['x', '', b.initializer('s2', DataType.FLOAT, [4], [1, 1, 0.5, 1.5])], { mode: 'nearest' }),
      );
    });
    await verify(m13);
    expect(m13.graph.outputs.map((o) => shapeOf(m13, o.name))).toEqual([
      [1, 2, 10, 12],
      [1, 2, 7, 3],
      [1, 2, 2, 9],
    ]);
    const m18 = model(18, (b) => {
      b.addInput('x', DataType.FLOAT, [1, 2, 5, 6]);
      outputs(b, b.op('Resize', ['x', '', '', b.int64s([8, 9])], { axes: [2, 3], mode: 'nearest' }));
    });
    await verify(m18);
    expect(shapeOf(m18, m18.graph.outputs[0]!.name)).toEqual([1, 2, 8, 9]);
    const sym = model(13, (b) => {
      b.addInput('x', DataType.FLOAT, ['b', 4, 'h', 'w']);
      outputs(b, b.op('Resize', ['x', '', b.initializer('sc', DataType.FLOAT, [4], [1, 1, 2, 2])], { mode: 'nearest' }));
    });
    inferShapes(sym);
    expect(sym.graph.outputs[0]!.shape).toEqual(['b', 4, '2*h', '2*w']);
  });
});

describe('normalisation, reductions and matrix ops', () => {
  it('Gemm, MatMul (1-D and batched), Softmax, norms, reductions across opsets', async () => {
    const m = model(18, (b) => {
      b.addInput('x', DataType.FLOAT, [2, 6, 4]);
      b.addInput('v', DataType.FLOAT, [4]);
      b.addInput('a', DataType.FLOAT, [3, 5]);
      const wt = b.initializer('wt', DataType.FLOAT, [7, 5], new Float32Array(35));
      outputs(
        b,
        b.op('Gemm', ['a', wt, b.initializer('gb', DataType.FLOAT, [7], new Float32Array(7))], { transB: 1 }),
        b.op('MatMul', ['x', 'v']),
        b.op('MatMul', ['v', b.transpose('x', [0, 2, 1])]),
        b.op('MatMul', ['x', b.initializer('w4', DataType.FLOAT, [1, 4, 3], new Float32Array(12))]),
        b.op('Softmax', ['x'], { axis: -1 }),
        b.op(
          'LayerNormalization',
          [
            'x',
            b.initializer('g', DataType.FLOAT, [4], new Float32Array(4).fill(1)),
            b.initializer('bb', DataType.FLOAT, [4], new Float32Array(4)),
          ],
          { axis: -1 },
        ),
        b.op(
          'GroupNormalization',
          [
            'x',
            b.initializer('gs', DataType.FLOAT, [3], new Float32Array(3).fill(1)),
            b.initializer('gbias', DataType.FLOAT, [3], new Float32Array(3)),
          ],
          { num_groups: 3 },
        ),
        b.op('InstanceNormalization', [
          'x',
          b.initializer('is', DataType.FLOAT, [6], new Float32Array(6).fill(1)),
          b.initializer('ib', DataType.FLOAT, [6], new Float32Array(6)),
        ]),
        b.reduceSum('x', [1], false),
        b.reduce('ReduceMax', 'x', [-1], true),
        b.reduce('ReduceMean', 'x', [0, 2], false),
        b.op('ReduceSum', ['x'], { keepdims: 1 }),
        b.op('Clip', ['x', b.scalar(-1), b.scalar(1)]),
        b.op('Tanh', [b.op('Exp', [b.op('Neg', [b.op('Abs', [b.op('Log', [b.op('Relu', ['x'])])])])])]),
        b.op('Identity', ['x']),
        b.op('Greater', ['x', 'v']),
        b.op('Or', [b.op('Greater', ['x', 'v']), b.op('Less', ['x', 'v'])]),
        b.op('ArgMax', ['x'], { axis: 1, keepdims: 0 }),
      );
    });
    await verify(m);
    expect(m.graph.outputs.slice(0, 4).map((o) => shapeOf(m, o.name))).toEqual([
      [3, 7],
      [2, 6],
      [2, 6],
      [2, 6, 3],
    ]);
    expect(m.graph.outputs.slice(8, 12).map((o) => shapeOf(m, o.name))).toEqual([[2, 4], [2, 6, 1], [6], [1, 1, 1]]);
  });

  it('ReduceMax takes axes as an attribute before opset 18', async () => {
    const m = model(13, (b) => {
      b.addInput('x', DataType.FLOAT, [2, 6, 4]);
      outputs(b, b.reduce('ReduceMax', 'x', [1], false), b.reduceSum('x', [0, -1], true));
    });
    await verify(m);
    expect(m.graph.outputs.map((o) => shapeOf(m, o.name))).toEqual([
      [2, 4],
      [1, 6, 1],
    ]);
  });
});

describe('unknown ops', () => {
  const build = () =>
    model(17, (b) => {
      b.addInput('x', DataType.FLOAT, [2]);
      const y = b.op('FancyOp', ['x'], {}, { name: 'my_fancy', domain: 'com.example' });
      outputs(b, b.op('Relu', [y]));
    });
  it('are an UNSUPPORTED_OP error naming op and node by default', () => {
    try {
      inferShapes(build());
      throw new Error('expected an error');
    } catch (e) {
      expect((e as EngineError).code).toBe('UNSUPPORTED_OP');
      expect((e as Error).message).toMatch(/com\.example\.FancyOp.*my_fancy/);
    }
  });
  it("are listed (and later nodes still typed where possible) with unknownOps: 'keep'", () => {
    const m = build();
    m.graph.valueInfo.set(m.graph.nodes[0]!.outputs[0]!, { name: m.graph.nodes[0]!.outputs[0]!, dtype: DataType.FLOAT, shape: [2] });
    const r = inferShapes(m, { unknownOps: 'keep' });
    expect(r.unknown.map((n) => n.name)).toEqual(['my_fancy']);
    expect(shapeOf(m, m.graph.nodes[1]!.outputs[0]!)).toEqual([2]);
  });
});

describe('fixture exports with symbolic dims', () => {
  it.skipIf(!haveFixture('peer-a-opset14'))('infers every value, in terms of the input dim names', async () => {
    for (const file of ['unet.onnx', 'vae_decoder.onnx', 'text_encoder.onnx']) {
      const m = await readModel(join(fixtureDir('peer-a-opset14'), file));
      inferShapes(m);
      for (const v of m.graph.valueInfo.values()) {
        expect(v.shape, v.name).toBeDefined();
        for (const d of v.shape!) expect(String(d), v.name).not.toMatch(/unk__/);
      }
    }
    const te = await readModel(join(fixtureDir('peer-a-opset14'), 'text_encoder.onnx'));
    inferShapes(te);
    expect(te.graph.outputs[0]!.shape).toEqual(['batch', 77, 32]);
    const unet = await readModel(join(fixtureDir('peer-a-opset14'), 'unet.onnx'));
    inferShapes(unet);
    // Three stride-2 downsamplings then x2 upsamplings: 8*ceil(ceil(ceil(h/2)/2)/2), written with floors.
    const [b, c, h, w] = unet.graph.outputs[0]!.shape!;
    expect([b, c]).toEqual(['batch', 4]);
    expect(h).toBe('8*floor((floor((floor((height-1)/2))/2))/2)+8');
    expect(w).toBe('8*floor((floor((floor((width-1)/2))/2))/2)+8');
  });
});
