/**
 * Gradient rules for data-movement ops: Reshape-likes, Transpose, Concat/Split, Slice, Gather,
 * Expand, Tile, Pad.
 *
 * Shapes are static, so index bookkeeping (slice ranges, pads, split sizes) is done here in JS
 * and baked into the emitted graph; the gradient graph itself is only data movement.
 */
import { DataType } from '../../onnx/dtype.js';
import { attrInt, attrInts, attrString } from '../../onnx/ir.js';
import { EngineError } from '../../errors.js';
import type { GradContext, GradRule } from '../rule.js';
import {
  addAll,
  constInts,
  int64Const,
  invertPerm,
  normAxis,
  reduceSum,
  reshapeTo,
  sameShape,
  scalarConst,
  unbroadcast,
  zeros,
} from '../broadcast.js';

type Grads = (string | undefined)[];

/** 2^63 (what the int64 maximum rounds to as a double); Slice clamps it to the axis length. */
const INT64_MAX = 2 ** 63;

function none(ctx: GradContext): Grads {
  return ctx.node.inputs.map(() => undefined);
}

function inShape(ctx: GradContext, i = 0): number[] {
  return ctx.shapeOf(ctx.node.inputs[i]!);
}

function outShape(ctx: GradContext, i = 0): number[] {
  return ctx.shapeOf(ctx.node.outputs[i]!);
}

/** Rules for ops that only reinterpret the shape of input 0: the gradient is a Reshape back. */
const reshapeBack: GradRule = (ctx, [g]) => {
  const res = none(ctx);
  if (!g || !ctx.needsGrad(0)) return res;
  const s = inShape(ctx);
  res[0] = sameShape(s, outShape(ctx)) ? g : reshapeTo(ctx, g, s);
  return res;
};

const Transpose: GradRule = (ctx, [g]) => {
  if (!g || !ctx.needsGrad(0)) return [undefined];
  const rank = inShape(ctx).length;
  const perm = attrInts(ctx.node, 'perm') ?? Array.from({ length: rank }, (_x, i) => rank - 1 - i);
  return [ctx.b.transpose(g, invertPerm(perm))];
};

/** Slice `g` along one axis [start, end) with unit step. */
function sliceAxis(ctx: GradContext, g: string, axis: number, start: number, end: number): string {
  return ctx.b.op('Slice', [g, int64Const(ctx, [start], 'starts'), int64Const(ctx, [end], 'ends'), int64Const(ctx, [axis], 'axes')]);
}

/** Zero-pad `g` per axis (pads = [begin..., end...], length 2*rank). */
function zeroPad(ctx: GradContext, g: string, pads: number[]): string {
  if (pads.every((p) => p === 0)) return g;
  return ctx.b.op('Pad', [g, int64Const(ctx, pads, 'pads')], { mode: 'constant' });
}

const Concat: GradRule = (ctx, [g]) => {
  const res = none(ctx);
  if (!g) return res;
  const rank = outShape(ctx).length;
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), rank);
  const sizes = ctx.node.inputs.map((x) => ctx.shapeOf(x)[axis]!);
  const wanted = ctx.node.inputs.map((_x, i) => ctx.needsGrad(i) && sizes[i]! > 0);
  const nWanted = wanted.filter(Boolean).length;
  if (nWanted === 0) return res;
  if (nWanted === 1 || sizes.some((s) => s === 0)) {
    let off = 0;
    sizes.forEach((s, i) => {
      if (wanted[i]) res[i] = sliceAxis(ctx, g, axis, off, off + s);
      off += s;
    });
    return res;
  }
  const parts = ctx.b.split(g, axis, sizes);
  parts.forEach((p, i) => (res[i] = wanted[i] ? p : undefined));
  return res;
};

const Split: GradRule = (ctx, gs) => {
  const res = none(ctx);
  if (!ctx.needsGrad(0) || gs.every((g) => !g)) return res;
  const rank = inShape(ctx).length;
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), rank);
  const parts = ctx.node.outputs.map((o, i) => gs[i] ?? zeros(ctx, ctx.shapeOf(o), ctx.dtypeOf(o)));
  res[0] = parts.length === 1 ? parts[0]! : ctx.b.op('Concat', parts, { axis });
  return res;
};

