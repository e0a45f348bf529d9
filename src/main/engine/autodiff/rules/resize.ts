/**
 * Gradient rule for Resize (nearest, linear and cubic modes, opset 10+).
 *
 * Resize without antialiasing is separable: along every resized axis it multiplies by a fixed
 * [out, in] interpolation matrix W (one-hot rows for nearest, two taps for linear, four for
 * cubic). The shapes are static, so the rule rebuilds each W in JS with the runtime's own
 * coordinate arithmetic (float32, clamping, extrapolation) and emits the adjoint:
 *  - nearest upsampling by an integer factor f where output o reads input floor(o/f) (SD's 2x
 *    `asymmetric`/`floor` and also `half_pixel`/`round_prefer_floor`) -> sum each f-block:
 *    one Reshape + ReduceSum for all such axes;
 *  - any other axis -> MatMul with W (or W^T) as a constant, which is exact for every
 *    coordinate_transformation_mode and nearest_mode.
 */
import { attrFloat, attrInt, attrInts, attrString } from '../../onnx/ir.js';
import { EngineError } from '../../errors.js';
import { invertPerm, range, sameShape } from '../../onnx/static-shape.js';
import { normAxis, singleOutput, type GradContext, type GradRule } from '../rule.js';

const F = Math.fround;

/** One output position's taps: input index and weight. */
type Taps = [number, number][];

interface AxisResize {
  scale: number;
  inLen: number;
  outLen: number;
  roiStart: number;
  roiEnd: number;
}

interface ResizeAttrs {
  mode: 'nearest' | 'linear' | 'cubic';
  coord: string;
  nearestMode: string;
  cubicA: number;
  excludeOutside: boolean;
  extrapolate: boolean;
}

/** Original coordinate of output index `x`, as onnxruntime computes it (in float32). */
export function originalCoordinate(coord: string, x: number, a: AxisResize): number {
  const { scale: s, inLen, outLen, roiStart, roiEnd } = a;
  switch (coord) {
    case 'asymmetric':
      return F(x / s);
    case 'pytorch_half_pixel':
      return outLen > 1 ? F(F(F(x + 0.5) / s) - 0.5) : 0;
    case 'tf_half_pixel_for_nn':
      return F(F(x + 0.5) / s);
    case 'align_corners':
      return outLen === 1 ? 0 : F(F(x * (inLen - 1)) / (outLen - 1));
    case 'tf_crop_and_resize':
      return outLen > 1
        ? F(F(F(roiStart) * (inLen - 1)) + F(F(F(x * F(F(roiEnd) - F(roiStart))) * (inLen - 1)) / (outLen - 1)))
        : F(0.5 * (F(roiStart) + F(roiEnd)) * (inLen - 1));
    case 'half_pixel_symmetric': {
      const outputWidth = F(s * inLen);
      const adjustment = F(outLen / outputWidth);
      const center = F(inLen / 2);
      const offset = F(center * F(1 - adjustment));
      return F(offset + (x + 0.5) / s - 0.5);
    }
    case 'half_pixel':
      return F(F(F(x + 0.5) / s) - 0.5);
    default:
      throw new EngineError('UNSUPPORTED_OP', `Resize: unknown coordinate_transformation_mode '${coord}'`);
  }
}

