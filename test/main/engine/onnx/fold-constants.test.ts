import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder, makeTensor } from '../../../../src/main/engine/onnx/builder.js';
import { DataType } from '../../../../src/main/engine/onnx/dtype.js';
import { emptyGraph, emptyModel, type Model } from '../../../../src/main/engine/onnx/ir.js';
import { encodeModel } from '../../../../src/main/engine/onnx/model-io.js';
import { foldConstants } from '../../../../src/main/engine/onnx/fold-constants.js';
import { inferShapes } from '../../../../src/main/engine/onnx/shape-inference.js';

function model(opset: number, build: (b: GraphBuilder) => void): Model {
  const g = emptyGraph('g');
  build(new GraphBuilder(g, opset));
  return emptyModel(opset, g);
}

async function run(m: Model, feeds: Record<string, ort.Tensor> = {}): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(encodeModel(m));
  const out = await s.run(feeds);
  await s.release();
  return out;
}

describe('foldConstants', () => {
  it('collapses a Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain on a static input', async () => {
    const m = model(14, (b) => {
      b.addInput('x', DataType.FLOAT, [2, 3, 4]);
      const shape = b.op('Shape', ['x']);
      const d0 = b.unsqueeze(b.op('Gather', [shape, b.scalar(0, DataType.INT64)], { axis: 0 }), [0]);
      const d1 = b.op('Gather', [shape, b.int64s([1])], { axis: 0 });
      const d2 = b.unsqueeze(b.op('Gather', [shape, b.scalar(2, DataType.INT64)], { axis: 0 }), [0]);
      const inner = b.op('Mul', [d1, d2]);
      const target = b.op('Concat', [d0, inner], { axis: 0 });
      const y = b.op('Reshape', ['x', target]);
      b.opN('Relu', [y], {}, { outputNames: ['y'] });
      b.addOutput('y', DataType.FLOAT);
    });
    const x = new ort.Tensor(
      'float32',
      Float32Array.from({ length: 24 }, (_, i) => i - 12),
      [2, 3, 4],
    );
    const before = await run(m, { x });
    inferShapes(m);
    const r = foldConstants(m);
    expect(m.graph.nodes.map((n) => n.opType)).toEqual(['Reshape', 'Relu']);
    expect(r.folded).toBe(8);
    const target = m.graph.initializers.get(m.graph.nodes[0]!.inputs[1]!)!;
    expect(Array.from(new BigInt64Array(target.raw!.slice().buffer))).toEqual([2n, 12n]);
    // Only the Reshape target is left; the gather indices etc. were dropped.
    expect([...m.graph.initializers.keys()]).toEqual([target.name]);
    const after = await run(m, { x });
    expect(after.y!.dims).toEqual([2, 12]);
    expect(Array.from(after.y!.data as Float32Array)).toEqual(Array.from(before.y!.data as Float32Array));
  });

  it('folds exactly what onnxruntime computes (ints, casts, fp16, float scalars, indexing)', async () => {
    const exprs: string[] = [];
    const m = model(17, (b) => {
      const i64 = (v: number[], dims = [v.length]) => b.initializer('c', DataType.INT64, dims, v);
      const f32 = (v: number[], dims = [v.length]) => b.initializer('f', DataType.FLOAT, dims, v);
      const k = (n: string) => exprs.push(n);
      k(b.op('Div', [i64([7, -7, 9, -9]), i64([2, 2, -4, -4])]));
      k(b.op('Mod', [i64([7, -7, 7, -7]), i64([3, 3, -3, -3])]));
      k(b.op('Mod', [f32([7.5, -7.5]), f32([2, 2])], { fmod: 1 }));
      k(
        b.op('Div', [b.scalar(1), b.op('Sqrt', [b.cast(b.op('Gather', [i64([2, 77, 40]), b.scalar(2, DataType.INT64)]), DataType.FLOAT)])]),
      );
      k(b.cast(f32([-2.7, 2.7, 1e10, -0.5]), DataType.INT64));
      k(b.cast(f32([0.1, 65504, 1e-5, 70000, -3.3333]), DataType.FLOAT16));
      k(b.cast(i64([2 ** 40 + 1, -3]), DataType.FLOAT));
      k(b.cast(f32([0, 0.5, -1]), DataType.BOOL));
      k(b.op('Range', [b.scalar(0.5), b.scalar(-2), b.scalar(-0.75)]));
      k(b.op('Range', [b.scalar(3, DataType.INT64), b.scalar(20, DataType.INT64), b.scalar(4, DataType.INT64)]));
      // torch's Expand pattern: Where(Equal(shape, -1), ones, shape)
      const shape = i64([2, 3]);
      const ones = b.op('ConstantOfShape', [b.int64s([2])], { value: makeTensor('v', DataType.INT64, [1], [1]) });
      const minus = b.op('Mul', [ones, b.scalar(-1, DataType.INT64)]);
      k(b.op('Expand', [f32([1, 2, 3], [3]), b.op('Where', [b.op('Equal', [shape, minus]), ones, shape])]));
      k(b.slice(f32([0, 1, 2, 3, 4, 5, 6, 7], [2, 4]), [-1, 3], [-(2 ** 63), 0], [0, 1], [-1, -2]));
      k(b.op('Gather', [f32([1, 2, 3, 4, 5, 6], [3, 2]), b.scalar(-1, DataType.INT64)], { axis: 0 }));
      k(b.op('Gather', [f32([1, 2, 3, 4, 5, 6], [3, 2]), i64([1, 0, 1, 1], [2, 2])], { axis: 1 }));
      k(b.transpose(f32([1, 2, 3, 4, 5, 6], [2, 3]), [1, 0]));
      k(b.op('Tile', [f32([1, 2], [1, 2]), b.int64s([3, 2])]));
      k(b.op('Concat', [b.unsqueeze(i64([5, 6]), [0]), b.unsqueeze(i64([7, 8]), [0])], { axis: 0 }));
      k(b.squeeze(f32([1, 2], [1, 2, 1]), [0, -1]));
      k(b.op('ReduceProd', [i64([2, 3, 4, 5], [2, 2])], { axes: [1], keepdims: 0 }));
      k(b.op('ReduceSum', [i64([2, 3, 4, 5], [2, 2]), b.int64s([0])], { keepdims: 1 }));
      k(b.op('Max', [i64([1, 5]), i64([3]), i64([2, 2])]));
      k(b.op('Min', [f32([1, -5]), f32([0])]));
      k(b.op('And', [b.op('Not', [b.op('Less', [f32([1, 2, 3]), b.scalar(2)])]), b.op('Greater', [f32([1, 2, 3]), b.scalar(1)])]));
      k(b.op('Abs', [b.op('Neg', [f32([-1.5, 2])])]));
      k(b.op('Floor', [f32([-1.5, 2.5])]));
      k(b.op('Ceil', [f32([-1.5, 2.5])]));
      k(b.op('Reciprocal', [f32([3, -7])]));
      k(b.op('Sub', [f32([0.1]), f32([0.3])]));
      k(b.op('Flatten', [f32([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2])], { axis: 2 }));
      k(b.reshape(i64([1, 2, 3, 4, 5, 6]), [3, -1]));
      k(b.op('Size', [f32([1, 2, 3, 4, 5, 6], [2, 3])]));
      const [s0, s1] = b.split(i64([1, 2, 3, 4, 5]), 0, [2, 3]);
      k(s0!);
      k(s1!);
      const c = b.op('Constant', [], { value_ints: [4, 5, 6] });
      k(b.op('Identity', [c]));
      k(b.op('Constant', [], { value_float: { kind: 'float', value: 0.1 } }));
      // Expose each folded value through an Identity (graph outputs themselves are never folded).
      exprs.forEach((e, i) => {
        b.opN('Identity', [e], {}, { outputNames: [`out${i}`] });
        b.addOutput(`out${i}`, DataType.UNDEFINED);
      });
    });
    inferShapes(m);
    const before = await run(m);
    const r = foldConstants(m);
    expect(r.folded).toBeGreaterThan(exprs.length);
    expect(new Set(m.graph.nodes.map((n) => n.opType))).toEqual(new Set(['Identity']));
    const after = await run(m);
    for (let i = 0; i < exprs.length; i++) {
      const a = after[`out${i}`]!;
      const e = before[`out${i}`]!;
      expect(a.type, `out${i}`).toBe(e.type);
      expect(a.dims, `out${i}`).toEqual(e.dims);
      expect(Array.from(a.data as ArrayLike<number | bigint>), `out${i} (${exprs[i]})`).toEqual(
        Array.from(e.data as ArrayLike<number | bigint>),
      );
    }
  });

  it('leaves big float math, kept weights, graph outputs and dynamic values alone', async () => {
    const m = model(17, (b) => {
      b.addInput('x', DataType.FLOAT, [4, 64]);
      const w = b.initializer('w', DataType.FLOAT, [64, 64], new Float32Array(4096).fill(0.5));
      const v = b.initializer('v', DataType.FLOAT, [64, 4], new Float32Array(256).fill(0.25));
      const scaled = b.op('Mul', [w, b.scalar(2)]); // 4096 floats: not worth folding
      const vt = b.transpose(v, [1, 0]); // structural, but v is kept (a gradient target)
      const h = b.op('MatMul', ['x', scaled]);
      const y = b.op('MatMul', [h, b.transpose(vt, [1, 0])]);
      b.opN('Identity', [y], {}, { outputNames: ['y'] });
      b.opN('Shape', ['x'], {}, { outputNames: ['shape_out'] }); // produces a graph output: kept
      b.addOutput('y', DataType.FLOAT);
      b.addOutput('shape_out', DataType.INT64);
    });
    inferShapes(m);
    const x = new ort.Tensor('float32', new Float32Array(256).fill(1), [4, 64]);
    const before = await run(m, { x });
    const r = foldConstants(m, { keep: ['v'] });
    expect(r.folded).toBe(0);
    expect(m.graph.nodes.map((n) => n.opType)).toEqual(['Mul', 'Transpose', 'MatMul', 'Transpose', 'MatMul', 'Identity', 'Shape']);
    const after = await run(m, { x });
    expect(Array.from(after.y!.data as Float32Array)).toEqual(Array.from(before.y!.data as Float32Array));
    // Without `keep`, the double transpose of v folds into a constant.
    const r2 = foldConstants(m);
    expect(r2.folded).toBe(2);
    expect(m.graph.initializers.has('v')).toBe(false);
  });

  it('turns Constant nodes into initializers and removes dead nodes and unused initializers', () => {
    const m = model(17, (b) => {
      b.addInput('x', DataType.FLOAT, [3]);
      b.initializer('unused', DataType.FLOAT, [1], [1]);
      b.op('Relu', ['x']); // dead
      const c = b.op('Constant', [], { value: makeTensor('t', DataType.FLOAT16, [3], [1, 2, 3]) });
      b.opN('Add', ['x', b.cast(c, DataType.FLOAT)], {}, { outputNames: ['y'] });
      b.addOutput('y', DataType.FLOAT);
    });
    inferShapes(m);
    const r = foldConstants(m);
    expect(r).toEqual({ folded: 2, removedNodes: 1, removedInitializers: 2 });
    expect(m.graph.nodes.map((n) => n.opType)).toEqual(['Add']);
    const t = m.graph.initializers.get(m.graph.nodes[0]!.inputs[1]!)!;
    expect(t.dtype).toBe(DataType.FLOAT);
    expect(Array.from(new Float32Array(t.raw!.slice().buffer))).toEqual([1, 2, 3]);
  });
});