/** Elements selected by one axis of a Slice: first index, count, step (ONNX clamping rules). */
export function sliceRange(dim: number, start: number, end: number, step: number): { first: number; count: number; step: number } {
  if (step === 0) throw new EngineError('INVALID_MODEL', 'Slice step 0');
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
    const count = Math.max(0, Math.ceil((e - s) / step));
    return { first: s, count, step };
  }
  s = Math.min(Math.max(s, 0), dim - 1);
  e = Math.min(Math.max(e, -1), dim - 1);
  const count = Math.max(0, Math.ceil((s - e) / -step));
  return { first: s, count, step };
}

/**
 * Slice: scatter the gradient back into zeros. Per axis: flip when the step is negative,
 * interleave |step|-1 zeros when |step| > 1, then one zero Pad for all axes.
 */
const Slice: GradRule = (ctx, [g]) => {
  const res = none(ctx);
  if (!g || !ctx.needsGrad(0)) return res;
  const shape = inShape(ctx);
  const rank = shape.length;
  const dtype = ctx.dtypeOf(ctx.node.inputs[0]!);
  let starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined;
  if (ctx.opset < 10) {
    starts = attrInts(ctx.node, 'starts', []);
    ends = attrInts(ctx.node, 'ends', []);
    axes = attrInts(ctx.node, 'axes');
  } else {
    const ins = ctx.node.inputs;
    starts = constInts(ctx, ins[1], 'starts')!;
    ends = constInts(ctx, ins[2], 'ends')!;
    axes = constInts(ctx, ins[3], 'axes');
    steps = constInts(ctx, ins[4], 'steps');
  }
  axes ??= starts.map((_s, i) => i);
  steps ??= starts.map(() => 1);
  const pads = new Array<number>(2 * rank).fill(0);
  let cur = g;
  let curShape = outShape(ctx);
  for (let k = 0; k < axes.length; k++) {
    const a = normAxis(axes[k]!, rank);
    const dim = shape[a]!;
    const r = sliceRange(dim, starts[k]!, ends[k]!, steps[k]!);
    if (r.count === 0) {
      res[0] = zeros(ctx, shape, dtype);
      return res;
    }
    let first = r.first;
    let step = r.step;
    if (step < 0) {
      // reversed selection: flip the gradient so indices ascend
      cur = ctx.b.op('Slice', [
        cur,
        int64Const(ctx, [-1], 'starts'),
        int64Const(ctx, [-INT64_MAX], 'ends'),
        int64Const(ctx, [a], 'axes'),
        int64Const(ctx, [-1], 'steps'),
      ]);
      first = r.first + (r.count - 1) * step;
      step = -step;
    }
    let len = r.count;
    if (step > 1 && r.count > 1) {
      // [.., n, ..] -> [.., n, 1, ..] -> pad to [.., n, step, ..] -> [.., n*step, ..] -> keep (n-1)*step+1
      const un = ctx.b.unsqueeze(cur, [a + 1]);
      const p = new Array<number>(2 * (rank + 1)).fill(0);
      p[rank + 1 + a + 1] = step - 1;
      const padded = zeroPad(ctx, un, p);
      const merged = [...curShape];
      merged[a] = r.count * step;
      cur = reshapeTo(ctx, padded, merged);
      len = (r.count - 1) * step + 1;
      cur = sliceAxis(ctx, cur, a, 0, len);
    }
    curShape = [...curShape];
    curShape[a] = len;
    pads[a] = first;
    pads[rank + a] = dim - first - len;
  }
  res[0] = zeroPad(ctx, cur, pads);
  return res;
};

/** Indices as non-negative int64 values (Gather allows negative indices; scatters may not). */
function normalisedIndices(ctx: GradContext, idx: string, dim: number): string {
  const c = ctx.constValue(idx);
  if (c) {
    const vals = Array.from(c as ArrayLike<number | bigint>, (x) => Number(x));
    if (vals.every((v) => v >= 0) && ctx.dtypeOf(idx) === DataType.INT64) return idx;
    return ctx.b.initializer(
      'gather_idx',
      DataType.INT64,
      ctx.shapeOf(idx),
      vals.map((v) => (v < 0 ? v + dim : v)),
    );
  }
  const i64 = ctx.dtypeOf(idx) === DataType.INT64 ? idx : ctx.b.cast(idx, DataType.INT64);
  const neg = ctx.b.op('Less', [i64, scalarConst(ctx, 0, DataType.INT64)]);
  return ctx.b.op('Where', [neg, ctx.b.op('Add', [i64, scalarConst(ctx, dim, DataType.INT64)]), i64]);
}