/** C's round(): halves away from zero (JS Math.round rounds them up). */
function stdRound(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

function nearestIndex(mode: string, x: number, downsample: boolean): number {
  switch (mode) {
    case 'simple': // opset 10
      return downsample ? Math.ceil(x) : Math.trunc(x);
    case 'round_prefer_ceil':
      return stdRound(x);
    case 'floor':
      return Math.floor(x);
    case 'ceil':
      return Math.ceil(x);
    case 'round_prefer_floor': {
      if (x === Math.trunc(x) + 0.5) return Math.floor(x);
      return stdRound(x);
    }
    default:
      throw new EngineError('UNSUPPORTED_OP', `Resize: unknown nearest_mode '${mode}'`);
  }
}

function cubicCoeffs(s: number, A: number): number[] {
  const c = (d: number) => {
    const x = Math.abs(d);
    if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
    if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    return 0;
  };
  return [c(s + 1), c(s), c(1 - s), c(2 - s)].map(F);
}

/** The interpolation taps of every output index along one axis. */
export function axisTaps(attrs: ResizeAttrs, a: AxisResize): Taps[] {
  const taps: Taps[] = [];
  const clampIdx = (i: number) => Math.min(Math.max(i, 0), a.inLen - 1);
  for (let o = 0; o < a.outLen; o++) {
    if (a.scale === 1) {
      // The runtime skips the coordinate transform on unscaled axes.
      taps.push([[o, 1]]);
      continue;
    }
    const x = originalCoordinate(attrs.coord, o, a);
    if (attrs.extrapolate && (x < 0 || x > a.inLen - 1)) {
      taps.push([]); // extrapolation_value: no dependence on the input
      continue;
    }
    if (attrs.mode === 'nearest') {
      taps.push([[clampIdx(nearestIndex(attrs.nearestMode, x, a.scale < 1)), 1]]);
    } else if (attrs.mode === 'linear') {
      const v = Math.max(0, Math.min(x, a.inLen - 1));
      const i1 = Math.min(Math.trunc(v), a.inLen - 1);
      const i2 = Math.min(i1 + 1, a.inLen - 1);
      if (i1 === i2) taps.push([[i1, 1]]);
      else
        taps.push(
          (
            [
              [i1, F(Math.abs(v - i2))],
              [i2, F(Math.abs(v - i1))],
            ] as Taps
          ).filter(([, w]) => w !== 0),
        );
    } else {
      const xi = Math.floor(x);
      const co = cubicCoeffs(F(x - xi), attrs.cubicA);
      const t: Taps = [];
      if (attrs.excludeOutside) {
        let sum = 0;
        for (let k = 0; k < 4; k++) {
          const i = xi - 1 + k;
          if (i >= 0 && i < a.inLen) sum += co[k]!;
        }
        for (let k = 0; k < 4; k++) {
          const i = xi - 1 + k;
          if (i >= 0 && i < a.inLen) t.push([i, co[k]! / sum]);
        }
      } else {
        for (let k = 0; k < 4; k++) t.push([clampIdx(xi - 1 + k), co[k]!]);
      }
      taps.push(t);
    }
  }
  return taps;
}

/** The integer factor f if output o reads exactly input floor(o / f) with weight 1, else 0. */
function blockFactor(taps: Taps[], inLen: number): number {
  const outLen = taps.length;
  if (outLen % inLen !== 0) return 0;
  const f = outLen / inLen;
  for (let o = 0; o < outLen; o++) {
    const t = taps[o]!;
    if (t.length !== 1 || t[0]![0] !== Math.floor(o / f) || t[0]![1] !== 1) return 0;
  }
  return f;
}

/** Dense [out, in] matrix of the taps (repeated input indices accumulate, as clamped edges do). */
function denseMatrix(taps: Taps[], inLen: number): Float64Array {
  const w = new Float64Array(taps.length * inLen);
  taps.forEach((t, o) => t.forEach(([i, v]) => (w[o * inLen + i] = w[o * inLen + i]! + v)));
  return w;
}

function transposeMatrix(w: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c]!;
  return t;
}

function floatArray(ctx: GradContext, name: string): number[] | undefined {
  if (!name) return undefined;
  const v = ctx.constValue(name);
  if (!v || v.length === 0) return undefined;
  return Array.from(v as ArrayLike<number | bigint>, (x) => Number(x));
}

/** Per-axis scales and roi of a Resize node from its constant inputs and static shapes. */
function resolveAxes(ctx: GradContext, inShape: number[], outShape: number[], coord: string): AxisResize[] {
  const node = ctx.node;
  const where = `Resize node '${node.name}'`;
  const r = inShape.length;
  const legacy = ctx.opset < 11;
  const roiName = legacy ? '' : (node.inputs[1] ?? '');
  const scalesName = legacy ? (node.inputs[1] ?? '') : (node.inputs[2] ?? '');
  const sizesName = legacy ? '' : (node.inputs[3] ?? '');
  const axesAttr = ctx.opset >= 18 ? attrInts(node, 'axes') : undefined;
  const axes = axesAttr ? axesAttr.map((a) => normAxis(a, r)) : range(0, r);

  const scales = new Array<number>(r).fill(1);
  const given = floatArray(ctx, scalesName);
  if (given) {
    if (given.length !== axes.length) throw new EngineError('INVALID_MODEL', `${where}: ${given.length} scales for ${axes.length} axes`);
    axes.forEach((a, k) => (scales[a] = F(given[k]!)));
  } else if (sizesName || !scalesName) {
    // Sizes (constant or not: the static output shape is the sizes) define scale = out / in.
    axes.forEach((a) => (scales[a] = inShape[a] === 0 ? 1 : F(outShape[a]! / inShape[a]!)));
    const policy = ctx.opset >= 18 ? attrString(node, 'keep_aspect_ratio_policy', 'stretch') : 'stretch';
    if (policy !== 'stretch') {
      const pick = policy === 'not_larger' ? Math.min : Math.max;
      const s = pick(...axes.map((a) => scales[a]!));
      for (let a = 0; a < r; a++) scales[a] = axes.includes(a) ? s : 1;
    }
  } else {
    // Non-constant scales: only an integer ratio pins the scale down.
    axes.forEach((a) => {
      const ratio = outShape[a]! / inShape[a]!;
      if (!Number.isInteger(ratio)) {
        throw new EngineError(
          'UNSUPPORTED_OP',
          `${where}: its scales are not constant; specialise and fold the graph before differentiating`,
        );
      }
      scales[a] = ratio;
    });
  }

  const roiStart = new Array<number>(r).fill(0);
  const roiEnd = new Array<number>(r).fill(1);
  if (coord === 'tf_crop_and_resize') {
    const roi = floatArray(ctx, roiName);
    if (!roi) throw new EngineError('UNSUPPORTED_OP', `${where}: tf_crop_and_resize needs a constant roi input`);
    const n = roi.length / 2;
    const roiAxes = n === axes.length ? axes : Array.from({ length: n }, (_, i) => i);
    roiAxes.forEach((a, k) => {
      roiStart[a] = roi[k]!;
      roiEnd[a] = roi[n + k]!;
    });
  }
  return inShape.map((inLen, a) => ({ scale: scales[a]!, inLen, outLen: outShape[a]!, roiStart: roiStart[a]!, roiEnd: roiEnd[a]! }));
}

