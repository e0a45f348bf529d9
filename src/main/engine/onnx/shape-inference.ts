/**
 * Static shape and type inference for the ai.onnx ops found in Stable Diffusion / CLIP / VAE
 * exports (opsets 11-18) plus the common rest.
 *
 * Every value gets a dtype and a shape in `graph.valueInfo`. Dims are numbers when the graph
 * inputs have concrete dims; otherwise symbolic strings built by dims.ts (`height`,
 * `2*height`, ...). Small integer tensors are evaluated along the way (constants, Shape ->
 * Gather -> Concat chains, with symbolic entries where needed) so Reshape/Expand/Slice/
 * ConstantOfShape targets are known.
 *
 * Unknown ops (other domains, control flow, rare ops): by default an
 * EngineError('UNSUPPORTED_OP') naming the op and node. With `{ unknownOps: 'keep' }` their
 * outputs keep whatever value_info the file recorded (or stay untyped) and are listed in the
 * result; the caller decides.
 */
import { EngineError } from '../errors.js';
import { DataType } from './dtype.js';
import {
  attrInt,
  attrInts,
  attrString,
  attrTensor,
  defaultOpset,
  isDefaultDomain,
  type Dim,
  type Model,
  type Node,
  type Tensor,
  type ValueInfo,
} from './ir.js';
import { dimAdd, dimCeilDiv, dimDivExact, dimFloorDiv, dimMul, dimProd, dimSub, fmtShape, numel } from './dims.js';
import {
  EVALUABLE_OPS,
  constantNodeValue,
  evalNode,
  isIntType,
  reshapeDims,
  sliceParams,
  splitSizes,
  squeezeDims,
  tensorToConst,
  unsqueezeDims,
  type ConstTensor,
} from './const-eval.js';
import { shapeOpRange, sliceRange } from './static-shape.js';
import { topoSort } from './topo.js';

export interface InferShapesOptions {
  /** 'error' (default): throw UNSUPPORTED_OP for an op without a rule; 'keep': leave it to the caller. */
  unknownOps?: 'error' | 'keep';
}

export interface InferShapesResult {
  /** Nodes without an inference rule (only with unknownOps: 'keep'). */
  unknown: Node[];
}

/** Largest tensor evaluated during inference (shape vectors are tiny; this bounds the cost). */
const VALUE_LIMIT = 4096;

interface Info {
  dtype: DataType;
  shape?: Dim[];
  /** Known contents (small tensors only). */
  value?: ConstTensor;
  /** Contents of a rank-0/1 integer tensor whose entries may be symbolic dims. */
  sym?: Dim[];
  /** Backing constant tensor, evaluated lazily. */
  tensor?: Tensor;
}

class Inference {
  readonly infos = new Map<string, Info>();
  private fresh = 0;
  constructor(
    readonly opset: number,
    readonly baseDir: string | undefined,
    readonly recorded: Map<string, ValueInfo>,
  ) {}

  freshDim(node: Node): string {
    return `unk__${(node.name || node.opType).replace(/[^A-Za-z0-9_]/g, '_')}_${this.fresh++}`;
  }

  value(info: Info | undefined): ConstTensor | undefined {
    if (!info) return undefined;
    if (info.value) return info.value;
    if (info.tensor && numel(info.tensor.dims) <= VALUE_LIMIT) {
      info.value = tensorToConst(info.tensor, this.baseDir, VALUE_LIMIT);
      return info.value;
    }
    return undefined;
  }

  /** Entries of a rank-0/1 integer tensor, possibly symbolic. */
  sym(info: Info | undefined): Dim[] | undefined {
    if (!info) return undefined;
    if (info.sym) return info.sym;
    const v = this.value(info);
    if (v && v.dims.length <= 1) return v.data;
    return undefined;
  }
}

/**
 * Infer dtype and shape of every value of `model.graph` (in place: fills `graph.valueInfo`,
 * including graph inputs and initializers, and refines graph output shapes).
 * @throws EngineError('UNSUPPORTED_OP') for ops without a rule (unless unknownOps: 'keep'),
 *   EngineError('SHAPE_MISMATCH') when static dims contradict each other (e.g. broadcasting 3 vs 4)
 */