/**
 * Gather(data, indices, axis): the data gradient accumulates repeated indices.
 * - constant scalar index: Unsqueeze + zero Pad (no scatter);
 * - opset >= 16: ScatterND(reduction='add') into zeros, with the gathered axis moved first;
 * - older opsets: a one-hot matrix (Equal + Cast) multiplied with the gradient.
 */
const Gather: GradRule = (ctx, [g]) => {
  const res = none(ctx);
  if (!g || !ctx.needsGrad(0)) return res;
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
    let i = Number(c[0]!);
    if (i < 0) i += dim;
    const pads = new Array<number>(2 * r).fill(0);
    pads[axis] = i;
    pads[r + axis] = dim - i - 1;
    res[0] = zeroPad(ctx, ctx.b.unsqueeze(g, [axis]), pads);
    return res;
  }
  // g: D[:axis] + I + D[axis+1:]  ->  I + D[:axis] + D[axis+1:]
  const gPerm = [
    ...Array.from({ length: q }, (_x, k) => axis + k),
    ...Array.from({ length: axis }, (_x, k) => k),
    ...Array.from({ length: r - axis - 1 }, (_x, k) => axis + q + k),
  ];
  const gT = gPerm.every((p, k) => p === k) ? g : ctx.b.transpose(g, gPerm);
  const rest = [...D.slice(0, axis), ...D.slice(axis + 1)];
  const tShape = [dim, ...rest];
  const idxN = normalisedIndices(ctx, idx, dim);
  let acc: string;
  if (ctx.opset >= 16) {
    const idx1 = ctx.b.unsqueeze(idxN, [q]);
    acc = ctx.b.op('ScatterND', [zeros(ctx, tShape, dtype), idx1, gT], { reduction: 'add' });
  } else {
    const n = I.reduce((a, b) => a * b, 1);
    const m = rest.reduce((a, b) => a * b, 1);
    const range = ctx.b.initializer(
      'gather_range',
      DataType.INT64,
      [1, dim],
      Array.from({ length: dim }, (_x, k) => k),
    );
    const oneHot = ctx.b.cast(ctx.b.op('Equal', [reshapeTo(ctx, idxN, [n, 1]), range]), dtype); // [n, dim]
    const flat = reshapeTo(ctx, gT, [n, m]);
    acc = ctx.b.op('MatMul', [ctx.b.transpose(oneHot, [1, 0]), flat]); // [dim, m]
    acc = reshapeTo(ctx, acc, tShape);
  }
  // [dim] + D[:axis] + D[axis+1:]  ->  D
  if (axis !== 0) {
    const back = [...Array.from({ length: axis }, (_x, k) => k + 1), 0, ...Array.from({ length: r - axis - 1 }, (_x, k) => axis + 1 + k)];
    acc = ctx.b.transpose(acc, back);
  }
  res[0] = acc;
  return res;
};

/** GatherElements: ScatterElements(reduction='add') into zeros (opset >= 16). */
const GatherElements: GradRule = (ctx, [g]) => {
  const res = none(ctx);
  if (!g || !ctx.needsGrad(0)) return res;
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
  res[0] = ctx.b.op('ScatterElements', [zeros(ctx, D, ctx.dtypeOf(data)), idxN, g], { axis, reduction: 'add' });
  return res;
};

const Expand: GradRule = (ctx, [g]) => {
  if (!g || !ctx.needsGrad(0)) return [undefined, undefined];
  return [unbroadcast(ctx, g, outShape(ctx), inShape(ctx)), undefined];
};

/** Tile: output axis i is repeats[i] copies of input axis i; sum the copies. */
const Tile: GradRule = (ctx, [g]) => {
  if (!g || !ctx.needsGrad(0)) return [undefined, undefined];
  const D = inShape(ctx);
  const reps = constInts(ctx, ctx.node.inputs[1], 'repeats')!;
  if (reps.every((x) => x === 1)) return [g, undefined];
  const split: number[] = [];
  const axes: number[] = [];
  D.forEach((d, i) => {
    split.push(reps[i]!, d);
    axes.push(2 * i);
  });
  return [reduceSum(ctx, reshapeTo(ctx, g, split), axes, false), undefined];
};

/**
 * Pad: constant mode crops the gradient (and zero-pads where the forward cropped with negative
 * pads); edge/reflect fold the padded borders back onto the rows they copied, axis by axis.
 */