const resize = singleOutput((ctx, g) => [() => resizeAdjoint(ctx, g)]);

function resizeAdjoint(ctx: GradContext, g: string): string {
  const { b, node } = ctx;
  const where = `Resize node '${node.name}'`;
  const xName = node.inputs[0]!;
  const inShape = ctx.shapeOf(xName);
  const outShape = ctx.shapeOf(node.outputs[0]!);
  const dtype = ctx.dtypeOf(xName);
  if (sameShape(inShape, outShape)) return g; // the runtime copies when nothing is resized
  const mode = attrString(node, 'mode', 'nearest');
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'cubic')
    throw new EngineError('UNSUPPORTED_OP', `${where}: unknown mode '${mode}'`);
  if (ctx.opset >= 18 && attrInt(node, 'antialias', 0) !== 0) {
    throw new EngineError('UNSUPPORTED_OP', `${where}: no gradient for antialias=1`);
  }
  const legacy = ctx.opset < 11;
  const coord = legacy ? 'asymmetric' : attrString(node, 'coordinate_transformation_mode', 'half_pixel');
  const attrs: ResizeAttrs = {
    mode,
    coord,
    nearestMode: legacy ? 'simple' : attrString(node, 'nearest_mode', 'round_prefer_floor'),
    cubicA: attrFloat(node, 'cubic_coeff_a', -0.75),
    excludeOutside: attrInt(node, 'exclude_outside', 0) !== 0,
    extrapolate: coord === 'tf_crop_and_resize',
  };
  const axes = resolveAxes(ctx, inShape, outShape, coord);
  const r = inShape.length;

  const taps = axes.map((a) => axisTaps(attrs, a));
  const isIdentity = (a: number) =>
    axes[a]!.inLen === axes[a]!.outLen && taps[a]!.every((t, o) => t.length === 1 && t[0]![0] === o && t[0]![1] === 1);
  const block = axes.map((a, i) => (isIdentity(i) ? 1 : blockFactor(taps[i]!, a.inLen)));

  let cur = g;
  const curShape = [...outShape];
  // All block-summable axes at once: [.., in, f, ..] -> ReduceSum over the f axes.
  const blockAxes = block.map((f, a) => (f > 1 ? a : -1)).filter((a) => a >= 0);
  if (blockAxes.length > 0) {
    const split: number[] = [];
    const sumAxes: number[] = [];
    for (let a = 0; a < r; a++) {
      if (block[a]! > 1) {
        split.push(inShape[a]!, block[a]!);
        sumAxes.push(split.length - 1);
      } else split.push(curShape[a]!);
    }
    cur = b.reduceSum(b.reshape(cur, split), sumAxes, false);
    for (const a of blockAxes) curShape[a] = inShape[a]!;
  }
  for (let a = 0; a < r; a++) {
    if (block[a]! > 0) continue;
    const inLen = inShape[a]!;
    const outLen = outShape[a]!;
    const w = denseMatrix(taps[a]!, inLen);
    if (a === r - 1) {
      // dX[.., i] = sum_o g[.., o] W[o, i]
      cur = b.matmul(cur, b.initializer('resize_adj', dtype, [outLen, inLen], w));
    } else if (a === r - 2) {
      // dX[.., i, w] = sum_o W[o, i] g[.., o, w]
      cur = b.matmul(b.initializer('resize_adj', dtype, [inLen, outLen], transposeMatrix(w, outLen, inLen)), cur);
    } else {
      const perm = [...range(0, r).filter((i) => i !== a), a];
      const prod = b.matmul(b.transpose(cur, perm), b.initializer('resize_adj', dtype, [outLen, inLen], w));
      cur = b.transpose(prod, invertPerm(perm));
    }
    curShape[a] = inLen;
  }
  return cur;
}

export const rules: Record<string, GradRule> = {
  Resize: resize,
};
