/**
 * Graph builder: opset-aware construction of ONNX nodes with unique names.
 *
 * Used by the autodiff transform (to emit gradient nodes), by loss composition and by the model
 * generators. `op`/`opN` append any node. The typed helpers (`mul`, `where`, `matmul`,
 * `reduceSum`, `reshape`, ...) hide the opset differences that bite in practice (reduction axes
 * an attribute before opset 13/18 and an input after, Squeeze/Unsqueeze/Split axes an input from
 * opset 13), take their int64 and scalar constants from one per-graph cache, and record the
 * static shape of what they produce when their inputs' shapes are known (`knownShape`), so a
 * caller can sum a broadcast result back to an operand's shape (`sumTo`).
 */
import { EngineError } from '../errors.js';
import { DataType, rawOf, type NumericArray } from './dtype.js';
import type { Attribute, Graph, Node, Tensor, ValueInfo, Dim } from './ir.js';
import { broadcastShapes, range, sameShape, sliceRange } from './static-shape.js';
import { typedArrayOf } from './typed-array.js';

/** Plain attribute values accepted by `op`: integers become `int`, other numbers `float`. */
export type AttrInput = Attribute | number | number[] | string | string[] | Tensor;

/** Force a float attribute (e.g. `alpha: f(1)`) when the value happens to be integral. */
export function f(value: number): Attribute {
  return { kind: 'float', value };
}
export function fs(value: number[]): Attribute {
  return { kind: 'floats', value };
}

function isAttribute(v: unknown): v is Attribute {
  return typeof v === 'object' && v !== null && 'kind' in v && 'value' in v;
}

function isTensor(v: unknown): v is Tensor {
  return typeof v === 'object' && v !== null && 'dtype' in v && 'dims' in v;
}

