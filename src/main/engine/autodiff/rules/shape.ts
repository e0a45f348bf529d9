/**
 * Gradient rules for data-movement ops: Reshape-likes, Transpose, Concat/Split, Slice, Gather,
 * Expand, Tile, Pad.
 *
 * Shapes are static, so index bookkeeping (slice ranges, pads, split sizes) is done here in JS
 * and baked into the emitted graph; the gradient graph itself is only data movement.
 */
import type { GraphBuilder } from '../../onnx/builder.js';
import { DataType } from '../../onnx/dtype.js';
import { attrInt, attrInts, attrString } from '../../onnx/ir.js';
import { invertPerm, numel, range, sameShape, sliceRange as axisRange } from '../../onnx/static-shape.js';
import { EngineError } from '../../errors.js';
import { constInts, inputShape, normAxis, outputShape, singleOutput, type GradContext, type GradRule } from '../rule.js';

/** 2^63 (what the int64 maximum rounds to as a double); Slice clamps it to the axis length. */
const INT64_MAX = 2 ** 63;

/** Reverse `x` along `axis`. */
function flip(b: GraphBuilder, x: string, axis: number): string {
  return b.slice(x, [-1], [-INT64_MAX], [axis], [-1]);
}

/** Ops that only reinterpret the shape of input 0: the gradient is a Reshape back. */
const reshapeBack = singleOutput((ctx, g) => {
  const s = inputShape(ctx);
  return [sameShape(s, outputShape(ctx)) ? g : ctx.b.reshape(g, s)];
});

const Transpose = singleOutput((ctx, g) => {
  const perm = attrInts(ctx.node, 'perm') ?? range(0, inputShape(ctx).length).reverse();
  return [ctx.b.transpose(g, invertPerm(perm))];
});

const Concat = singleOutput((ctx, g) => {
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), outputShape(ctx).length);
  const sizes = ctx.node.inputs.map((x) => ctx.shapeOf(x)[axis]!);
  const wanted = sizes.map((s, i) => ctx.needsGrad(i) && s > 0);
  // one Split when several parts are wanted (Split cannot make empty parts), else a Slice each
  if (wanted.filter(Boolean).length > 1 && sizes.every((s) => s > 0)) {
    return ctx.b.split(g, axis, sizes).map((p, i) => (wanted[i] ? p : undefined));
  }
  const starts = sizes.map((_s, i) => sizes.slice(0, i).reduce((a, s) => a + s, 0));
  return sizes.map((s, i) => (wanted[i] ? ctx.b.slice(g, [starts[i]!], [starts[i]! + s], [axis]) : undefined));
});

const Split: GradRule = (ctx, gs) => {
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), inputShape(ctx).length);
  const parts = ctx.node.outputs.map((o, i) => gs[i] ?? ctx.b.zeros(ctx.shapeOf(o), ctx.dtypeOf(o)));
  return [parts.length === 1 ? parts[0]! : ctx.b.concat(parts, axis)];
};

/** Elements selected by one axis of a Slice: first index, count, step (ONNX clamping rules). */
export function sliceRange(dim: number, start: number, end: number, step: number): { first: number; count: number; step: number } {
  if (step === 0) throw new EngineError('INVALID_MODEL', 'Slice step 0');
  const r = axisRange(dim, start, end, step);
  return { first: r.start, count: r.count, step };
}

/**
 * Slice: scatter the gradient back into zeros. Per axis: flip when the step is negative,
 * interleave |step|-1 zeros when |step| > 1, then one zero Pad for all axes.
 */
const Slice = singleOutput((ctx, g) => {
  const { b, node } = ctx;
  const shape = inputShape(ctx);
  const rank = shape.length;
  const legacy = ctx.opset < 10;
  const starts = legacy ? attrInts(node, 'starts', []) : constInts(ctx, node.inputs[1], 'starts')!;
  const ends = legacy ? attrInts(node, 'ends', []) : constInts(ctx, node.inputs[2], 'ends')!;
  const axes = (legacy ? attrInts(node, 'axes') : constInts(ctx, node.inputs[3], 'axes')) ?? range(0, starts.length);
  const steps = (legacy ? undefined : constInts(ctx, node.inputs[4], 'steps')) ?? starts.map(() => 1);
  const pads = new Array<number>(2 * rank).fill(0);
  let cur = g;
  const curShape = [...outputShape(ctx)];
  for (let k = 0; k < axes.length; k++) {
    const a = normAxis(axes[k]!, rank);
    const dim = shape[a]!;
    const r = sliceRange(dim, starts[k]!, ends[k]!, steps[k]!);
    if (r.count === 0) return [b.zeros(shape, ctx.dtypeOf(node.inputs[0]!))];
    let { first, step } = r;
    if (step < 0) {
      // reversed selection: flip the gradient so indices ascend
      cur = flip(b, cur, a);
      first = r.first + (r.count - 1) * step;
      step = -step;
    }
    let len = r.count;
    if (step > 1 && r.count > 1) {
      // [.., n, ..] -> [.., n, 1, ..] -> pad to [.., n, step, ..] -> [.., n*step, ..] -> keep (n-1)*step+1
      const p = new Array<number>(2 * (rank + 1)).fill(0);
      p[rank + 1 + a + 1] = step - 1;
      const padded = b.zeroPad(b.unsqueeze(cur, [a + 1]), p);
      cur = b.reshape(
        padded,
        curShape.map((d, i) => (i === a ? r.count * step : d)),
      );
      len = (r.count - 1) * step + 1;
      cur = b.slice(cur, [0], [len], [a]);
    }
    curShape[a] = len;
    pads[a] = first;
    pads[rank + a] = dim - first - len;
  }
  return [b.zeroPad(cur, pads)];
});

