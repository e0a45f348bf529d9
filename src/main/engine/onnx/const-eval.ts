/**
 * A small JS evaluator for ONNX nodes on constant tensors, used by constant folding and by
 * shape inference (to follow Shape -> Gather -> Concat -> Reshape chains).
 *
 * Only ops whose results are exactly reproducible are evaluated (shape arithmetic, indexing,
 * casts, + - * / sqrt, comparisons): values are computed in float64 and rounded once to the
 * output type, which matches onnxruntime bit for bit for these ops. Anything else returns
 * undefined and stays in the graph.
 */
import { DataType, viewRaw, halfToFloat, floatToHalf, rawOf, type NumericArray } from './dtype.js';
import { attrFloat, attrInt, attrInts, attrTensor, type Attribute, type Node, type Tensor } from './ir.js';
import { tensorBytes } from './model-io.js';
import { broadcastShapes, numel, shapeOpRange, sliceRange } from './static-shape.js';
import { typedArrayOf } from './typed-array.js';

/** A dense constant: row-major values as JS numbers (int64 may be approximate beyond 2^53; bool as 0/1). */
export interface ConstTensor {
  dtype: DataType;
  dims: number[];
  data: number[];
}

const NUMERIC = new Set<DataType>([
  DataType.FLOAT,
  DataType.DOUBLE,
  DataType.FLOAT16,
  DataType.INT8,
  DataType.INT16,
  DataType.INT32,
  DataType.INT64,
  DataType.UINT8,
  DataType.UINT16,
  DataType.UINT32,
  DataType.UINT64,
  DataType.BOOL,
]);

export function isIntType(d: DataType): boolean {
  return (
    d === DataType.INT8 ||
    d === DataType.INT16 ||
    d === DataType.INT32 ||
    d === DataType.INT64 ||
    d === DataType.UINT8 ||
    d === DataType.UINT16 ||
    d === DataType.UINT32 ||
    d === DataType.UINT64
  );
}

/** Tensor -> ConstTensor, or undefined for strings, unsupported types or more than `maxElements`. */
export function tensorToConst(t: Tensor, baseDir?: string, maxElements = 1 << 20): ConstTensor | undefined {
  if (!NUMERIC.has(t.dtype) || t.strings) return undefined;
  const n = numel(t.dims);
  if (n > maxElements) return undefined;
  let arr: NumericArray;
  try {
    arr = viewRaw(t.dtype, tensorBytes(t, baseDir));
  } catch {
    return undefined;
  }
  if (arr.length !== n) return undefined;
  let data: number[];
  if (t.dtype === DataType.FLOAT16) data = Array.from(arr as Uint16Array, halfToFloat);
  else if (arr instanceof BigInt64Array || arr instanceof BigUint64Array) data = Array.from(arr as ArrayLike<bigint>, Number);
  else data = Array.from(arr as ArrayLike<number>);
  return { dtype: t.dtype, dims: [...t.dims], data };
}

/** ConstTensor -> IR tensor with raw bytes. */
export function constToTensor(name: string, c: ConstTensor): Tensor {
  const arr = typedArrayOf(c.dtype, c.data);
  if (!arr) throw new Error(`cannot store constant of type ${DataType[c.dtype]}`);
  return { name, dtype: c.dtype, dims: [...c.dims], raw: new Uint8Array(rawOf(arr).slice()) };
}

/** Round a float64 result to what the output type can hold (ONNX/C++ cast semantics). */
export function roundTo(dtype: DataType, x: number): number {
  switch (dtype) {
    case DataType.FLOAT:
      return Math.fround(x);
    case DataType.FLOAT16:
      return halfToFloat(floatToHalf(x));
    case DataType.DOUBLE:
      return x;
    case DataType.BOOL:
      return x !== 0 && !Number.isNaN(x) ? 1 : 0;
    case DataType.INT64:
    case DataType.UINT64:
      return Number.isNaN(x) ? 0 : Math.trunc(x);
    case DataType.INT32:
      return Number.isNaN(x) ? 0 : Math.trunc(x) | 0;
    case DataType.INT16:
      return ((Math.trunc(x) | 0) << 16) >> 16;
    case DataType.INT8:
      return ((Math.trunc(x) | 0) << 24) >> 24;
    case DataType.UINT32:
      return Math.trunc(x) >>> 0;
    case DataType.UINT16:
      return Math.trunc(x) & 0xffff;
    case DataType.UINT8:
      return Math.trunc(x) & 0xff;
    default:
      return x;
  }
}

