/**
 * Trainable parameters: float32 values keyed by state-dict name, taken from a model's
 * initializers and written back into (another build of) the same architecture.
 *
 * The layer builders (models/demo/nn.ts) name every learned tensor like the PyTorch state dict
 * (`…conv1.weight`, `…to_q.weight`, `…norm1.bias`), and their constants (scales, shapes, masks)
 * get other names, so "the parameters" are the float initializers named `*.weight` / `*.bias`.
 */
import { DataType, float32ToHalfArray, halfArrayToFloat32, viewRaw } from '../onnx/dtype.js';
import { makeTensor } from '../onnx/builder.js';
import type { Model, Tensor } from '../onnx/ir.js';
import { EngineError } from '../errors.js';
import { RandomStream } from './random.js';

/** One trainable tensor. `values` is row-major float32 of `dims`. */
export interface Param {
  name: string;
  dims: number[];
  values: Float32Array;
}

/** An ordered set of parameters (order = model order; checkpoints and optimisers follow it). */
export class ParamSet {
  readonly list: Param[];
  private readonly byName: Map<string, Param>;

  constructor(list: Param[]) {
    this.list = list;
    this.byName = new Map(list.map((p) => [p.name, p]));
    if (this.byName.size !== list.length) throw new EngineError('INVALID_ARGUMENT', 'duplicate parameter names');
  }

  get names(): string[] {
    return this.list.map((p) => p.name);
  }

  /** Number of scalar parameters. */
  get count(): number {
    return this.list.reduce((a, p) => a + p.values.length, 0);
  }

  get(name: string): Param {
    const p = this.byName.get(name);
    if (!p) throw new EngineError('INVALID_ARGUMENT', `no parameter '${name}'`);
    return p;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Deep copy (values copied). */
  clone(): ParamSet {
    return new ParamSet(this.list.map((p) => ({ name: p.name, dims: [...p.dims], values: new Float32Array(p.values) })));
  }

  /** Copy values from another set with the same names and sizes. */
  assign(from: ParamSet | Map<string, Float32Array>): void {
    for (const p of this.list) {
      const src = from instanceof ParamSet ? from.get(p.name).values : from.get(p.name);
      if (!src || src.length !== p.values.length)
        throw new EngineError('INVALID_ARGUMENT', `parameter '${p.name}': missing or ${src?.length} values instead of ${p.values.length}`);
      p.values.set(src);
    }
  }
}

/** Whether an initializer is a learned parameter by the layer builders' naming. */
export function isParameterName(name: string): boolean {
  return /\.(weight|bias)$/.test(name);
}

/** Float values of a float32 or float16 tensor (copied). */
export function tensorFloats(t: Tensor): Float32Array {
  if (!t.raw) throw new EngineError('INVALID_MODEL', `tensor '${t.name}' has no inline data`);
  if (t.dtype === DataType.FLOAT) return new Float32Array(viewRaw(t.dtype, t.raw) as Float32Array);
  if (t.dtype === DataType.FLOAT16) return halfArrayToFloat32(viewRaw(t.dtype, t.raw) as Uint16Array);
  throw new EngineError('INVALID_MODEL', `tensor '${t.name}' is ${DataType[t.dtype]}, not float`);
}

/** The parameters of a model built by the layer builders (optionally filtered by name). */
export function paramsOf(model: Model, select: (name: string) => boolean = () => true): ParamSet {
  const list: Param[] = [];
  for (const [name, t] of model.graph.initializers) {
    if (!isParameterName(name) || !select(name)) continue;
    if (t.dtype !== DataType.FLOAT && t.dtype !== DataType.FLOAT16) continue;
    list.push({ name, dims: [...t.dims], values: tensorFloats(t) });
  }
  return new ParamSet(list);
}

/**
 * Replace the initializer values of `model` (in place) by the parameters' values, keeping each
 * initializer's element type (float16 initializers get half bits: fp16 storage).
 * @param strict every parameter must exist in the model with the same size (default true)
 * @returns how many initializers were written
 */
export function writeParams(model: Model, params: ParamSet | Iterable<Param>, strict = true): number {
  let n = 0;
  const list = params instanceof ParamSet ? params.list : [...params];
  for (const p of list) {
    const t = model.graph.initializers.get(p.name);
    const size = t?.dims.reduce((a, b) => a * b, 1);
    if (!t || size !== p.values.length) {
      if (strict)
        throw new EngineError(
          'INVALID_ARGUMENT',
          `parameter '${p.name}' (${p.values.length} values) has no matching initializer in ${model.graph.name}`,
        );
      continue;
    }
    const values = t.dtype === DataType.FLOAT16 ? float32ToHalfArray(p.values) : p.values;
    model.graph.initializers.set(p.name, makeTensor(p.name, t.dtype, t.dims, values));
    n++;
  }
  return n;
}

/** How to initialise one parameter. */
export type InitKind = { kind: 'normal'; std: number } | { kind: 'fanIn'; gain?: number } | { kind: 'constant'; value: number };

export interface InitRule {
  /** Matched against the parameter name. */
  pattern: RegExp;
  init: InitKind;
}

/** Fan-in of a weight as the layer builders store it: conv [out, in, k, k]; linear (MatMul) [in, out]. */
export function fanIn(dims: number[]): number {
  if (dims.length === 4) return dims[1]! * dims[2]! * dims[3]!;
  if (dims.length === 2) return dims[0]!;
  return dims[dims.length - 1] ?? 1;
}

/**
 * PyTorch-like initialisation, in place: weights normal with std gain/sqrt(fan_in), biases zero,
 * normalisation scales one (names containing `norm`, rank <= 3), unless an earlier rule in
 * `rules` matches the name first (e.g. zero-initialised output projections, small embeddings).
 * Each tensor draws from its own stream keyed by (seed, name), so the result does not depend on
 * parameter order.
 */
export function initialiseParams(params: ParamSet, seed: number, rules: InitRule[] = []): void {
  for (const p of params.list) {
    const rule = rules.find((r) => r.pattern.test(p.name));
    let init: InitKind;
    if (rule) init = rule.init;
    else if (p.name.endsWith('.bias')) init = { kind: 'constant', value: 0 };
    else if (/norm/i.test(p.name) && p.dims.length <= 3 && p.dims.filter((d) => d > 1).length <= 1) init = { kind: 'constant', value: 1 };
    else init = { kind: 'fanIn' };
    if (init.kind === 'constant') {
      p.values.fill(init.value);
      continue;
    }
    const std = init.kind === 'normal' ? init.std : (init.gain ?? 1) / Math.sqrt(fanIn(p.dims));
    const r = new RandomStream(seed, `init:${p.name}`);
    for (let i = 0; i < p.values.length; i++) p.values[i] = r.normal() * std;
  }
}