/** Indices as non-negative int64 values (Gather allows negative indices; scatters may not). */
function normalisedIndices(ctx: GradContext, idx: string, dim: number): string {
  const { b } = ctx;
  const c = ctx.constValue(idx);
  if (c) {
    const vals = Array.from(c as ArrayLike<number | bigint>, (x) => Number(x));
    if (vals.every((v) => v >= 0) && ctx.dtypeOf(idx) === DataType.INT64) return idx;
    return b.initializer(
      'gather_idx',
      DataType.INT64,
      ctx.shapeOf(idx),
      vals.map((v) => (v < 0 ? v + dim : v)),
    );
  }
  const i64 = ctx.dtypeOf(idx) === DataType.INT64 ? idx : b.cast(idx, DataType.INT64);
  const neg = b.compare('Less', i64, b.scalarConst(0, DataType.INT64));
  return b.where(neg, b.add(i64, b.scalarConst(dim, DataType.INT64)), i64);
}

/**
 * Gather(data, indices, axis): the data gradient accumulates repeated indices.
 * - constant scalar index: Unsqueeze + zero Pad (no scatter);
 * - opset >= 16: ScatterND(reduction='add') into zeros, with the gathered axis moved first;
 * - older opsets: a one-hot matrix (Equal + Cast) multiplied with the gradient.
 */
const Gather = singleOutput((ctx, g) => {
  const { b } = ctx;
  const [data, idx] = ctx.node.inputs as [string, string];
  const D = ctx.shapeOf(data);
  const I = ctx.shapeOf(idx);
  const dtype = ctx.dtypeOf(data);
  const r = D.length;
  const q = I.length;
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), r);
  const dim = D[axis]!;
  const c = ctx.constValue(idx);
  if (c && q === 0) {
    const i0 = Number(c[0]!);
    const i = i0 < 0 ? i0 + dim : i0;
    const pads = new Array<number>(2 * r).fill(0);
    pads[axis] = i;
    pads[r + axis] = dim - i - 1;
    return [b.zeroPad(b.unsqueeze(g, [axis]), pads)];
  }
  // g: D[:axis] + I + D[axis+1:]  ->  I + D[:axis] + D[axis+1:]
  const gPerm = [...range(axis, axis + q), ...range(0, axis), ...range(axis + q, r + q - 1)];
  const gT = gPerm.every((p, k) => p === k) ? g : b.transpose(g, gPerm);
  const rest = [...D.slice(0, axis), ...D.slice(axis + 1)];
  const tShape = [dim, ...rest];
  const idxN = normalisedIndices(ctx, idx, dim);
  let acc: string;
  if (ctx.opset >= 16) {
    const idx1 = b.unsqueeze(idxN, [q]);
    acc = b.op('ScatterND', [b.zeros(tShape, dtype), idx1, gT], { reduction: 'add' });
  } else {
    const n = numel(I);
    const positions = b.initializer('gather_range', DataType.INT64, [1, dim], range(0, dim));
    const oneHot = b.cast(b.compare('Equal', b.reshape(idxN, [n, 1]), positions), dtype); // [n, dim]
    const flat = b.reshape(gT, [n, numel(rest)]);
    acc = b.reshape(b.matmul(b.transpose(oneHot, [1, 0]), flat), tShape); // [dim, m]
  }
  // [dim] + D[:axis] + D[axis+1:]  ->  D
  return [axis === 0 ? acc : b.transpose(acc, [...range(1, axis + 1), 0, ...range(axis + 1, r)])];
});

/** GatherElements: ScatterElements(reduction='add') into zeros (opset >= 16). */
const GatherElements = singleOutput((ctx, g) => {
  if (ctx.opset < 16) {
    throw new EngineError(
      'UNSUPPORTED_OP',
      `GatherElements node '${ctx.node.name}': its gradient needs ScatterElements with reduction (opset >= 16); this model is opset ${ctx.opset}`,
    );
  }
  const [data, idx] = ctx.node.inputs as [string, string];
  const D = ctx.shapeOf(data);
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), D.length);
  const idxN = normalisedIndices(ctx, idx, D[axis]!);
  return [ctx.b.op('ScatterElements', [ctx.b.zeros(D, ctx.dtypeOf(data)), idxN, g], { axis, reduction: 'add' })];
});

/** Expand: g has the output's shape; the transform sums it back over the expanded axes. */
const Expand = singleOutput((_ctx, g) => [g]);