const Pad: GradRule = (ctx, [g]) => {
  const res = none(ctx);
  if (!g) return res;
  const D = inShape(ctx);
  const O = outShape(ctx);
  const rank = D.length;
  const mode = attrString(ctx.node, 'mode', 'constant');
  let pads: number[];
  if (ctx.opset < 11) pads = attrInts(ctx.node, 'pads', []);
  else {
    const raw = constInts(ctx, ctx.node.inputs[1], 'pads')!;
    const axesIn = constInts(ctx, ctx.node.inputs[3], 'axes');
    if (axesIn) {
      pads = new Array<number>(2 * rank).fill(0);
      axesIn.forEach((a, k) => {
        const ax = normAxis(a, rank);
        pads[ax] = raw[k]!;
        pads[rank + ax] = raw[axesIn.length + k]!;
      });
    } else pads = raw;
  }
  if (mode === 'constant') {
    let gx: string | undefined;
    if (ctx.needsGrad(0) || ctx.needsGrad(2)) {
      // keep the part of g that came from x; zero-fill where x was cropped away
      const starts: number[] = [],
        ends: number[] = [],
        axes: number[] = [];
      const fill = new Array<number>(2 * rank).fill(0);
      for (let a = 0; a < rank; a++) {
        const pb = pads[a]!,
          pe = pads[rank + a]!;
        const cb = Math.max(-pb, 0),
          ce = Math.max(-pe, 0);
        fill[a] = cb;
        fill[rank + a] = ce;
        const kept = D[a]! - cb - ce;
        const s = Math.max(pb, 0);
        if (s !== 0 || s + kept !== O[a]) {
          starts.push(s);
          ends.push(s + kept);
          axes.push(a);
        }
      }
      let inner = g;
      if (axes.length) inner = ctx.b.slice(g, starts, ends, axes);
      gx = zeroPad(ctx, inner, fill);
      if (ctx.needsGrad(0)) res[0] = gx;
      if (ctx.needsGrad(2) && ctx.node.inputs[2]) {
        // the constant fills every output element that did not come from x
        const all = O.map((_d, i) => i);
        const total = reduceSum(ctx, g, all, false);
        const fromX = reduceSum(ctx, inner, all, false);
        res[2] = reshapeTo(ctx, ctx.b.op('Sub', [total, fromX]), ctx.shapeOf(ctx.node.inputs[2]));
      }
    }
    return res;
  }
  if (!ctx.needsGrad(0)) return res;
  if (mode !== 'edge' && mode !== 'reflect') {
    throw new EngineError(
      'UNSUPPORTED_OP',
      `Pad node '${ctx.node.name}': no gradient for mode '${mode}' (constant, edge and reflect are supported)`,
    );
  }
  if (pads.some((p) => p < 0)) {
    throw new EngineError('UNSUPPORTED_OP', `Pad node '${ctx.node.name}': negative pads with mode '${mode}' have no gradient rule`);
  }
  let cur = g;
  const curShape = [...O];
  for (let a = 0; a < rank; a++) {
    const pb = pads[a]!,
      pe = pads[rank + a]!;
    if (pb === 0 && pe === 0) continue;
    const d = D[a]!;
    const parts = [sliceAxis(ctx, cur, a, pb, pb + d)];
    const at = (v: string, begin: number, len: number): string => {
      const p = new Array<number>(2 * rank).fill(0);
      p[a] = begin;
      p[rank + a] = d - begin - len;
      return zeroPad(ctx, v, p);
    };
    const flip = (v: string): string =>
      ctx.b.op('Slice', [
        v,
        int64Const(ctx, [-1], 'starts'),
        int64Const(ctx, [-INT64_MAX], 'ends'),
        int64Const(ctx, [a], 'axes'),
        int64Const(ctx, [-1], 'steps'),
      ]);
    if (pb > 0) {
      const left = sliceAxis(ctx, cur, a, 0, pb);
      if (mode === 'edge') parts.push(at(reduceSum(ctx, left, [a], true), 0, 1));
      else parts.push(at(flip(left), 1, pb)); // out[pb-k] = x[k], k = 1..pb
    }
    if (pe > 0) {
      const right = sliceAxis(ctx, cur, a, pb + d, pb + d + pe);
      if (mode === 'edge') parts.push(at(reduceSum(ctx, right, [a], true), d - 1, 1));
      else parts.push(at(flip(right), d - 1 - pe, pe)); // out[pb+d-1+k] = x[d-1-k]
    }
    cur = addAll(ctx, parts);
    curShape[a] = d;
  }
  res[0] = cur;
  return res;
};

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