function strides(dims: number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i]!;
  }
  return s;
}

/** Values of `t` broadcast to `shape` (row-major). */
export function broadcastTo(t: ConstTensor, shape: number[]): number[] {
  const n = numel(shape);
  if (t.dims.length === shape.length && t.dims.every((d, i) => d === shape[i])) return t.data;
  const r = shape.length;
  const src = strides(t.dims);
  const srcStride = shape.map((d, i) => {
    const k = i - (r - t.dims.length);
    return k < 0 || t.dims[k] === 1 ? 0 : src[k]!;
  });
  const out = new Array<number>(n);
  const idx = new Array<number>(r).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    out[i] = t.data[off]!;
    for (let k = r - 1; k >= 0; k--) {
      idx[k]!++;
      off += srcStride[k]!;
      if (idx[k]! < shape[k]!) break;
      off -= srcStride[k]! * shape[k]!;
      idx[k] = 0;
    }
  }
  return out;
}

function ints(c: ConstTensor | undefined): number[] | undefined {
  return c?.data;
}

const normAxis = (a: number, rank: number) => (a < 0 ? a + rank : a);

/** The value a Constant node produces (any of its value_* attribute forms). */
export function constantNodeValue(node: Node, baseDir?: string, maxElements = 1 << 30): ConstTensor | undefined {
  const t = attrTensor(node, 'value') ?? attrTensor(node, 'sparse_value'); // sparse values are densified on read
  if (t) return tensorToConst(t, baseDir, maxElements);
  const a = node.attrs;
  if (a.value_float) return { dtype: DataType.FLOAT, dims: [], data: [Math.fround(attrFloat(node, 'value_float', 0))] };
  if (a.value_int) return { dtype: DataType.INT64, dims: [], data: [attrInt(node, 'value_int', 0)] };
  const fl = a.value_floats as Attribute | undefined;
  if (fl && fl.kind === 'floats') return { dtype: DataType.FLOAT, dims: [fl.value.length], data: fl.value.map(Math.fround) };
  if (fl && fl.kind === 'ints') return { dtype: DataType.FLOAT, dims: [fl.value.length], data: fl.value.map(Math.fround) };
  const il = attrInts(node, 'value_ints');
  if (il) return { dtype: DataType.INT64, dims: [il.length], data: [...il] };
  return undefined;
}

/** The tensor form of a Constant node's value (for turning it into an initializer). */
export function constantNodeTensor(node: Node, name: string): Tensor | undefined {
  const t = attrTensor(node, 'value') ?? attrTensor(node, 'sparse_value');
  if (t) return { ...t, name };
  const c = constantNodeValue(node);
  return c ? constToTensor(name, c) : undefined;
}

type Binary = (a: number, b: number) => number | undefined;

function binaryOp(op: string, dtype: DataType, fmod: number): Binary | undefined {
  const isInt = isIntType(dtype) || dtype === DataType.BOOL;
  switch (op) {
    case 'Add':
      return (a, b) => a + b;
    case 'Sub':
      return (a, b) => a - b;
    case 'Mul':
      return (a, b) => a * b;
    case 'Div':
      return isInt ? (a, b) => (b === 0 ? undefined : Math.trunc(a / b)) : (a, b) => a / b;
    case 'Mod':
      if (!isInt || fmod) return (a, b) => (b === 0 ? undefined : a % b);
      return (a, b) => (b === 0 ? undefined : ((a % b) + b) % b);
    case 'Min':
      return (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b));
    case 'Max':
      return (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b));
    case 'Equal':
      return (a, b) => (a === b ? 1 : 0);
    case 'Less':
      return (a, b) => (a < b ? 1 : 0);
    case 'Greater':
      return (a, b) => (a > b ? 1 : 0);
    case 'LessOrEqual':
      return (a, b) => (a <= b ? 1 : 0);
    case 'GreaterOrEqual':
      return (a, b) => (a >= b ? 1 : 0);
    case 'And':
      return (a, b) => (a && b ? 1 : 0);
    case 'Or':
      return (a, b) => (a || b ? 1 : 0);
    case 'Xor':
      return (a, b) => (a ? 1 : 0) ^ (b ? 1 : 0);
    default:
      return undefined;
  }
}