export function toAttribute(v: AttrInput): Attribute {
  if (isAttribute(v)) return v;
  if (isTensor(v)) return { kind: 'tensor', value: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { kind: 'int', value: v } : { kind: 'float', value: v };
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (Array.isArray(v)) {
    if (v.length > 0 && typeof v[0] === 'string') return { kind: 'strings', value: v as string[] };
    const nums = v as number[];
    return nums.every((x) => Number.isInteger(x)) ? { kind: 'ints', value: nums } : { kind: 'floats', value: nums };
  }
  throw new Error(`unsupported attribute value ${String(v)}`);
}

/**
 * Build a constant tensor from JS values. fp16 takes float values (or a Uint16Array of half
 * bits) and stores half bits; int64 values saturate (2**63 must not wrap to INT64_MIN).
 */
export function makeTensor(
  name: string,
  dtype: DataType,
  dims: number[],
  values: ArrayLike<number> | ArrayLike<bigint> | NumericArray,
): Tensor {
  const arr = dtype === DataType.FLOAT16 && values instanceof Uint16Array ? values : typedArrayOf(dtype, values);
  if (!arr) throw new Error(`makeTensor: unsupported dtype ${DataType[dtype]}`);
  const count = dims.reduce((a, b) => a * b, 1);
  if (arr.length !== count) throw new Error(`makeTensor ${name}: ${arr.length} values for dims [${dims.join(',')}]`);
  return { name, dtype, dims: [...dims], raw: new Uint8Array(rawOf(arr)) };
}

export interface OpOptions {
  /** Number of outputs to create (default 1). */
  outputs?: number;
  /** Explicit output names (overrides `outputs`). */
  outputNames?: string[];
  /** Node name prefix. */
  name?: string;
  domain?: string;
}

export interface BuilderOptions {
  /** Static shapes of values the builder did not create (graph inputs, existing values), when known. */
  shapeOf?: (name: string) => readonly number[] | undefined;
  /**
   * The typed helpers' shape/axes/pads constants come from the shared cache (`int64Const`)
   * instead of a new initializer each (`int64s`). Off by default: a generated model's file stays
   * what it was, and callers that later edit an initializer in place never alias another use.
   */
  shareConstants?: boolean;
}

type Attrs = Record<string, AttrInput | undefined>;

/** Output shape of MatMul (numpy matmul: 1-D operands promoted, batch axes broadcast). */
function matmulShape(a: readonly number[], b: readonly number[]): number[] | undefined {
  if (a.length === 0 || b.length === 0) return undefined;
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const batch = broadcastShapes(a2.slice(0, -2), b2.slice(0, -2));
  if (!batch || a2[a2.length - 1] !== b2[b2.length - 2]) return undefined;
  return [...batch, ...(a.length > 1 ? [a2[a2.length - 2]!] : []), ...(b.length > 1 ? [b2[b2.length - 1]!] : [])];
}

export class GraphBuilder {
  private readonly used = new Set<string>();
  private counter = 0;
  /** int64 vectors, scalars and zeros by value: one initializer (or node) per distinct constant */
  private readonly constants = new Map<string, string>();
  private readonly shapes = new Map<string, readonly number[]>();

  /**
   * @param graph the graph nodes are appended to (mutated in place)
   * @param opset the ai.onnx opset version the emitted ops must conform to
   * @param prefix prefix for generated value and node names
   */
  constructor(
    readonly graph: Graph,
    readonly opset: number,
    readonly prefix = '',
    private readonly options: BuilderOptions = {},
  ) {
    for (const v of graph.inputs) this.used.add(v.name);
    for (const v of graph.outputs) this.used.add(v.name);
    for (const k of graph.initializers.keys()) this.used.add(k);
    for (const n of graph.nodes) {
      this.used.add(n.name);
      for (const o of n.outputs) this.used.add(o);
    }
  }

  /** A name not yet used by any value or node of the graph. */
  uniqueName(base: string): string {
    const stem = `${this.prefix}${base}`.replace(/[^A-Za-z0-9_./:-]/g, '_');
    let name = stem;
    while (this.used.has(name)) name = `${stem}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  /** Reserve an externally chosen name so generated names never collide with it. */
  reserve(name: string): void {
    this.used.add(name);
  }

  /** Append a node; returns its output names. */
  opN(opType: string, inputs: string[], attrs: Attrs = {}, opts: OpOptions = {}): string[] {
    const n = opts.outputNames?.length ?? opts.outputs ?? 1;
    const outputs = opts.outputNames
      ? opts.outputNames.map((o) => (this.reserve(o), o))
      : Array.from({ length: n }, () => this.uniqueName(`${opts.name ?? opType}_out`));
    const node: Node = {
      name: this.uniqueName(opts.name ?? opType),
      opType,
      domain: opts.domain ?? '',
      inputs,
      outputs,
      attrs: {},
    };
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) node.attrs[k] = toAttribute(v);
    this.graph.nodes.push(node);
    return outputs;
  }

  /** Append a single-output node; returns its output name. */
  op(opType: string, inputs: string[], attrs: Attrs = {}, opts: OpOptions = {}): string {
    return this.opN(opType, inputs, attrs, { ...opts, outputs: 1 })[0]!;
  }

  /** Add an initializer with a unique name derived from `base`; returns the name. */
  initializer(base: string, dtype: DataType, dims: number[], values: ArrayLike<number> | ArrayLike<bigint> | NumericArray): string {
    const name = this.uniqueName(base);
    this.graph.initializers.set(name, makeTensor(name, dtype, dims, values));
    return name;
  }

  /** Add an existing tensor as an initializer under its own name (which must be free). */
  addInitializer(t: Tensor): string {
    if (this.graph.initializers.has(t.name)) throw new Error(`initializer ${t.name} already exists`);
    this.reserve(t.name);
    this.graph.initializers.set(t.name, t);
    return t.name;
  }

  /** A new int64 1-D initializer of its own (shapes, axes, starts/ends); `int64Const` shares equal ones. */
  int64s(values: number[], base = 'const_i64'): string {
    return this.initializer(base, DataType.INT64, [values.length], values);
  }

  /** A new scalar initializer of its own of a given float/int dtype; `scalarConst` shares equal ones. */
  scalar(value: number, dtype: DataType = DataType.FLOAT, base = 'const'): string {
    return this.initializer(base, dtype, [], [value]);
  }

  addInput(name: string, dtype: DataType, shape?: Dim[]): string {
    this.reserve(name);
    const vi: ValueInfo = { name, dtype, ...(shape ? { shape } : {}) };
    this.graph.inputs.push(vi);
    return name;
  }

  addOutput(name: string, dtype: DataType, shape?: Dim[]): void {
    this.graph.outputs.push({ name, dtype, ...(shape ? { shape } : {}) });
  }

  /** Rename the value `from` to graph output name `to` via Identity (keeps `from` usable). */
  identity(from: string, to?: string): string {
    return this.opN('Identity', [from], {}, to ? { outputNames: [to] } : {})[0]!;
  }

  // ---- shared constants ----

  private cached(key: string, make: () => string): string {
    let v = this.constants.get(key);
    if (v === undefined) this.constants.set(key, (v = make()));
    return v;
  }

  /** An int64 1-D constant, one initializer per distinct value list in this graph (read-only). */
  int64Const(values: readonly number[], base = 'const_i64'): string {
    return this.cached(`i64:${values.join(',')}`, () => this.track(this.int64s([...values], base), [values.length]));
  }

  /**
   * A scalar constant of `dtype`, one per distinct value and dtype in this graph (read-only). Use
   * the activation's dtype: fp16 graphs stay fp16, double graphs stay double.
   */
  scalarConst(value: number, dtype: DataType): string {
    const key = `s:${dtype}:${Object.is(value, -0) ? '-0' : value}`;
    return this.cached(key, () => this.track(this.scalar(value, dtype), []));
  }

  /** Zeros of a shape and dtype (ConstantOfShape: no zero payload in the file), one node per distinct pair. */
  zeros(shape: readonly number[], dtype: DataType): string {
    return this.cached(`z:${dtype}:${shape.join(',')}`, () =>
      this.track(this.constantOfShape(this.int64Const(shape, 'shape'), 0, dtype), shape),
    );
  }

  /** The int64 constant input of a typed helper (shared or fresh, per `options.shareConstants`). */
  private ints(values: readonly number[], base: string): string {
    return this.options.shareConstants ? this.int64Const(values, base) : this.track(this.int64s([...values], base), [values.length]);
  }

  constantOfShape(shape: string, value: number, dtype: DataType = DataType.FLOAT): string {
    return this.op('ConstantOfShape', [shape], { value: makeTensor('value', dtype, [1], [value]) });
  }

  // ---- static shapes ----

  /** The static shape of `name` when known: recorded by the typed helpers, or given by `options.shapeOf`. */
  knownShape(name: string): readonly number[] | undefined {
    return this.shapes.get(name) ?? this.options.shapeOf?.(name);
  }

  private track(name: string, shape: readonly number[] | undefined): string {
    if (shape) this.shapes.set(name, shape);
    return name;
  }

  /** A node whose output has the broadcast shape of its inputs (element-wise ops). */
  private elementwise(opType: string, inputs: string[], attrs: Attrs = {}): string {
    const shapes = inputs.map((i) => this.knownShape(i));
    const out = this.op(opType, inputs, attrs);
    return this.track(out, shapes.every((s) => s !== undefined) ? broadcastShapes(...(shapes as number[][])) : undefined);
  }

  // ---- element-wise ----

  add(a: string, b: string): string {
    return this.elementwise('Add', [a, b]);
  }
  sub(a: string, b: string): string {
    return this.elementwise('Sub', [a, b]);
  }
  mul(a: string, b: string): string {
    return this.elementwise('Mul', [a, b]);
  }
  div(a: string, b: string): string {
    return this.elementwise('Div', [a, b]);
  }
  pow(a: string, b: string): string {
    return this.elementwise('Pow', [a, b]);
  }
  neg(x: string): string {
    return this.elementwise('Neg', [x]);
  }
  /** Unary element-wise ops without a helper of their own (Exp, Log, Sign, Sigmoid, Erf, Sin, ...). */
  unary(opType: 'Exp' | 'Log' | 'Sqrt' | 'Sign' | 'Sigmoid' | 'Erf' | 'Sin' | 'Cos' | 'Reciprocal' | 'Abs', x: string): string {
    return this.elementwise(opType, [x]);
  }
  /** Comparisons and logic (bool result, broadcast shape). */
  compare(opType: 'Equal' | 'Less' | 'Greater' | 'LessOrEqual' | 'GreaterOrEqual' | 'Or' | 'And', a: string, b: string): string {
    return this.elementwise(opType, [a, b]);
  }
  where(cond: string, x: string, y: string): string {
    return this.elementwise('Where', [cond, x, y]);
  }
  cast(x: string, to: DataType): string {
    return this.elementwise('Cast', [x], { to });
  }
  /** The sum of same-shaped values: the value itself, Add for two, Sum for more. */
  addAll(xs: readonly string[]): string {
    if (xs.length === 0) throw new Error('addAll: no values');
    if (xs.length === 1) return xs[0]!;
    return xs.length === 2 ? this.add(xs[0]!, xs[1]!) : this.elementwise('Sum', [...xs]);
  }
  /** x * s for a scalar `s` in `dtype`: x itself for 1, Neg for -1. */
  scale(x: string, s: number, dtype: DataType): string {
    if (s === 1) return x;
    if (s === -1) return this.neg(x);
    return this.mul(x, this.scalarConst(s, dtype));
  }

  // ---- products ----

  matmul(a: string, b: string): string {
    const [sa, sb] = [this.knownShape(a), this.knownShape(b)];
    return this.track(this.op('MatMul', [a, b]), sa && sb ? matmulShape(sa, sb) : undefined);
  }

  /** Gemm: alpha op(A) op(B) (+ beta C); attributes are emitted exactly as given. */
  gemm(a: string, b: string, attrs: { transA?: number; transB?: number; alpha?: AttrInput; beta?: AttrInput } = {}, c?: string): string {
    const [sa, sb] = [this.knownShape(a), this.knownShape(b)];
    const out = this.op('Gemm', c ? [a, b, c] : [a, b], attrs);
    const shape = sa?.length === 2 && sb?.length === 2 ? [sa[attrs.transA ? 1 : 0]!, sb[attrs.transB ? 0 : 1]!] : undefined;
    return this.track(out, shape);
  }

  // ---- opset-aware reductions and layout ----

  /** ReduceSum over `axes` (an attribute before opset 13, an input from 13); empty axes = x itself. */
  reduceSum(x: string, axes: readonly number[], keepdims: boolean): string {
    if (axes.length === 0) return x;
    const k = keepdims ? 1 : 0;
    const out =
      this.opset >= 13
        ? this.op('ReduceSum', [x, this.ints(axes, 'axes')], { keepdims: k })
        : this.op('ReduceSum', [x], { axes: [...axes], keepdims: k });
    return this.track(out, this.reducedShape(x, axes, keepdims));
  }

  /** ReduceMean/ReduceMax/... for the ops whose axes became an input in opset 18. */
  reduce(
    opType: 'ReduceMean' | 'ReduceMax' | 'ReduceMin' | 'ReduceProd' | 'ReduceSumSquare' | 'ReduceL2',
    x: string,
    axes: number[],
    keepdims: boolean,
  ): string {
    const k = keepdims ? 1 : 0;
    const out =
      this.opset >= 18 ? this.op(opType, [x, this.ints(axes, 'axes')], { keepdims: k }) : this.op(opType, [x], { axes, keepdims: k });
    return this.track(out, this.reducedShape(x, axes, keepdims));
  }

  private reducedShape(x: string, axes: readonly number[], keepdims: boolean): number[] | undefined {
    const s = this.knownShape(x);
    if (!s) return undefined;
    const red = new Set(axes.map((a) => (a < 0 ? a + s.length : a)));
    return keepdims ? s.map((d, i) => (red.has(i) ? 1 : d)) : s.filter((_d, i) => !red.has(i));
  }

  /**
   * Sum `x` (whose shape must be known: the broadcast of `shape` with others) down to `shape`:
   * ReduceSum with keepdims over the broadcast axes, then a Reshape when the rank differs.
   * `x` itself when the shapes are equal.
   */
  sumTo(x: string, shape: readonly number[]): string {
    const from = this.knownShape(x);
    if (!from) throw new Error(`sumTo: the shape of '${x}' is not known`);
    if (sameShape(from, shape)) return x;
    const fail = () => new EngineError('SHAPE_MISMATCH', `cannot unbroadcast [${from.join(',')}] to [${shape.join(',')}]`);
    const off = from.length - shape.length;
    if (off < 0) throw fail();
    const axes = range(0, from.length).filter((i) => i < off || from[i] !== shape[i - off]);
    if (axes.some((i) => i >= off && shape[i - off] !== 1)) throw fail();
    const summed = this.reduceSum(x, axes, true);
    return sameShape(this.knownShape(summed)!, shape) ? summed : this.reshape(summed, shape);
  }

  /** Broadcast `x` to `shape` with Expand. */
  expand(x: string, shape: readonly number[]): string {
    const s = this.knownShape(x);
    return this.track(this.op('Expand', [x, this.ints(shape, 'shape')]), s ? broadcastShapes(s, shape) : undefined);
  }

  unsqueeze(x: string, axes: number[]): string {
    const out = this.opset >= 13 ? this.op('Unsqueeze', [x, this.ints(axes, 'axes')]) : this.op('Unsqueeze', [x], { axes });
    const s = this.knownShape(x);
    if (!s) return out;
    const r = s.length + axes.length;
    const at = new Set(axes.map((a) => (a < 0 ? a + r : a)));
    const rest = [...s];
    return this.track(
      out,
      range(0, r).map((i) => (at.has(i) ? 1 : rest.shift()!)),
    );
  }

  squeeze(x: string, axes: number[]): string {
    const out = this.opset >= 13 ? this.op('Squeeze', [x, this.ints(axes, 'axes')]) : this.op('Squeeze', [x], { axes });
    const s = this.knownShape(x);
    if (!s) return out;
    const at = new Set(axes.map((a) => (a < 0 ? a + s.length : a)));
    return this.track(
      out,
      s.filter((d, i) => (axes.length ? !at.has(i) : d !== 1)),
    );
  }

  split(x: string, axis: number, sizes: number[]): string[] {
    const outs =
      this.opset >= 13
        ? this.opN('Split', [x, this.ints(sizes, 'split')], { axis }, { outputs: sizes.length })
        : this.opN('Split', [x], { axis, split: sizes }, { outputs: sizes.length });
    const s = this.knownShape(x);
    if (s) outs.forEach((o, k) => this.track(o, this.withDim(s, axis, sizes[k]!)));
    return outs;
  }

  concat(xs: string[], axis: number): string {
    const shapes = xs.map((v) => this.knownShape(v));
    const out = this.op('Concat', xs, { axis });
    if (!shapes.every((s) => s !== undefined)) return out;
    const ss = shapes as number[][];
    const a = axis < 0 ? axis + ss[0]!.length : axis;
    return this.track(
      out,
      this.withDim(
        ss[0]!,
        a,
        ss.reduce((n, s) => n + s[a]!, 0),
      ),
    );
  }

  /** Reshape to a static shape (0 copies the input dim, -1 is inferred, as in ONNX). */
  reshape(x: string, shape: readonly number[]): string {
    const out = this.op('Reshape', [x, this.ints(shape, 'shape')]);
    const s = this.knownShape(x);
    if (shape.every((d) => d > 0)) return this.track(out, [...shape]);
    if (!s) return out;
    const dims = shape.map((d, i) => (d === 0 ? s[i]! : d));
    const known = dims.reduce((n, d) => (d === -1 ? n : n * d), 1);
    return this.track(
      out,
      dims.map((d) => (d === -1 ? s.reduce((n, v) => n * v, 1) / known : d)),
    );
  }

  transpose(x: string, perm: number[]): string {
    const s = this.knownShape(x);
    return this.track(this.op('Transpose', [x], { perm }), s ? perm.map((p) => s[p]!) : undefined);
  }

  slice(x: string, starts: number[], ends: number[], axes: number[], steps?: number[]): string {
    const ins = [x, this.ints(starts, 'starts'), this.ints(ends, 'ends'), this.ints(axes, 'axes')];
    if (steps) ins.push(this.ints(steps, 'steps'));
    const out = this.op('Slice', ins);
    const s = this.knownShape(x);
    if (!s) return out;
    const shape = [...s];
    axes.forEach((a, k) => {
      const ax = a < 0 ? a + s.length : a;
      shape[ax] = sliceRange(s[ax]!, starts[k]!, ends[k]!, steps?.[k] ?? 1).count;
    });
    return this.track(out, shape);
  }

  /** Zero-pad per axis (`pads` = [begin..., end...], negative crops); x itself when all pads are 0. */
  zeroPad(x: string, pads: readonly number[]): string {
    if (pads.every((p) => p === 0)) return x;
    const s = this.knownShape(x);
    const out = this.op('Pad', [x, this.ints(pads, 'pads')], { mode: 'constant' });
    return this.track(out, s ? s.map((d, i) => d + pads[i]! + pads[i + s.length]!) : undefined);
  }

  private withDim(s: readonly number[], axis: number, size: number): number[] {
    const out = [...s];
    out[axis < 0 ? axis + s.length : axis] = size;
    return out;
  }
}