export function inferShapes(model: Model, opts: InferShapesOptions = {}): InferShapesResult {
  const graph = model.graph;
  const inf = new Inference(defaultOpset(model), model.baseDir, new Map(graph.valueInfo));
  const inputNames = new Set(graph.inputs.map((v) => v.name));
  for (const v of graph.inputs) inf.infos.set(v.name, { dtype: v.dtype, ...(v.shape ? { shape: [...v.shape] } : {}) });
  for (const [name, t] of graph.initializers) {
    if (inputNames.has(name)) continue; // overridable default: not a constant
    inf.infos.set(name, { dtype: t.dtype, shape: [...t.dims], tensor: t });
  }
  const unknown: Node[] = [];
  for (const node of topoSort(graph)) {
    const ins = node.inputs.map((n) => (n === '' ? undefined : inf.infos.get(n)));
    let outs: (Info | undefined)[] | undefined;
    if (isDefaultDomain(node.domain)) outs = inferNode(node, ins, inf);
    if (!outs) {
      if ((opts.unknownOps ?? 'error') === 'error') {
        const op = isDefaultDomain(node.domain) ? node.opType : `${node.domain}.${node.opType}`;
        throw new EngineError(
          'UNSUPPORTED_OP',
          `shape inference has no rule for op ${op} (node '${node.name}'); this model cannot be specialised for gradients`,
        );
      }
      unknown.push(node);
      outs = node.outputs.map((o) => {
        const r = inf.recorded.get(o);
        return r ? { dtype: r.dtype, ...(r.shape ? { shape: [...r.shape] } : {}) } : { dtype: DataType.UNDEFINED };
      });
    } else {
      propagateValues(node, ins, outs, inf);
    }
    node.outputs.forEach((o, i) => {
      if (o === '') return;
      inf.infos.set(o, outs![i] ?? { dtype: DataType.UNDEFINED });
    });
  }

  const vi = new Map<string, ValueInfo>();
  const put = (name: string, info: Info) => vi.set(name, { name, dtype: info.dtype, ...(info.shape ? { shape: info.shape } : {}) });
  for (const v of graph.inputs) put(v.name, inf.infos.get(v.name)!);
  for (const name of graph.initializers.keys()) if (!inputNames.has(name)) put(name, inf.infos.get(name)!);
  for (const n of graph.nodes) for (const o of n.outputs) if (o !== '' && inf.infos.has(o)) put(o, inf.infos.get(o)!);
  graph.valueInfo = vi;

  for (const out of graph.outputs) {
    const info = inf.infos.get(out.name);
    if (!info) continue;
    if (out.dtype === DataType.UNDEFINED) out.dtype = info.dtype;
    if (info.shape) {
      if (!out.shape || out.shape.length !== info.shape.length) out.shape = [...info.shape];
      // Exporters name output dims independently of the inputs' (e.g. `Convout_sample_dim_2`);
      // an inferred dim (number or input-derived symbol) is more useful than that placeholder.
      else out.shape = info.shape.map((d, i) => (typeof d === 'number' || !d.startsWith('unk__') ? d : out.shape![i]!));
    }
  }
  return { unknown };
}

// ---------------------------------------------------------------------------------------------

function mismatch(node: Node, what: string): EngineError {
  return new EngineError('SHAPE_MISMATCH', `${node.opType} node '${node.name}': ${what}`);
}

/** Multidirectional (numpy) broadcasting of possibly symbolic shapes. */
function broadcast(node: Node, shapes: (Dim[] | undefined)[]): Dim[] | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const ss = shapes as Dim[][];
  const r = Math.max(0, ...ss.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < r; i++) {
    const ds = ss.map((s) => s[s.length - r + i] ?? 1).filter((d) => d !== 1);
    if (ds.length === 0) {
      out.push(1);
      continue;
    }
    const nums = ds.filter((d): d is number => typeof d === 'number');
    if (nums.length > 0) {
      if (nums.some((d) => d !== nums[0])) throw mismatch(node, `cannot broadcast shapes ${ss.map(fmtShape).join(' and ')}`);
      out.push(nums[0]!);
    } else out.push(ds[0]!);
  }
  return out;
}

const normAxis = (a: number, rank: number) => (a < 0 ? a + rank : a);

const SAME_SHAPE = new Set([
  'Identity',
  'Neg',
  'Abs',
  'Exp',
  'Log',
  'Tanh',
  'Relu',
  'Sigmoid',
  'Sqrt',
  'Erf',
  'Cos',
  'Sin',
  'Tan',
  'Acos',
  'Asin',
  'Atan',
  'Sinh',
  'Cosh',
  'Asinh',
  'Acosh',
  'Atanh',
  'Reciprocal',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Softplus',
  'Softsign',
  'LeakyRelu',
  'Elu',
  'Selu',
  'Celu',
  'HardSigmoid',
  'HardSwish',
  'Gelu',
  'Mish',
  'ThresholdedRelu',
  'Shrink',
  'Clip',
  'Softmax',
  'LogSoftmax',
  'Hardmax',
  'InstanceNormalization',
  'GroupNormalization',
  'LpNormalization',
  'MeanVarianceNormalization',
  'Trilu',
  'CumSum',
  'BitwiseNot',
  'Not',
  'ScatterND',
  'ScatterElements',
  'Scatter',
]);