const COMPARE = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor']);

const UNARY: Record<string, (x: number) => number> = {
  Identity: (x) => x,
  Neg: (x) => -x,
  Abs: (x) => Math.abs(x),
  Sqrt: (x) => Math.sqrt(x),
  Reciprocal: (x) => 1 / x,
  Floor: (x) => Math.floor(x),
  Ceil: (x) => Math.ceil(x),
  Sign: (x) => Math.sign(x),
  Not: (x) => (x ? 0 : 1),
  Relu: (x) => (x > 0 ? x : 0),
};

/** Ops `evalNode` can evaluate (Shape/Size need only their input's static shape). */
export const EVALUABLE_OPS = new Set([
  ...Object.keys(UNARY),
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Mod',
  'Min',
  'Max',
  'Equal',
  'Less',
  'Greater',
  'LessOrEqual',
  'GreaterOrEqual',
  'And',
  'Or',
  'Xor',
  'Where',
  'Cast',
  'CastLike',
  'Shape',
  'Size',
  'Gather',
  'Unsqueeze',
  'Squeeze',
  'Concat',
  'Reshape',
  'Flatten',
  'Slice',
  'Range',
  'ConstantOfShape',
  'Constant',
  'Expand',
  'Tile',
  'Transpose',
  'ReduceProd',
  'ReduceSum',
  'ReduceMin',
  'ReduceMax',
  'Split',
]);

export interface EvalContext {
  opset: number;
  baseDir?: string;
  maxElements: number;
  /** Static input shapes (for Shape/Size on non-constant inputs). */
  inputShapes?: (number[] | undefined)[];
}

/**
 * Evaluate a node whose (non-optional) inputs are all constants.
 * @returns one ConstTensor per output, or undefined when the op/types are not supported or the
 *   result would exceed `ctx.maxElements`.
 */