/** Tile: output axis i is repeats[i] copies of input axis i; sum the copies. */
const Tile = singleOutput((ctx, g) => {
  const D = inputShape(ctx);
  const reps = constInts(ctx, ctx.node.inputs[1], 'repeats')!;
  if (reps.every((x) => x === 1)) return [g];
  const split = D.flatMap((d, i) => [reps[i]!, d]);
  return [
    ctx.b.reduceSum(
      ctx.b.reshape(g, split),
      D.map((_d, i) => 2 * i),
      false,
    ),
  ];
});

/** Pad's per-axis [begin..., end...] pads, from the attribute (< 11) or the constant inputs. */
function padAmounts(ctx: GradContext, rank: number): number[] {
  if (ctx.opset < 11) return attrInts(ctx.node, 'pads', []);
  const raw = constInts(ctx, ctx.node.inputs[1], 'pads')!;
  const axes = constInts(ctx, ctx.node.inputs[3], 'axes');
  if (!axes) return raw;
  const pads = new Array<number>(2 * rank).fill(0);
  axes.forEach((a, k) => {
    const ax = normAxis(a, rank);
    pads[ax] = raw[k]!;
    pads[rank + ax] = raw[axes.length + k]!;
  });
  return pads;
}

/**
 * Pad: constant mode crops the gradient (and zero-pads where the forward cropped with negative
 * pads); edge/reflect fold the padded borders back onto the rows they copied, axis by axis.
 */
const Pad = singleOutput((ctx, g) => {
  const D = inputShape(ctx);
  const mode = attrString(ctx.node, 'mode', 'constant');
  const pads = padAmounts(ctx, D.length);
  if (mode !== 'constant') return [() => foldBorders(ctx, g, mode, pads)];
  const O = outputShape(ctx);
  const rank = D.length;
  // keep the part of g that came from x; zero-fill where x was cropped away
  const starts: number[] = [];
  const ends: number[] = [];
  const axes: number[] = [];
  const fill = new Array<number>(2 * rank).fill(0);
  for (let a = 0; a < rank; a++) {
    const [pb, pe] = [pads[a]!, pads[rank + a]!];
    fill[a] = Math.max(-pb, 0);
    fill[rank + a] = Math.max(-pe, 0);
    const kept = D[a]! - fill[a]! - fill[rank + a]!;
    const s = Math.max(pb, 0);
    if (s !== 0 || s + kept !== O[a]) {
      starts.push(s);
      ends.push(s + kept);
      axes.push(a);
    }
  }
  const inner = axes.length ? ctx.b.slice(g, starts, ends, axes) : g;
  const gx = ctx.b.zeroPad(inner, fill);
  // the constant fills every output element that did not come from x
  const gValue = () => {
    const all = range(0, O.length);
    const total = ctx.b.reduceSum(g, all, false);
    return ctx.b.reshape(ctx.b.sub(total, ctx.b.reduceSum(inner, all, false)), inputShape(ctx, 2));
  };
  return [gx, undefined, gValue];
});

/** Edge/reflect Pad: each padded border added back onto the rows it copied. */
function foldBorders(ctx: GradContext, g: string, mode: string, pads: number[]): string {
  const { b } = ctx;
  if (mode !== 'edge' && mode !== 'reflect') {
    throw new EngineError(
      'UNSUPPORTED_OP',
      `Pad node '${ctx.node.name}': no gradient for mode '${mode}' (constant, edge and reflect are supported)`,
    );
  }
  if (pads.some((p) => p < 0)) {
    throw new EngineError('UNSUPPORTED_OP', `Pad node '${ctx.node.name}': negative pads with mode '${mode}' have no gradient rule`);
  }
  const D = inputShape(ctx);
  const rank = D.length;
  let cur = g;
  for (let a = 0; a < rank; a++) {
    const [pb, pe, d] = [pads[a]!, pads[rank + a]!, D[a]!];
    if (pb === 0 && pe === 0) continue;
    const parts = [b.slice(cur, [pb], [pb + d], [a])];
    const at = (v: string, begin: number, len: number): string => {
      const p = new Array<number>(2 * rank).fill(0);
      p[a] = begin;
      p[rank + a] = d - begin - len;
      return b.zeroPad(v, p);
    };
    if (pb > 0) {
      const left = b.slice(cur, [0], [pb], [a]);
      parts.push(mode === 'edge' ? at(b.reduceSum(left, [a], true), 0, 1) : at(flip(b, left, a), 1, pb)); // out[pb-k] = x[k], k = 1..pb
    }
    if (pe > 0) {
      const right = b.slice(cur, [pb + d], [pb + d + pe], [a]);
      parts.push(mode === 'edge' ? at(b.reduceSum(right, [a], true), d - 1, 1) : at(flip(b, right, a), d - 1 - pe, pe)); // out[pb+d-1+k] = x[d-1-k]
    }
    cur = b.addAll(parts);
  }
  return cur;
}

export const rules: Record<string, GradRule> = {
  Reshape: reshapeBack,
  Flatten: reshapeBack,
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,
  Transpose,
  Concat,
  Split,
  Slice,
  Gather,
  GatherElements,
  Expand,
  Tile,
  Pad,
};