const BROADCAST = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Mod',
  'BitShift',
  'BitwiseAnd',
  'BitwiseOr',
  'BitwiseXor',
  'PRelu',
  'Max',
  'Min',
  'Sum',
  'Mean',
]);
const COMPARE = new Set(['And', 'Or', 'Xor', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual']);

const REDUCE_AXES_INPUT_SINCE: Record<string, number> = {
  ReduceSum: 13,
  ReduceMean: 18,
  ReduceMax: 18,
  ReduceMin: 18,
  ReduceProd: 18,
  ReduceL1: 18,
  ReduceL2: 18,
  ReduceLogSum: 18,
  ReduceLogSumExp: 18,
  ReduceSumSquare: 18,
};

function inferNode(node: Node, ins: (Info | undefined)[], inf: Inference): (Info | undefined)[] | undefined {
  const op = node.opType;
  const x = ins[0];
  const xs = x?.shape;
  const dt = x?.dtype ?? DataType.UNDEFINED;
  const one = (dtype: DataType, shape: Dim[] | undefined): Info[] => [{ dtype, ...(shape ? { shape } : {}) }];
  const rank = xs?.length;

  if (SAME_SHAPE.has(op)) return one(dt, xs);
  if (BROADCAST.has(op))
    return one(
      dt,
      broadcast(
        node,
        ins.map((i) => i?.shape),
      ),
    );
  if (COMPARE.has(op))
    return one(
      DataType.BOOL,
      broadcast(
        node,
        ins.map((i) => i?.shape),
      ),
    );

  switch (op) {
    case 'IsNaN':
    case 'IsInf':
      return one(DataType.BOOL, xs);
    case 'Dropout':
      return [
        { dtype: dt, ...(xs ? { shape: xs } : {}) },
        { dtype: DataType.BOOL, ...(xs ? { shape: xs } : {}) },
      ];
    case 'BatchNormalization': {
      const c = xs?.[1];
      return [
        { dtype: dt, ...(xs ? { shape: xs } : {}) },
        ...node.outputs.slice(1).map(() => ({ dtype: dt, ...(c !== undefined ? { shape: [c] } : {}) })),
      ];
    }
    case 'LayerNormalization': {
      if (!xs) return node.outputs.map(() => ({ dtype: dt }));
      const axis = normAxis(attrInt(node, 'axis', -1), xs.length);
      const stat = [...xs.slice(0, axis), ...xs.slice(axis).map(() => 1)];
      const stash = attrInt(node, 'stash_type', 1) as DataType;
      return [
        { dtype: dt, shape: xs },
        { dtype: stash, shape: stat },
        { dtype: stash, shape: stat },
      ];
    }
    case 'Where':
      return one(
        ins[1]?.dtype ?? DataType.UNDEFINED,
        broadcast(
          node,
          ins.map((i) => i?.shape),
        ),
      );
    case 'MatMul':
      return one(dt, matmulShape(node, xs, ins[1]?.shape));
    case 'Gemm': {
      const a = xs;
      const b = ins[1]?.shape;
      if (!a || !b) return one(dt, undefined);
      const m = attrInt(node, 'transA', 0) ? a[1]! : a[0]!;
      const n = attrInt(node, 'transB', 0) ? b[0]! : b[1]!;
      return one(dt, [m, n]);
    }
    case 'Conv':
      return one(dt, convShape(node, xs, ins[1]?.shape, inf));
    case 'ConvTranspose':
      return one(dt, convTransposeShape(node, xs, ins[1]?.shape, inf));
    case 'MaxPool':
    case 'AveragePool':
    case 'LpPool': {
      const s = poolShape(node, xs);
      return op === 'MaxPool' && node.outputs.length > 1 ? [...one(dt, s), ...one(DataType.INT64, s)] : one(dt, s);
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
    case 'GlobalLpPool':
      return one(dt, xs ? [xs[0]!, xs[1]!, ...xs.slice(2).map(() => 1)] : undefined);
    case 'ArgMax':
    case 'ArgMin': {
      if (!xs) return one(DataType.INT64, undefined);
      const axis = normAxis(attrInt(node, 'axis', 0), xs.length);
      const keep = attrInt(node, 'keepdims', 1) === 1;
      return one(DataType.INT64, keep ? xs.map((d, i) => (i === axis ? 1 : d)) : xs.filter((_, i) => i !== axis));
    }
    case 'Shape': {
      if (rank === undefined) return one(DataType.INT64, [inf.freshDim(node)]);
      const { start, end } = shapeOpRange(node, rank);
      return one(DataType.INT64, [end - start]);
    }
    case 'Size':
      return one(DataType.INT64, []);
    case 'Cast':
      return one(attrInt(node, 'to', 0) as DataType, xs);
    case 'CastLike':
      return one(ins[1]?.dtype ?? DataType.UNDEFINED, xs);
    case 'Constant': {
      const t = attrTensor(node, 'value') ?? attrTensor(node, 'sparse_value');
      if (t) return one(t.dtype, [...t.dims]);
      const c = constantNodeValue(node);
      if (c) return one(c.dtype, c.dims);
      const ss = node.attrs.value_strings;
      if (ss && ss.kind === 'strings') return one(DataType.STRING, [ss.value.length]);
      if (node.attrs.value_string) return one(DataType.STRING, []);
      return undefined;
    }
    case 'ConstantOfShape': {
      const v = attrTensor(node, 'value');
      const shape = inf.sym(x);
      const n = ins[0]?.shape?.[0];
      return one(
        v?.dtype ?? DataType.FLOAT,
        shape ? [...shape] : typeof n === 'number' ? Array.from({ length: n }, () => inf.freshDim(node)) : undefined,
      );
    }
    case 'Reshape':
      return one(dt, reshapeShape(node, xs, ins[1], inf));
    case 'Flatten': {
      if (!xs) return one(dt, undefined);
      const axis = normAxis(attrInt(node, 'axis', 1), xs.length);
      return one(dt, [dimProd(xs.slice(0, axis)), dimProd(xs.slice(axis))]);
    }
    case 'Transpose': {
      if (!xs) return one(dt, undefined);
      const perm = attrInts(node, 'perm') ?? xs.map((_, i) => xs.length - 1 - i);
      return one(
        dt,
        perm.map((p) => xs[p]!),
      );
    }
    case 'Concat': {
      const shapes = ins.map((i) => i?.shape);
      const first = shapes.find((s) => s !== undefined);
      if (!first || shapes.some((s) => s === undefined)) return one(dt, first ? first.map(() => inf.freshDim(node)) : undefined);
      const axis = normAxis(attrInt(node, 'axis', 0), first.length);
      const out = first.map((_, i) => {
        if (i === axis) return (shapes as Dim[][]).reduce<Dim>((s, sh) => dimAdd(s, sh[i]!), 0);
        const nums = (shapes as Dim[][]).map((s) => s[i]!).filter((d): d is number => typeof d === 'number');
        if (nums.some((d) => d !== nums[0]))
          throw mismatch(node, `inputs ${(shapes as Dim[][]).map(fmtShape).join(', ')} differ outside axis ${axis}`);
        return nums[0] ?? first[i]!;
      });
      return one(dt, out);
    }
    case 'Split': {
      if (!xs) return node.outputs.map(() => ({ dtype: dt }));
      const axis = normAxis(attrInt(node, 'axis', 0), xs.length);
      const d = xs[axis]!;
      const given = inf.opset >= 13 ? inf.value(ins[1])?.data : undefined;
      let sizes: Dim[] | undefined;
      if (typeof d === 'number') sizes = splitSizes(node, d, given, inf.opset);
      else {
        const explicit = inf.opset >= 13 ? given : attrInts(node, 'split');
        if (explicit && explicit.length) sizes = explicit;
        else if (node.inputs[1] === undefined || node.inputs[1] === '' || inf.opset < 13) {
          const n = attrInt(node, 'num_outputs') ?? node.outputs.length;
          sizes = node.outputs.map(() => dimCeilDiv(d, n)); // exact when divisible, the usual case
        }
      }
      return node.outputs.map((_, k) => ({ dtype: dt, shape: xs.map((dd, i) => (i === axis ? (sizes?.[k] ?? inf.freshDim(node)) : dd)) }));
    }
    case 'Slice':
      return one(dt, sliceShape(node, xs, ins, inf));
    case 'Gather': {
      const is = ins[1]?.shape;
      if (!xs || !is) return one(dt, undefined);
      const axis = normAxis(attrInt(node, 'axis', 0), xs.length);
      return one(dt, [...xs.slice(0, axis), ...is, ...xs.slice(axis + 1)]);
    }
    case 'GatherElements':
      return one(dt, ins[1]?.shape);
    case 'GatherND': {
      const is = ins[1]?.shape;
      const last = is?.[is.length - 1];
      if (!xs || !is || typeof last !== 'number') return one(dt, undefined);
      const b = attrInt(node, 'batch_dims', 0);
      return one(dt, [...is.slice(0, -1), ...xs.slice(b + last)]);
    }
    case 'Unsqueeze': {
      const axes = inf.opset >= 13 ? inf.value(ins[1])?.data : attrInts(node, 'axes');
      if (!xs || !axes) return one(dt, undefined);
      const s = unsqueezeDims(xs, axes);
      if (!s) throw mismatch(node, `invalid axes [${axes.join(',')}] for input ${fmtShape(xs)}`);
      return one(dt, s);
    }
    case 'Squeeze': {
      const hasAxes = inf.opset >= 13 ? node.inputs[1] !== undefined && node.inputs[1] !== '' : node.attrs.axes !== undefined;
      const axes = inf.opset >= 13 ? inf.value(ins[1])?.data : attrInts(node, 'axes');
      if (!xs || (hasAxes && !axes)) return one(dt, undefined);
      if (axes)
        for (const a of axes) {
          const d = xs[normAxis(a, xs.length)];
          if (typeof d === 'number' && d !== 1) throw mismatch(node, `cannot squeeze axis ${a} of size ${d} (input ${fmtShape(xs)})`);
        }
      return one(dt, squeezeDims(xs, axes));
    }
    case 'Expand': {
      const shape = inf.sym(ins[1]);
      if (!xs || !shape) {
        const n = ins[1]?.shape?.[0];
        return one(dt, typeof n === 'number' ? Array.from({ length: Math.max(n, rank ?? 0) }, () => inf.freshDim(node)) : undefined);
      }
      return one(dt, broadcast(node, [xs, shape]));
    }
    case 'Tile': {
      const reps = inf.sym(ins[1]);
      if (!xs) return one(dt, undefined);
      return one(dt, reps ? xs.map((d, i) => dimMul(d, reps[i]!)) : xs.map(() => inf.freshDim(node)));
    }
    case 'Pad': {
      if (!xs) return one(dt, undefined);
      const pads = inf.opset >= 11 ? inf.value(ins[1])?.data : attrInts(node, 'pads');
      if (!pads)
        return one(
          dt,
          xs.map(() => inf.freshDim(node)),
        );
      const axesIn = inf.opset >= 18 && node.inputs[3] ? inf.value(ins[3])?.data : undefined;
      if (inf.opset >= 18 && node.inputs[3] && !axesIn)
        return one(
          dt,
          xs.map(() => inf.freshDim(node)),
        );
      const axes = (axesIn ?? xs.map((_, i) => i)).map((a) => normAxis(a, xs.length));
      const out = [...xs];
      axes.forEach((a, i) => (out[a] = dimAdd(xs[a]!, pads[i]! + pads[i + axes.length]!)));
      return one(dt, out);
    }
    case 'Range': {
      const [s, l, d] = [inf.sym(ins[0]), inf.sym(ins[1]), inf.sym(ins[2])];
      const dtype = dt;
      if (s && l && d && typeof s[0] === 'number' && typeof l[0] === 'number' && typeof d[0] === 'number') {
        return one(dtype, [Math.max(Math.ceil((l[0] - s[0]) / d[0]), 0)]);
      }
      if (s && l && d && d[0] === 1 && l[0] !== undefined && s[0] !== undefined) return one(dtype, [dimSub(l[0], s[0])]);
      return one(dtype, [inf.freshDim(node)]);
    }
    case 'NonZero':
      return one(DataType.INT64, [rank ?? inf.freshDim(node), inf.freshDim(node)]);
    case 'TopK': {
      const k = inf.opset >= 10 ? inf.value(ins[1])?.data[0] : attrInt(node, 'k');
      if (!xs) return [{ dtype: dt }, { dtype: DataType.INT64 }];
      const axis = normAxis(attrInt(node, 'axis', -1), xs.length);
      const s = xs.map((d, i) => (i === axis ? (k ?? inf.freshDim(node)) : d));
      return [
        { dtype: dt, shape: s },
        { dtype: DataType.INT64, shape: s },
      ];
    }
    case 'Einsum':
      return one(
        dt,
        einsumShape(
          node,
          ins.map((i) => i?.shape),
          inf,
        ),
      );
    case 'Resize':
    case 'Upsample':
      return one(dt, resizeShape(node, xs, ins, inf));
    case 'DepthToSpace':
    case 'SpaceToDepth': {
      if (!xs || xs.length !== 4) return one(dt, undefined);
      const b = attrInt(node, 'blocksize', 1);
      const [n, c, h, w] = xs as [Dim, Dim, Dim, Dim];
      return one(
        dt,
        op === 'DepthToSpace'
          ? [n, dimFloorDiv(c, b * b), dimMul(h, b), dimMul(w, b)]
          : [n, dimMul(c, b * b), dimFloorDiv(h, b), dimFloorDiv(w, b)],
      );
    }
    case 'OneHot': {
      const depth = inf.value(ins[1])?.data[0];
      const is = xs;
      if (!is) return one(ins[2]?.dtype ?? DataType.UNDEFINED, undefined);
      const axis = normAxis(attrInt(node, 'axis', -1), is.length + 1);
      const out = [...is];
      out.splice(axis, 0, depth ?? inf.freshDim(node));
      return one(ins[2]?.dtype ?? DataType.UNDEFINED, out);
    }
  }
  if (op in REDUCE_AXES_INPUT_SINCE) {
    if (!xs) return one(dt, undefined);
    const fromInput = inf.opset >= REDUCE_AXES_INPUT_SINCE[op]!;
    const hasAxes = fromInput ? node.inputs[1] !== undefined && node.inputs[1] !== '' : node.attrs.axes !== undefined;
    let axes = fromInput ? inf.value(ins[1])?.data : attrInts(node, 'axes');
    const keep = attrInt(node, 'keepdims', 1) === 1;
    if (hasAxes && !axes) return one(dt, keep ? xs.map(() => inf.freshDim(node)) : undefined);
    if (!axes || axes.length === 0) {
      if (attrInt(node, 'noop_with_empty_axes', 0) === 1) return one(dt, xs);
      axes = xs.map((_, i) => i);
    }
    const ax = new Set(axes.map((a) => normAxis(a, xs.length)));
    return one(dt, keep ? xs.map((d, i) => (ax.has(i) ? 1 : d)) : xs.filter((_, i) => !ax.has(i)));
  }
  return undefined;
}

function matmulShape(node: Node, a: Dim[] | undefined, b: Dim[] | undefined): Dim[] | undefined {
  if (!a || !b || a.length === 0 || b.length === 0) return undefined;
  const A = a.length === 1 ? [1, a[0]!] : a;
  const B = b.length === 1 ? [b[0]!, 1] : b;
  const k1 = A[A.length - 1]!;
  const k2 = B[B.length - 2]!;
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2)
    throw mismatch(node, `inner dimensions differ: ${fmtShape(a)} x ${fmtShape(b)}`);
  const batch = broadcast(node, [A.slice(0, -2), B.slice(0, -2)])!;
  const out = [...batch];
  if (a.length > 1) out.push(A[A.length - 2]!);
  if (b.length > 1) out.push(B[B.length - 1]!);
  return out;
}

function spatialAttrs(node: Node, ns: number, kernel: Dim[]) {
  const strides = attrInts(node, 'strides') ?? new Array<number>(ns).fill(1);
  const dil = attrInts(node, 'dilations') ?? new Array<number>(ns).fill(1);
  const pads = attrInts(node, 'pads') ?? new Array<number>(2 * ns).fill(0);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const ek = kernel.map((k, i) => (typeof k === 'number' ? (k - 1) * dil[i]! + 1 : undefined));
  return { strides, dil, pads, autoPad, ek };
}

function convShape(node: Node, xs: Dim[] | undefined, ws: Dim[] | undefined, inf: Inference): Dim[] | undefined {
  if (!xs || !ws) return undefined;
  const ns = xs.length - 2;
  const kernel: Dim[] = attrInts(node, 'kernel_shape') ?? ws.slice(2);
  const { strides, pads, autoPad, ek } = spatialAttrs(node, ns, kernel);
  const out: Dim[] = [xs[0]!, ws[0]!];
  for (let i = 0; i < ns; i++) {
    const d = xs[i + 2]!;
    const s = strides[i]!;
    const k = ek[i];
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') out.push(dimCeilDiv(d, s));
    else if (k === undefined) out.push(inf.freshDim(node));
    else if (autoPad === 'VALID') out.push(dimAdd(dimFloorDiv(dimSub(d, k), s), 1));
    else out.push(dimAdd(dimFloorDiv(dimAdd(d, pads[i]! + pads[i + ns]! - k), s), 1));
  }
  return out;
}

function convTransposeShape(node: Node, xs: Dim[] | undefined, ws: Dim[] | undefined, inf: Inference): Dim[] | undefined {
  if (!xs || !ws) return undefined;
  const ns = xs.length - 2;
  const group = attrInt(node, 'group', 1);
  const kernel: Dim[] = attrInts(node, 'kernel_shape') ?? ws.slice(2);
  const { strides, pads, autoPad, ek } = spatialAttrs(node, ns, kernel);
  const outPad = attrInts(node, 'output_padding') ?? new Array<number>(ns).fill(0);
  const outputShape = attrInts(node, 'output_shape');
  const out: Dim[] = [xs[0]!, dimMul(ws[1]!, group)];
  for (let i = 0; i < ns; i++) {
    if (outputShape) {
      out.push(outputShape[outputShape.length - ns + i]!);
      continue;
    }
    const d = xs[i + 2]!;
    const s = strides[i]!;
    const k = ek[i];
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') out.push(dimMul(d, s));
    else if (k === undefined) out.push(inf.freshDim(node));
    else {
      const p = autoPad === 'VALID' ? 0 : pads[i]! + pads[i + ns]!;
      out.push(dimAdd(dimMul(dimSub(d, 1), s), outPad[i]! + k - p));
    }
  }
  return out;
}

function poolShape(node: Node, xs: Dim[] | undefined): Dim[] | undefined {
  if (!xs) return undefined;
  const ns = xs.length - 2;
  const kernel = attrInts(node, 'kernel_shape') ?? [];
  const { strides, pads, autoPad, ek } = spatialAttrs(node, ns, kernel);
  const ceil = attrInt(node, 'ceil_mode', 0) === 1;
  const out: Dim[] = [xs[0]!, xs[1]!];
  for (let i = 0; i < ns; i++) {
    const d = xs[i + 2]!;
    const s = strides[i]!;
    const k = ek[i] ?? 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') out.push(dimCeilDiv(d, s));
    else if (autoPad === 'VALID') out.push(dimAdd(dimFloorDiv(dimSub(d, k), s), 1));
    else {
      const pb = pads[i]!;
      const num = dimAdd(d, pb + pads[i + ns]! - k);
      let o = dimAdd(ceil ? dimCeilDiv(num, s) : dimFloorDiv(num, s), 1);
      // With ceil_mode the last window must start inside the (left-padded) input.
      if (ceil && typeof o === 'number' && typeof d === 'number' && (o - 1) * s >= d + pb) o -= 1;
      out.push(o);
    }
  }
  return out;
}

function reshapeShape(node: Node, xs: Dim[] | undefined, shapeInfo: Info | undefined, inf: Inference): Dim[] | undefined {
  const target = inf.sym(shapeInfo);
  if (!target) {
    const n = shapeInfo?.shape?.[0];
    return typeof n === 'number' ? Array.from({ length: n }, () => inf.freshDim(node)) : undefined;
  }
  const allowzero = attrInt(node, 'allowzero', 0) === 1;
  if (xs && target.every((d) => typeof d === 'number') && xs.every((d) => typeof d === 'number')) {
    const out = reshapeDims(xs as number[], target as number[], allowzero);
    if (!out) throw mismatch(node, `cannot reshape ${fmtShape(xs)} to [${target.join(',')}]`);
    return out;
  }
  const out: Dim[] = target.map((s, i) => (s === 0 && !allowzero ? (xs?.[i] ?? inf.freshDim(node)) : s));
  const negAt = out.findIndex((d) => d === -1);
  if (negAt >= 0) {
    if (!xs) out[negAt] = inf.freshDim(node);
    else {
      // Cancel equal factors on both sides, then divide what is left.
      const left = [...xs];
      const right = out.filter((_, i) => i !== negAt);
      const rest: Dim[] = [];
      for (const d of right) {
        const j = left.findIndex((e) => e === d);
        if (j >= 0) left.splice(j, 1);
        else rest.push(d);
      }
      out[negAt] = dimDivExact(dimProd(left), dimProd(rest)) ?? inf.freshDim(node);
    }
  }
  return out;
}

function sliceShape(node: Node, xs: Dim[] | undefined, ins: (Info | undefined)[], inf: Inference): Dim[] | undefined {
  if (!xs) return undefined;
  const p = sliceParams(
    node,
    ins.map((i) => inf.value(i)?.data),
    xs.length,
    inf.opset,
  );
  if (!p) {
    const axes = inf.opset >= 10 && node.inputs[3] ? inf.value(ins[3])?.data : undefined;
    if (!axes) return xs.map(() => inf.freshDim(node));
    const ax = new Set(axes.map((a) => normAxis(a, xs.length)));
    return xs.map((d, i) => (ax.has(i) ? inf.freshDim(node) : d));
  }
  const out = [...xs];
  p.axes.forEach((a, i) => {
    const d = xs[a]!;
    const start = p.starts[i]!;
    const end = p.ends[i]!;
    const step = p.steps[i]!;
    if (typeof d === 'number') {
      out[a] = sliceRange(d, start, end, step).count;
      return;
    }
    // Symbolic dim: assume the usual in-range indices (as exporters produce).
    const huge = 2 ** 31;
    if (step === 1) {
      const s: Dim = start < 0 ? dimAdd(d, start) : start;
      const e: Dim = end >= huge ? d : end < 0 ? dimAdd(d, end) : end;
      out[a] = end <= -huge ? 0 : dimSub(e, s);
    } else if (step === -1 && end <= -huge) {
      out[a] = start >= huge || start === -1 ? d : start < 0 ? dimAdd(d, start + 1) : start + 1;
    } else out[a] = inf.freshDim(node);
  });
  return out;
}

function einsumShape(node: Node, shapes: (Dim[] | undefined)[], inf: Inference): Dim[] | undefined {
  const eq = attrString(node, 'equation', '').replace(/\s+/g, '');
  const [lhs, rhsGiven] = eq.split('->') as [string, string | undefined];
  const terms = lhs.split(',');
  if (terms.length !== shapes.length || shapes.some((s) => !s)) return undefined;
  const labels = new Map<string, Dim>();
  const counts = new Map<string, number>();
  let ellipsis: Dim[] | undefined;
  terms.forEach((term, t) => {
    const shape = shapes[t]!;
    const letters = term.replace('...', '');
    const ell = term.includes('...') ? shape.length - letters.length : 0;
    let pos = 0;
    for (let i = 0; i < term.length; i++) {
      if (term.startsWith('...', i)) {
        const part = shape.slice(pos, pos + ell);
        ellipsis = ellipsis ? broadcast(node, [ellipsis, part]) : part;
        pos += ell;
        i += 2;
        continue;
      }
      const c = term[i]!;
      const d = shape[pos++]!;
      counts.set(c, (counts.get(c) ?? 0) + 1);
      const prev = labels.get(c);
      if (prev === undefined || prev === 1) labels.set(c, d);
      else if (typeof prev === 'number' && typeof d === 'number' && d !== prev && d !== 1) {
        throw mismatch(node, `label '${c}' has sizes ${prev} and ${d} in '${eq}'`);
      }
    }
  });
  const rhs =
    rhsGiven ??
    `${ellipsis ? '...' : ''}${[...counts]
      .filter(([, n]) => n === 1)
      .map(([c]) => c)
      .sort()
      .join('')}`;
  const out: Dim[] = [];
  for (let i = 0; i < rhs.length; i++) {
    if (rhs.startsWith('...', i)) {
      out.push(...(ellipsis ?? []));
      i += 2;
      continue;
    }
    out.push(labels.get(rhs[i]!) ?? inf.freshDim(node));
  }
  return out;
}

function resizeShape(node: Node, xs: Dim[] | undefined, ins: (Info | undefined)[], inf: Inference): Dim[] | undefined {
  if (!xs) return undefined;
  const r = xs.length;
  const legacy = node.opType === 'Upsample' || inf.opset < 11;
  const scalesIdx = legacy ? 1 : 2;
  const sizes = legacy ? undefined : inf.value(ins[3])?.data;
  const scales = inf.value(ins[scalesIdx])?.data ?? attrInts(node, 'scales');
  const axes = (attrInts(node, 'axes') ?? xs.map((_, i) => i)).map((a) => normAxis(a, r));
  const out = [...xs];
  if (sizes && sizes.length > 0) {
    const policy = attrString(node, 'keep_aspect_ratio_policy', 'stretch');
    if (policy !== 'stretch') {
      const ratios = axes.map((a, i) => (typeof xs[a] === 'number' ? sizes[i]! / (xs[a] as number) : NaN));
      const scale = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      axes.forEach((a) => (out[a] = typeof xs[a] === 'number' ? Math.round(scale * (xs[a] as number)) : inf.freshDim(node)));
      return out;
    }
    axes.forEach((a, i) => (out[a] = sizes[i]!));
    return out;
  }
  if (scales && scales.length > 0) {
    axes.forEach((a, i) => {
      const d = xs[a]!;
      const s = scales[i]!;
      if (typeof d === 'number') out[a] = Math.floor(d * s + 1e-9);
      else if (Number.isInteger(s)) out[a] = dimMul(d, s);
      else if (Number.isInteger(1 / s)) out[a] = dimFloorDiv(d, 1 / s);
      else out[a] = inf.freshDim(node);
    });
    return out;
  }
  return xs.map(() => inf.freshDim(node));
}

// ---------------------------------------------------------------------------------------------
// value propagation

/** Ops whose data (for rank <= 1 integer tensors) can be followed with symbolic entries. */
function propagateValues(node: Node, ins: (Info | undefined)[], outs: (Info | undefined)[], inf: Inference): void {
  const op = node.opType;
  const out0 = outs[0];
  if (!out0) return;
  // Concrete evaluation of small constant subgraphs.
  if (EVALUABLE_OPS.has(op)) {
    const present = node.inputs.map((n, i) => (n === '' ? undefined : ins[i]));
    const vals = present.map((i) => inf.value(i));
    const allConst = present.every((i, k) => i === undefined || vals[k] !== undefined);
    const shapeOnly = (op === 'Shape' || op === 'Size') && ins[0]?.shape?.every((d) => typeof d === 'number');
    if (allConst || shapeOnly) {
      const inputShapes = shapeOnly ? [ins[0]!.shape as number[]] : undefined;
      const res = evalNode(node, vals, {
        opset: inf.opset,
        baseDir: inf.baseDir,
        maxElements: VALUE_LIMIT,
        ...(inputShapes ? { inputShapes } : {}),
      });
      if (res) {
        res.forEach((v, i) => {
          const o = outs[i];
          if (!o) return;
          o.value = v;
          o.dtype = v.dtype;
          o.shape = [...v.dims];
        });
        return;
      }
    }
  }
  if (!(isIntType(out0.dtype) || out0.dtype === DataType.BOOL) || !out0.shape || out0.shape.length > 1) return;
  const sym = symbolicValue(node, ins, inf);
  if (!sym) return;
  if (out0.shape.length === 1 && typeof out0.shape[0] === 'number' && out0.shape[0] !== sym.length) return;
  out0.sym = sym;
  if (sym.every((d) => typeof d === 'number')) out0.value = { dtype: out0.dtype, dims: [...out0.shape] as number[], data: sym as number[] };
}

function symbolicValue(node: Node, ins: (Info | undefined)[], inf: Inference): Dim[] | undefined {
  const s = (i: number) => inf.sym(ins[i]);
  switch (node.opType) {
    case 'Shape': {
      const xs = ins[0]?.shape;
      if (!xs) return undefined;
      const { start, end } = shapeOpRange(node, xs.length);
      return xs.slice(start, end);
    }
    case 'Size':
      return ins[0]?.shape ? [dimProd(ins[0].shape)] : undefined;
    case 'Identity':
    case 'Unsqueeze':
    case 'Squeeze':
    case 'Reshape':
    case 'Flatten':
      return s(0);
    case 'Cast':
      return isIntType(attrInt(node, 'to', 0) as DataType) ? s(0) : undefined;
    case 'Gather': {
      const x = s(0);
      const idx = inf.value(ins[1]);
      if (!x || !idx || (ins[0]?.shape?.length ?? 0) !== 1) return undefined;
      const picked = idx.data.map((j) => x[j < 0 ? j + x.length : j]);
      return picked.every((d) => d !== undefined) ? (picked as Dim[]) : undefined;
    }
    case 'Concat': {
      const parts = ins.map((_, i) => s(i));
      return parts.every((p) => p !== undefined) ? (parts as Dim[][]).flat() : undefined;
    }
    case 'Slice': {
      const x = s(0);
      if (!x || (ins[0]?.shape?.length ?? 0) !== 1) return undefined;
      const p = sliceParams(
        node,
        ins.map((i) => inf.value(i)?.data),
        1,
        inf.opset,
      );
      if (!p) return undefined;
      const rr = sliceRange(x.length, p.starts[0]!, p.ends[0]!, p.steps[0]!);
      return Array.from({ length: rr.count }, (_, k) => x[rr.start + k * p.steps[0]!]!);
    }
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div': {
      const a = s(0);
      const b = s(1);
      if (!a || !b) return undefined;
      const n = Math.max(a.length, b.length);
      if ((a.length !== n && a.length !== 1) || (b.length !== n && b.length !== 1)) return undefined;
      const res: Dim[] = [];
      for (let i = 0; i < n; i++) {
        const x = a[a.length === 1 ? 0 : i]!;
        const y = b[b.length === 1 ? 0 : i]!;
        let v: Dim | undefined;
        if (node.opType === 'Add') v = dimAdd(x, y);
        else if (node.opType === 'Sub') v = dimSub(x, y);
        else if (node.opType === 'Mul') v = dimMul(x, y);
        else if (typeof y === 'number' && y > 0) v = typeof x === 'number' ? Math.trunc(x / y) : dimFloorDiv(x, y);
        else v = dimDivExact(x, y);
        if (v === undefined) return undefined;
        res.push(v);
      }
      return res;
    }
    case 'Equal': {
      const a = s(0);
      const b = s(1);
      if (!a || !b) return undefined;
      const n = Math.max(a.length, b.length);
      const res: Dim[] = [];
      for (let i = 0; i < n; i++) {
        const x = a[a.length === 1 ? 0 : i]!;
        const y = b[b.length === 1 ? 0 : i]!;
        if (x === y) res.push(1);
        else if (typeof x === 'number' && typeof y === 'number') res.push(0);
        else if ((typeof x === 'number' && x < 0) || (typeof y === 'number' && y < 0))
          res.push(0); // dims are never negative
        else return undefined;
      }
      return res;
    }
    case 'Where': {
      const c = inf.value(ins[0]);
      const a = s(1);
      const b = s(2);
      if (!c || !a || !b) return undefined;
      const n = Math.max(c.data.length, a.length, b.length);
      return Array.from({ length: n }, (_, i) =>
        c.data[c.data.length === 1 ? 0 : i] ? a[a.length === 1 ? 0 : i]! : b[b.length === 1 ? 0 : i]!,
      );
    }
    case 'Max':
    case 'Min': {
      const a = s(0);
      const b = s(1);
      if (!a || !b || ins.length !== 2) return undefined;
      const n = Math.max(a.length, b.length);
      const res: Dim[] = [];
      for (let i = 0; i < n; i++) {
        const x = a[a.length === 1 ? 0 : i]!;
        const y = b[b.length === 1 ? 0 : i]!;
        if (x === y) res.push(x);
        else if (typeof x === 'number' && typeof y === 'number') res.push(node.opType === 'Max' ? Math.max(x, y) : Math.min(x, y));
        else if (node.opType === 'Max' && (x === 0 || x === 1))
          res.push(y); // dims are >= 1 in practice
        else if (node.opType === 'Max' && (y === 0 || y === 1)) res.push(x);
        else return undefined;
      }
      return res;
    }
  }
  return undefined;
}