export function evalNode(node: Node, inputs: (ConstTensor | undefined)[], ctx: EvalContext): ConstTensor[] | undefined {
  const op = node.opType;
  const x = inputs[0];
  const limit = (dims: number[]) => numel(dims) <= ctx.maxElements;
  const unary = UNARY[op];
  if (unary) {
    if (!x) return undefined;
    if ((op === 'Sqrt' || op === 'Reciprocal') && isIntType(x.dtype)) return undefined;
    return [{ dtype: x.dtype, dims: x.dims, data: x.data.map((v) => roundTo(x.dtype, unary(v))) }];
  }
  switch (op) {
    case 'Constant': {
      const c = constantNodeValue(node, ctx.baseDir, ctx.maxElements);
      return c ? [c] : undefined;
    }
    case 'Shape': {
      const shape = x?.dims ?? ctx.inputShapes?.[0];
      if (!shape) return undefined;
      const { start, end } = shapeOpRange(node, shape.length);
      const data = shape.slice(start, end);
      return [{ dtype: DataType.INT64, dims: [data.length], data }];
    }
    case 'Size': {
      const shape = x?.dims ?? ctx.inputShapes?.[0];
      return shape ? [{ dtype: DataType.INT64, dims: [], data: [numel(shape)] }] : undefined;
    }
    case 'Cast':
    case 'CastLike': {
      if (!x) return undefined;
      const to = op === 'Cast' ? (attrInt(node, 'to', 0) as DataType) : inputs[1]?.dtype;
      if (to === undefined || !NUMERIC.has(to)) return undefined;
      return [{ dtype: to, dims: x.dims, data: x.data.map((v) => roundTo(to, v)) }];
    }
    case 'Where': {
      const [c, a, b] = inputs;
      if (!c || !a || !b) return undefined;
      const shape = broadcastShapes(c.dims, a.dims, b.dims);
      if (!shape || !limit(shape)) return undefined;
      const cc = broadcastTo(c, shape);
      const aa = broadcastTo(a, shape);
      const bb = broadcastTo(b, shape);
      return [{ dtype: a.dtype, dims: shape, data: cc.map((v, i) => (v ? aa[i]! : bb[i]!)) }];
    }
    case 'Gather': {
      const idx = inputs[1];
      if (!x || !idx) return undefined;
      const axis = normAxis(attrInt(node, 'axis', 0), x.dims.length);
      const dims = [...x.dims.slice(0, axis), ...idx.dims, ...x.dims.slice(axis + 1)];
      if (!limit(dims)) return undefined;
      const outer = numel(x.dims.slice(0, axis));
      const inner = numel(x.dims.slice(axis + 1));
      const dimA = x.dims[axis]!;
      const data: number[] = [];
      for (let o = 0; o < outer; o++) {
        for (let j of idx.data) {
          if (j < 0) j += dimA;
          if (j < 0 || j >= dimA) return undefined;
          const base = (o * dimA + j) * inner;
          for (let k = 0; k < inner; k++) data.push(x.data[base + k]!);
        }
      }
      return [{ dtype: x.dtype, dims, data }];
    }
    case 'Unsqueeze': {
      if (!x) return undefined;
      const axes = ctx.opset >= 13 ? ints(inputs[1]) : attrInts(node, 'axes');
      if (!axes) return undefined;
      const dims = unsqueezeDims(x.dims, axes);
      return dims ? [{ dtype: x.dtype, dims, data: x.data }] : undefined;
    }
    case 'Squeeze': {
      if (!x) return undefined;
      const axes = ctx.opset >= 13 ? (inputs[1] ? ints(inputs[1]) : undefined) : attrInts(node, 'axes');
      const dims = squeezeDims(x.dims, axes);
      return dims ? [{ dtype: x.dtype, dims, data: x.data }] : undefined;
    }
    case 'Concat': {
      if (inputs.some((t) => !t) || inputs.length === 0) return undefined;
      const ts = inputs as ConstTensor[];
      const rank = ts[0]!.dims.length;
      const axis = normAxis(attrInt(node, 'axis', 0), rank);
      const dims = [...ts[0]!.dims];
      dims[axis] = ts.reduce((s, t) => s + t.dims[axis]!, 0);
      if (!limit(dims)) return undefined;
      const outer = numel(dims.slice(0, axis));
      const data: number[] = [];
      for (let o = 0; o < outer; o++) {
        for (const t of ts) {
          const chunk = numel(t.dims.slice(axis));
          for (let k = 0; k < chunk; k++) data.push(t.data[o * chunk + k]!);
        }
      }
      return [{ dtype: ts[0]!.dtype, dims, data }];
    }
    case 'Reshape': {
      const shape = ints(inputs[1]);
      if (!x || !shape) return undefined;
      const dims = reshapeDims(x.dims, shape, attrInt(node, 'allowzero', 0) === 1);
      return dims ? [{ dtype: x.dtype, dims, data: x.data }] : undefined;
    }
    case 'Flatten': {
      if (!x) return undefined;
      const axis = normAxis(attrInt(node, 'axis', 1), x.dims.length);
      return [{ dtype: x.dtype, dims: [numel(x.dims.slice(0, axis)), numel(x.dims.slice(axis))], data: x.data }];
    }
    case 'Slice':
      return evalSlice(node, inputs, ctx);
    case 'Range': {
      const [s, l, d] = inputs;
      if (!s || !l || !d) return undefined;
      const start = s.data[0]!;
      const delta = d.data[0]!;
      if (delta === 0) return undefined;
      const n = Math.max(Math.ceil((l.data[0]! - start) / delta), 0);
      if (n > ctx.maxElements) return undefined;
      return [{ dtype: s.dtype, dims: [n], data: Array.from({ length: n }, (_, i) => roundTo(s.dtype, start + i * delta)) }];
    }
    case 'ConstantOfShape': {
      const shape = x?.data;
      if (!shape || !limit(shape)) return undefined;
      const v = attrTensor(node, 'value');
      const vc = v ? tensorToConst(v, ctx.baseDir) : { dtype: DataType.FLOAT, dims: [1], data: [0] };
      if (!vc) return undefined;
      return [{ dtype: vc.dtype, dims: [...shape], data: new Array<number>(numel(shape)).fill(vc.data[0] ?? 0) }];
    }
    case 'Expand': {
      const shape = ints(inputs[1]);
      if (!x || !shape) return undefined;
      const dims = broadcastShapes(x.dims, shape);
      if (!dims || !limit(dims)) return undefined;
      return [{ dtype: x.dtype, dims, data: broadcastTo(x, dims) }];
    }
    case 'Tile': {
      const reps = ints(inputs[1]);
      if (!x || !reps || reps.length !== x.dims.length) return undefined;
      const dims = x.dims.map((d, i) => d * reps[i]!);
      if (!limit(dims)) return undefined;
      const st = strides(x.dims);
      const data = new Array<number>(numel(dims));
      const idx = new Array<number>(dims.length).fill(0);
      for (let i = 0; i < data.length; i++) {
        let off = 0;
        for (let k = 0; k < dims.length; k++) off += (idx[k]! % x.dims[k]!) * st[k]!;
        data[i] = x.data[off]!;
        for (let k = dims.length - 1; k >= 0; k--) {
          if (++idx[k]! < dims[k]!) break;
          idx[k] = 0;
        }
      }
      return [{ dtype: x.dtype, dims, data }];
    }
    case 'Transpose': {
      if (!x) return undefined;
      const r = x.dims.length;
      const perm = attrInts(node, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
      const dims = perm.map((p) => x.dims[p]!);
      const st = strides(x.dims);
      const data = new Array<number>(x.data.length);
      const idx = new Array<number>(r).fill(0);
      for (let i = 0; i < data.length; i++) {
        let off = 0;
        for (let k = 0; k < r; k++) off += idx[k]! * st[perm[k]!]!;
        data[i] = x.data[off]!;
        for (let k = r - 1; k >= 0; k--) {
          if (++idx[k]! < dims[k]!) break;
          idx[k] = 0;
        }
      }
      return [{ dtype: x.dtype, dims, data }];
    }
    case 'ReduceProd':
    case 'ReduceSum':
    case 'ReduceMin':
    case 'ReduceMax': {
      if (!x) return undefined;
      // Float sums depend on accumulation order: only integers are folded.
      if ((op === 'ReduceSum' || op === 'ReduceProd') && !isIntType(x.dtype)) return undefined;
      const axesFromInput = op === 'ReduceSum' ? ctx.opset >= 13 : ctx.opset >= 18;
      let axes = axesFromInput ? ints(inputs[1]) : attrInts(node, 'axes');
      if (axesFromInput && inputs.length > 1 && node.inputs[1] !== '' && !inputs[1]) return undefined;
      const keep = attrInt(node, 'keepdims', 1) === 1;
      if (!axes || axes.length === 0) {
        if (attrInt(node, 'noop_with_empty_axes', 0) === 1) return [x];
        axes = x.dims.map((_, i) => i);
      }
      const r = x.dims.length;
      const ax = new Set(axes.map((a) => normAxis(a, r)));
      const keptDims = x.dims.map((d, i) => (ax.has(i) ? 1 : d));
      const init = op === 'ReduceProd' ? 1 : op === 'ReduceSum' ? 0 : op === 'ReduceMin' ? Infinity : -Infinity;
      const acc = new Array<number>(numel(keptDims)).fill(init);
      const st = strides(keptDims);
      const idx = new Array<number>(r).fill(0);
      for (let i = 0; i < x.data.length; i++) {
        let off = 0;
        for (let k = 0; k < r; k++) if (!ax.has(k)) off += idx[k]! * st[k]!;
        const v = x.data[i]!;
        const a = acc[off]!;
        acc[off] = op === 'ReduceProd' ? a * v : op === 'ReduceSum' ? a + v : op === 'ReduceMin' ? Math.min(a, v) : Math.max(a, v);
        for (let k = r - 1; k >= 0; k--) {
          if (++idx[k]! < x.dims[k]!) break;
          idx[k] = 0;
        }
      }
      const dims = keep ? keptDims : x.dims.filter((_, i) => !ax.has(i));
      return [{ dtype: x.dtype, dims, data: acc.map((v) => roundTo(x.dtype, v)) }];
    }
    case 'Split': {
      if (!x) return undefined;
      const axis = normAxis(attrInt(node, 'axis', 0), x.dims.length);
      const sizes = splitSizes(node, x.dims[axis]!, inputs[1]?.data, ctx.opset);
      if (!sizes) return undefined;
      const outer = numel(x.dims.slice(0, axis));
      const inner = numel(x.dims.slice(axis + 1));
      let offset = 0;
      return sizes.map((sz) => {
        const dims = [...x.dims];
        dims[axis] = sz;
        const data: number[] = [];
        for (let o = 0; o < outer; o++) {
          const base = (o * x.dims[axis]! + offset) * inner;
          for (let k = 0; k < sz * inner; k++) data.push(x.data[base + k]!);
        }
        offset += sz;
        return { dtype: x.dtype, dims, data };
      });
    }
  }
  const bin = binaryOp(op, x?.dtype ?? DataType.FLOAT, attrInt(node, 'fmod', 0));
  if (bin) {
    if (inputs.length === 0 || inputs.some((t) => !t)) return undefined;
    let acc = inputs[0]!;
    for (const y of inputs.slice(1)) {
      const dims = broadcastShapes(acc.dims, y!.dims);
      if (!dims || !limit(dims)) return undefined;
      const aa = broadcastTo(acc, dims);
      const bb = broadcastTo(y!, dims);
      const outType = COMPARE.has(op) ? DataType.BOOL : acc.dtype;
      const data: number[] = new Array<number>(aa.length);
      for (let i = 0; i < aa.length; i++) {
        const v = bin(aa[i]!, bb[i]!);
        if (v === undefined) return undefined;
        data[i] = roundTo(outType, v);
      }
      acc = { dtype: outType, dims, data };
    }
    return [acc];
  }
  return undefined;
}

function evalSlice(node: Node, inputs: (ConstTensor | undefined)[], ctx: EvalContext): ConstTensor[] | undefined {
  const x = inputs[0];
  if (!x) return undefined;
  const p = sliceParams(
    node,
    inputs.map((t) => t?.data),
    x.dims.length,
    ctx.opset,
  );
  if (!p) return undefined;
  const r = x.dims.length;
  const start = new Array<number>(r).fill(0);
  const step = new Array<number>(r).fill(1);
  const dims = [...x.dims];
  p.axes.forEach((a, i) => {
    const rr = sliceRange(x.dims[a]!, p.starts[i]!, p.ends[i]!, p.steps[i]!);
    start[a] = rr.start;
    step[a] = p.steps[i]!;
    dims[a] = rr.count;
  });
  if (numel(dims) > ctx.maxElements) return undefined;
  const st = strides(x.dims);
  const data = new Array<number>(numel(dims));
  const idx = new Array<number>(r).fill(0);
  for (let i = 0; i < data.length; i++) {
    let off = 0;
    for (let k = 0; k < r; k++) off += (start[k]! + idx[k]! * step[k]!) * st[k]!;
    data[i] = x.data[off]!;
    for (let k = r - 1; k >= 0; k--) {
      if (++idx[k]! < dims[k]!) break;
      idx[k] = 0;
    }
  }
  return [{ dtype: x.dtype, dims, data }];
}

/** Normalised Slice parameters (axes made non-negative); undefined when not constant. */
export function sliceParams(
  node: Node,
  values: (number[] | undefined)[],
  rank: number,
  opset: number,
): { starts: number[]; ends: number[]; axes: number[]; steps: number[] } | undefined {
  let starts: number[] | undefined;
  let ends: number[] | undefined;
  let axes: number[] | undefined;
  let steps: number[] | undefined;
  if (opset < 10) {
    starts = attrInts(node, 'starts');
    ends = attrInts(node, 'ends');
    axes = attrInts(node, 'axes');
  } else {
    starts = values[1];
    ends = values[2];
    const hasAxes = node.inputs[3] !== undefined && node.inputs[3] !== '';
    const hasSteps = node.inputs[4] !== undefined && node.inputs[4] !== '';
    axes = hasAxes ? values[3] : undefined;
    steps = hasSteps ? values[4] : undefined;
    if ((hasAxes && !axes) || (hasSteps && !steps)) return undefined;
  }
  if (!starts || !ends) return undefined;
  axes = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, rank));
  steps = steps ?? starts.map(() => 1);
  if (steps.some((s) => s === 0)) return undefined;
  return { starts, ends, axes, steps };
}

