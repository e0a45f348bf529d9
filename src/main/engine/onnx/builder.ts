/**
 * Graph builder: opset-aware construction of ONNX nodes with unique names.
 *
 * Used by the autodiff transform (to emit gradient nodes), by loss composition and by the
 * demo-model generator. Helpers hide the opset differences that bite in practice: reduction
 * axes (attribute before opset 13/18, input after), Squeeze/Unsqueeze/Split axes (input from
 * opset 13).
 */
import { DataType, rawOf, float32ToHalfArray, type NumericArray } from './dtype.js';
import type { Attribute, Graph, Node, Tensor, ValueInfo, Dim } from './ir.js';

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

const I64_MAX = (1n << 63n) - 1n;
const I64_MIN = -(1n << 63n);

/** JS number/bigint -> int64, clamping: 2**63 (how INT64_MAX reads as a double) must not wrap to INT64_MIN. */
function toInt64(x: number | bigint): bigint {
  const b = typeof x === 'bigint' ? x : BigInt(Math.trunc(x));
  return b > I64_MAX ? I64_MAX : b < I64_MIN ? I64_MIN : b;
}

/** Build a constant tensor from JS values. fp16 takes float values and stores half bits. */
export function makeTensor(
  name: string,
  dtype: DataType,
  dims: number[],
  values: ArrayLike<number> | ArrayLike<bigint> | NumericArray,
): Tensor {
  let arr: NumericArray;
  switch (dtype) {
    case DataType.FLOAT:
      arr = Float32Array.from(values as ArrayLike<number>);
      break;
    case DataType.DOUBLE:
      arr = Float64Array.from(values as ArrayLike<number>);
      break;
    case DataType.FLOAT16:
      arr = values instanceof Uint16Array ? values : float32ToHalfArray(values as ArrayLike<number>);
      break;
    case DataType.INT64:
      arr = BigInt64Array.from(values as ArrayLike<number | bigint>, toInt64);
      break;
    case DataType.INT32:
      arr = Int32Array.from(values as ArrayLike<number>);
      break;
    case DataType.INT8:
      arr = Int8Array.from(values as ArrayLike<number>);
      break;
    case DataType.UINT8:
    case DataType.BOOL:
      arr = Uint8Array.from(values as ArrayLike<number>, (x) => Number(x));
      break;
    default:
      throw new Error(`makeTensor: unsupported dtype ${DataType[dtype]}`);
  }
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

export class GraphBuilder {
  private readonly used = new Set<string>();
  private counter = 0;

  /**
   * @param graph the graph nodes are appended to (mutated in place)
   * @param opset the ai.onnx opset version the emitted ops must conform to
   * @param prefix prefix for generated value and node names
   */
  constructor(
    readonly graph: Graph,
    readonly opset: number,
    readonly prefix = '',
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
  opN(opType: string, inputs: string[], attrs: Record<string, AttrInput | undefined> = {}, opts: OpOptions = {}): string[] {
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
  op(opType: string, inputs: string[], attrs: Record<string, AttrInput | undefined> = {}, opts: OpOptions = {}): string {
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

  /** int64 1-D constant (shapes, axes, starts/ends). */
  int64s(values: number[], base = 'const_i64'): string {
    return this.initializer(base, DataType.INT64, [values.length], values);
  }

  /** Scalar constant of a given float/int dtype. */
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

  // ---- opset-aware helpers ----

  /** ReduceSum over `axes` (axes became an input in opset 13). Empty axes = no-op Identity. */
  reduceSum(x: string, axes: number[], keepdims: boolean): string {
    if (axes.length === 0) return this.op('Identity', [x]);
    if (this.opset >= 13) return this.op('ReduceSum', [x, this.int64s(axes, 'axes')], { keepdims: keepdims ? 1 : 0 });
    return this.op('ReduceSum', [x], { axes, keepdims: keepdims ? 1 : 0 });
  }

  /** ReduceMean/ReduceMax/... for the ops whose axes became an input in opset 18. */
  reduce(
    opType: 'ReduceMean' | 'ReduceMax' | 'ReduceMin' | 'ReduceProd' | 'ReduceSumSquare' | 'ReduceL2',
    x: string,
    axes: number[],
    keepdims: boolean,
  ): string {
    if (this.opset >= 18) return this.op(opType, [x, this.int64s(axes, 'axes')], { keepdims: keepdims ? 1 : 0 });
    return this.op(opType, [x], { axes, keepdims: keepdims ? 1 : 0 });
  }

  unsqueeze(x: string, axes: number[]): string {
    if (this.opset >= 13) return this.op('Unsqueeze', [x, this.int64s(axes, 'axes')]);
    return this.op('Unsqueeze', [x], { axes });
  }

  squeeze(x: string, axes: number[]): string {
    if (this.opset >= 13) return this.op('Squeeze', [x, this.int64s(axes, 'axes')]);
    return this.op('Squeeze', [x], { axes });
  }

  split(x: string, axis: number, sizes: number[]): string[] {
    if (this.opset >= 13) return this.opN('Split', [x, this.int64s(sizes, 'split')], { axis }, { outputs: sizes.length });
    return this.opN('Split', [x], { axis, split: sizes }, { outputs: sizes.length });
  }

  reshape(x: string, shape: number[]): string {
    return this.op('Reshape', [x, this.int64s(shape, 'shape')]);
  }

  transpose(x: string, perm: number[]): string {
    return this.op('Transpose', [x], { perm });
  }

  slice(x: string, starts: number[], ends: number[], axes: number[], steps?: number[]): string {
    const ins = [x, this.int64s(starts, 'starts'), this.int64s(ends, 'ends'), this.int64s(axes, 'axes')];
    if (steps) ins.push(this.int64s(steps, 'steps'));
    return this.op('Slice', ins);
  }

  cast(x: string, to: DataType): string {
    return this.op('Cast', [x], { to });
  }

  constantOfShape(shape: string, value: number, dtype: DataType = DataType.FLOAT): string {
    return this.op('ConstantOfShape', [shape], { value: makeTensor('value', dtype, [1], [value]) });
  }
}
