/**
 * Small emission helpers shared by every gradient rule: un-broadcasting, typed constants,
 * zeros, expansion and accumulation. All shapes are concrete (the VJP runs on a specialised
 * graph), so shapes are baked into the emitted graph as int64 initializers.
 *
 * Constants are cached per builder so a graph with hundreds of `Mul(g, 0.5)` gets one `0.5`.
 */
import type { GraphBuilder } from '../onnx/builder.js';
import { makeTensor } from '../onnx/builder.js';
import { DataType, halfToFloat } from '../onnx/dtype.js';
import { EngineError } from '../errors.js';
import type { GradContext } from './rule.js';

/** The part of a GradContext the pure emitters need (the VJP transform passes its own). */
export type EmitContext = Pick<GradContext, 'b'>;

const constCache = new WeakMap<GraphBuilder, Map<string, string>>();

function cached(b: GraphBuilder, key: string, make: () => string): string {
  let m = constCache.get(b);
  if (!m) constCache.set(b, (m = new Map()));
  let v = m.get(key);
  if (v === undefined) m.set(key, (v = make()));
  return v;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Normalise a possibly negative axis against `rank`; throws on out-of-range axes. */
export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new EngineError('INVALID_MODEL', `axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Numpy-style broadcast of shapes (right-aligned). Throws when they are incompatible. */
export function broadcastShapes(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    const off = rank - s.length;
    for (let i = 0; i < s.length; i++) {
      const d = s[i]!;
      const o = out[off + i]!;
      if (d === o || d === 1) continue;
      if (o === 1) out[off + i] = d;
      else throw new EngineError('SHAPE_MISMATCH', `shapes [${shapes.map((x) => x.join(',')).join('] and [')}] do not broadcast`);
    }
  }
  return out;
}

/** A cached int64 1-D constant (shapes, axes). */
export function int64Const(ctx: EmitContext, values: readonly number[], base = 'const_i64'): string {
  return cached(ctx.b, `i64:${values.join(',')}`, () => ctx.b.int64s([...values], base));
}

/**
 * A cached scalar constant of `dtype` (use the activation's dtype: fp16 graphs stay fp16,
 * double test graphs stay double).
 */
export function scalarConst(ctx: EmitContext, value: number, dtype: DataType): string {
  return cached(ctx.b, `s:${dtype}:${Object.is(value, -0) ? '-0' : value}`, () => ctx.b.scalar(value, dtype, 'grad_const'));
}

/** Reshape `x` to `shape` (a cached shape constant). */
export function reshapeTo(ctx: EmitContext, x: string, shape: readonly number[]): string {
  return ctx.b.op('Reshape', [x, int64Const(ctx, shape, 'shape')]);
}

/** Zeros of a given shape and dtype (ConstantOfShape, so the model carries no zero payload). */
export function zeros(ctx: EmitContext, shape: readonly number[], dtype: DataType): string {
  return cached(ctx.b, `z:${dtype}:${shape.join(',')}`, () =>
    ctx.b.op('ConstantOfShape', [int64Const(ctx, shape, 'shape')], { value: makeTensor('value', dtype, [1], [0]) }),
  );
}

/** Zeros with the shape and dtype of value `name`. */
export function zerosLike(ctx: GradContext, name: string): string {
  return zeros(ctx, ctx.shapeOf(name), ctx.dtypeOf(name));
}

/** Broadcast `x` (of shape `from`) up to `to` with Expand; no-op when equal. */
export function expandTo(ctx: EmitContext, x: string, from: readonly number[], to: readonly number[]): string {
  if (sameShape(from, to)) return x;
  return ctx.b.op('Expand', [x, int64Const(ctx, to, 'shape')]);
}

/**
 * Sum `grad` (of shape `gradShape`, the broadcast result) down to `targetShape` (the shape of a
 * broadcast operand): ReduceSum with keepdims over the broadcast axes, then Reshape to the target.
 * Returns `grad` unchanged when the shapes are equal.
 */
export function unbroadcast(ctx: EmitContext, grad: string, gradShape: readonly number[], targetShape: readonly number[]): string {
  if (sameShape(gradShape, targetShape)) return grad;
  const off = gradShape.length - targetShape.length;
  if (off < 0)
    throw new EngineError('SHAPE_MISMATCH', `cannot unbroadcast [${gradShape.join(',')}] to the larger shape [${targetShape.join(',')}]`);
  const axes: number[] = [];
  for (let i = 0; i < gradShape.length; i++) {
    if (i < off) axes.push(i);
    else {
      const t = targetShape[i - off]!;
      const g = gradShape[i]!;
      if (t === g) continue;
      if (t !== 1) throw new EngineError('SHAPE_MISMATCH', `cannot unbroadcast [${gradShape.join(',')}] to [${targetShape.join(',')}]`);
      axes.push(i);
    }
  }
  let out = grad;
  const kept = gradShape.map((d, i) => (axes.includes(i) ? 1 : d));
  if (axes.length > 0) out = reduceSum(ctx, out, axes, true);
  if (!sameShape(kept, targetShape)) out = reshapeTo(ctx, out, targetShape);
  return out;
}

/** ReduceSum over `axes` at the builder's opset (axes attribute before 13, input after); shared axes constants. */
export function reduceSum(ctx: EmitContext, x: string, axes: readonly number[], keepdims: boolean): string {
  if (axes.length === 0) return x;
  if (ctx.b.opset >= 13) return ctx.b.op('ReduceSum', [x, int64Const(ctx, axes, 'axes')], { keepdims: keepdims ? 1 : 0 });
  return ctx.b.op('ReduceSum', [x], { axes: [...axes], keepdims: keepdims ? 1 : 0 });
}

/** Sum a list of same-shaped contributions (Add chain; a single name is returned unchanged). */
export function addAll(ctx: EmitContext, names: readonly string[]): string {
  if (names.length === 0) throw new Error('addAll: no contributions');
  if (names.length === 1) return names[0]!;
  if (names.length === 2) return ctx.b.op('Add', [names[0]!, names[1]!]);
  return ctx.b.op('Sum', [...names]);
}

/** g * s for a scalar `s` in `dtype`; returns g itself when s == 1. */
export function scale(ctx: EmitContext, g: string, s: number, dtype: DataType): string {
  if (s === 1) return g;
  if (s === -1) return ctx.b.op('Neg', [g]);
  return ctx.b.op('Mul', [g, scalarConst(ctx, s, dtype)]);
}

/** Inverse of a permutation. */
export function invertPerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/**
 * The integer values of a constant input (axes, starts, pads...), or undefined when the input
 * is omitted (''). Throws when the input is present but not a constant: rules that bake such
 * values need a specialised, constant-folded graph.
 */
export function constInts(ctx: GradContext, name: string | undefined, what: string): number[] | undefined {
  if (!name) return undefined;
  const v = ctx.constValue(name);
  if (!v) {
    throw new EngineError(
      'UNSUPPORTED_OP',
      `${ctx.node.opType} node '${ctx.node.name}': ${what} ('${name}') must be a constant for the gradient; specialise the model (fixed shapes + constant folding) first`,
    );
  }
  return Array.from(v as ArrayLike<number | bigint>, (x) => Number(x));
}

/** The constant float values of an input, or undefined when absent/not constant. */
export function constFloats(ctx: GradContext, name: string | undefined): number[] | undefined {
  if (!name) return undefined;
  const v = ctx.constValue(name);
  if (!v) return undefined;
  const dt = ctx.dtypeOf(name);
  if (dt === DataType.FLOAT16) return Array.from(v as Uint16Array, halfToFloat);
  if (dt === DataType.BFLOAT16) return undefined;
  return Array.from(v as ArrayLike<number | bigint>, (x) => Number(x));
}