/** Output dims of Unsqueeze (axes relative to the output rank). */
export function unsqueezeDims<D>(dims: D[], axes: number[]): (D | 1)[] | undefined {
  const r = dims.length + axes.length;
  const ax = new Set(axes.map((a) => normAxis(a, r)));
  if (ax.size !== axes.length) return undefined;
  const out: (D | 1)[] = [];
  let j = 0;
  for (let i = 0; i < r; i++) out.push(ax.has(i) ? 1 : dims[j++]!);
  return j === dims.length ? out : undefined;
}

/** Output dims of Squeeze; without axes every static 1 is removed (undefined if that is ambiguous). */
export function squeezeDims<D>(dims: D[], axes: number[] | undefined): D[] | undefined {
  if (!axes) {
    if (dims.some((d) => typeof d !== 'number')) return undefined;
    return dims.filter((d) => d !== 1);
  }
  const ax = new Set(axes.map((a) => normAxis(a, dims.length)));
  return dims.filter((_, i) => !ax.has(i));
}

/** Output dims of Reshape with ONNX's 0 (copy, unless allowzero) and -1 (infer) rules. */
export function reshapeDims(inDims: number[], shape: number[], allowzero: boolean): number[] | undefined {
  const out = shape.map((s, i) => (s === 0 && !allowzero ? inDims[i] : s));
  if (out.some((d) => d === undefined)) return undefined;
  const dims = out as number[];
  const total = numel(inDims);
  const neg = dims.filter((d) => d === -1).length;
  if (neg > 1) return undefined;
  if (neg === 1) {
    const known = numel(dims.filter((d) => d !== -1));
    if (known === 0 || total % known !== 0) return undefined;
    return dims.map((d) => (d === -1 ? total / known : d));
  }
  return numel(dims) === total ? dims : undefined;
}

/** Split sizes from the input (opset >= 13), the attribute, num_outputs (18) or an even split. */
export function splitSizes(node: Node, dim: number, splitInput: number[] | undefined, opset: number): number[] | undefined {
  const given = opset >= 13 ? splitInput : attrInts(node, 'split');
  if (given && given.length > 0) return given;
  if (opset >= 13 && node.inputs[1] !== undefined && node.inputs[1] !== '' && !splitInput) return undefined;
  const n = attrInt(node, 'num_outputs') ?? node.outputs.length;
  const chunk = Math.ceil(dim / n);
  const sizes: number[] = [];
  let left = dim;
  for (let i = 0; i < n; i++) {
    sizes.push(Math.max(0, Math.min(chunk, left)));
    left -= chunk;
  }
  return sizes;
}
