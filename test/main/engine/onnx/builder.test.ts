import { describe, it, expect } from 'vitest';
import { GraphBuilder, makeTensor } from '../../../../src/main/engine/onnx/builder.js';
import { DataType, viewRaw } from '../../../../src/main/engine/onnx/dtype.js';
import { emptyGraph } from '../../../../src/main/engine/onnx/ir.js';

const F = DataType.FLOAT;

/** A builder over an empty graph whose inputs have the given static shapes. */
function builder(opset: number, inputs: Record<string, number[]>, shareConstants = true): GraphBuilder {
  const g = emptyGraph();
  const b = new GraphBuilder(g, opset, '', { shapeOf: (n) => inputs[n], shareConstants });
  for (const [name, shape] of Object.entries(inputs)) b.addInput(name, F, shape);
  return b;
}

const ints = (b: GraphBuilder, name: string) => Array.from(viewRaw(DataType.INT64, b.graph.initializers.get(name)!.raw!), Number);

describe('GraphBuilder constants', () => {
  it('int64Const / scalarConst / zeros are shared per graph; int64s / scalar make a fresh initializer each', () => {
    const b = builder(17, {});
    expect(b.int64Const([1, 2])).toBe(b.int64Const([1, 2]));
    expect(b.int64Const([1, 2])).not.toBe(b.int64Const([2, 1]));
    expect(b.scalarConst(0.5, F)).toBe(b.scalarConst(0.5, F));
    expect(b.scalarConst(0.5, F)).not.toBe(b.scalarConst(0.5, DataType.DOUBLE));
    expect(b.scalarConst(0, F)).not.toBe(b.scalarConst(-0, F));
    expect(b.zeros([2, 3], F)).toBe(b.zeros([2, 3], F));
    expect(b.graph.nodes.filter((n) => n.opType === 'ConstantOfShape')).toHaveLength(1);
    expect(b.int64s([1, 2])).not.toBe(b.int64s([1, 2]));
    expect(b.scalar(3)).not.toBe(b.scalar(3));
  });

  it('with shareConstants the typed helpers take their shape and axes constants from the cache; by default each gets its own', () => {
    for (const share of [true, false]) {
      const b = builder(17, { x: [2, 3, 4] }, share);
      b.reshape('x', [6, 4]);
      b.reshape('x', [6, 4]);
      b.unsqueeze('x', [0]);
      b.squeeze('x', [0]);
      const [r1, r2, u, s] = b.graph.nodes;
      expect(r1!.inputs[1] === r2!.inputs[1]).toBe(share);
      expect(u!.inputs[1] === s!.inputs[1]).toBe(share);
      expect(ints(b, r1!.inputs[1]!)).toEqual([6, 4]);
      expect(ints(b, r2!.inputs[1]!)).toEqual([6, 4]);
    }
  });

  it('makeTensor saturates int64 and accepts fp16 half bits', () => {
    const t = makeTensor('t', DataType.INT64, [3], [2 ** 63, -(2 ** 63), 5]);
    expect(Array.from(viewRaw(DataType.INT64, t.raw!) as BigInt64Array)).toEqual([(1n << 63n) - 1n, -(1n << 63n), 5n]);
    const h = makeTensor('h', DataType.FLOAT16, [2], Uint16Array.of(0x3c00, 0xc000));
    expect(Array.from(viewRaw(DataType.FLOAT16, h.raw!) as Uint16Array)).toEqual([0x3c00, 0xc000]);
    expect(() => makeTensor('s', DataType.STRING, [1], [1])).toThrow(/unsupported dtype/);
  });
});

describe('GraphBuilder opset-aware helpers', () => {
  it('reduceSum: axes as an attribute before opset 13, an input from 13; empty axes emit nothing', () => {
    const old = builder(12, { x: [2, 3] });
    old.reduceSum('x', [1], true);
    expect(old.graph.nodes[0]!.inputs).toEqual(['x']);
    expect(old.graph.nodes[0]!.attrs['axes']).toEqual({ kind: 'ints', value: [1] });
    const b = builder(13, { x: [2, 3] });
    b.reduceSum('x', [1], false);
    expect(ints(b, b.graph.nodes[0]!.inputs[1]!)).toEqual([1]);
    expect(b.graph.nodes[0]!.attrs['axes']).toBeUndefined();
    expect(b.reduceSum('x', [], true)).toBe('x');
    expect(b.graph.nodes).toHaveLength(1);
  });

  it('reduce (ReduceMean, ...): axes an input only from opset 18', () => {
    const b17 = builder(17, { x: [2, 3] });
    b17.reduce('ReduceMean', 'x', [0], true);
    expect(b17.graph.nodes[0]!.inputs).toEqual(['x']);
    const b18 = builder(18, { x: [2, 3] });
    b18.reduce('ReduceMean', 'x', [0], true);
    expect(b18.graph.nodes[0]!.inputs).toHaveLength(2);
  });
});

describe('GraphBuilder static shapes', () => {
  it('records the shapes the typed helpers produce from known input shapes', () => {
    const b = builder(17, { a: [2, 1, 4], v: [4], m: [3, 4, 5], w: [5, 6], c: [6, 5] });
    expect(b.knownShape(b.mul('a', 'v'))).toEqual([2, 1, 4]);
    expect(b.knownShape(b.where('a', 'a', 'v'))).toEqual([2, 1, 4]);
    expect(b.knownShape(b.add('a', 'm'))).toBeUndefined(); // [2,1,4] and [3,4,5] do not broadcast
    expect(b.knownShape(b.matmul('m', 'w'))).toEqual([3, 4, 6]);
    expect(b.knownShape(b.matmul('v', 'm'))).toEqual([3, 5]);
    expect(b.knownShape(b.matmul('m', 'c'))).toBeUndefined(); // inner dims do not match: still emitted, shape unknown
    expect(b.knownShape(b.gemm('w', 'c', { transA: 1, transB: 1 }))).toEqual([6, 6]);
    expect(b.knownShape(b.transpose('m', [2, 0, 1]))).toEqual([5, 3, 4]);
    expect(b.knownShape(b.reshape('m', [0, -1]))).toEqual([3, 20]);
    expect(b.knownShape(b.reduceSum('m', [-1], true))).toEqual([3, 4, 1]);
    expect(b.knownShape(b.reduce('ReduceMean', 'm', [0, 2], false))).toEqual([4]);
    expect(b.knownShape(b.unsqueeze('v', [0, -1]))).toEqual([1, 4, 1]);
    expect(b.knownShape(b.squeeze('a', [1]))).toEqual([2, 4]);
    expect(b.split('m', 1, [1, 3]).map((o) => b.knownShape(o))).toEqual([
      [3, 1, 5],
      [3, 3, 5],
    ]);
    expect(b.knownShape(b.concat(['m', 'm'], -1))).toEqual([3, 4, 10]);
    expect(b.knownShape(b.slice('m', [-1, 0], [-(2 ** 63), 5], [1, 2], [-2, 2]))).toEqual([3, 2, 3]);
    expect(b.knownShape(b.zeroPad('w', [1, 0, 0, 2]))).toEqual([6, 8]);
    expect(b.knownShape(b.expand('v', [2, 3, 4]))).toEqual([2, 3, 4]);
    expect(b.knownShape(b.cast('m', DataType.DOUBLE))).toEqual([3, 4, 5]);
    expect(b.knownShape(b.op('Relu', ['m']))).toBeUndefined(); // op() records nothing
  });

  it('sumTo sums broadcast axes back (ReduceSum keepdims, then Reshape when the rank differs)', () => {
    const b = builder(17, { g: [2, 3, 4], row: [3, 1], same: [2, 3, 4] });
    expect(b.sumTo('g', [2, 3, 4])).toBe('g');
    const r = b.sumTo('g', [3, 1]);
    expect(b.graph.nodes.map((n) => n.opType)).toEqual(['ReduceSum', 'Reshape']);
    expect(ints(b, b.graph.nodes[0]!.inputs[1]!)).toEqual([0, 2]);
    expect(b.graph.nodes[0]!.attrs['keepdims']).toEqual({ kind: 'int', value: 1 });
    expect(b.knownShape(r)).toEqual([3, 1]);
    const kept = b.sumTo('g', [1, 3, 1]);
    expect(b.graph.nodes.at(-1)!.opType).toBe('ReduceSum');
    expect(b.knownShape(kept)).toEqual([1, 3, 1]);
    expect(() => b.sumTo('g', [2, 4])).toThrow(/cannot unbroadcast/);
    expect(() => b.sumTo('g', [9, 2, 3, 4])).toThrow(/cannot unbroadcast/);
    expect(() => b.sumTo(b.op('Relu', ['g']), [3, 1])).toThrow(/not known/);
  });

  it('addAll and scale pick the smallest emission', () => {
    const b = builder(17, { a: [2], c: [2], d: [2] });
    expect(b.addAll(['a'])).toBe('a');
    b.addAll(['a', 'c']);
    b.addAll(['a', 'c', 'd']);
    expect(b.scale('a', 1, F)).toBe('a');
    b.scale('a', -1, F);
    b.scale('a', 0.5, F);
    expect(b.graph.nodes.map((n) => n.opType)).toEqual(['Add', 'Sum', 'Neg', 'Mul']);
  });
});
