/**
 * What the VJP transform knows about the forward model's values: the static type of every value
 * (declared, or inferred on the transform's copy when the file lacks some) and the values of its
 * constants, which rules bake into the gradient graph (axes, pads, scales).
 */
import { DataType, viewRaw, type NumericArray } from '../onnx/dtype.js';
import { isDefaultDomain, type Graph, type Model, type Tensor, type ValueInfo } from '../onnx/ir.js';
import { tensorValues } from '../onnx/model-io.js';
import { inferShapes } from '../onnx/shape-inference.js';
import { EngineError } from '../errors.js';

export interface ValueType {
  dtype: DataType;
  shape: number[] | undefined;
}
/** Value name -> type; the transform adds its cotangents and gradients (each typed like its value). */
export type Types = Map<string, ValueType>;

/** Shapes/dtypes of every value the graph declares (inputs, outputs, value_info, initializers, Constants). */
function collectTypes(g: Graph): Types {
  const types: Types = new Map();
  const put = (v: ValueInfo): void => {
    const shape = v.shape && v.shape.every((d) => typeof d === 'number' && d >= 0) ? (v.shape as number[]) : undefined;
    const prev = types.get(v.name);
    if (!prev || (!prev.shape && shape)) types.set(v.name, { dtype: v.dtype, shape });
  };
  for (const [name, t] of g.initializers) types.set(name, { dtype: t.dtype, shape: [...t.dims] });
  for (const v of g.inputs) put(v);
  for (const v of g.valueInfo.values()) put(v);
  for (const v of g.outputs) put(v);
  for (const n of g.nodes) {
    if (n.opType === 'Constant' && isDefaultDomain(n.domain) && n.attrs['value']?.kind === 'tensor') {
      const t = n.attrs['value'].value;
      types.set(n.outputs[0]!, { dtype: t.dtype, shape: [...t.dims] });
    }
  }
  return types;
}

/** Types of the copy's values: from value_info, inferred (on the copy) when the file lacks some. */
export function valueTypes(copy: Model, src: Graph): Types {
  const types = collectTypes(copy.graph);
  if (!src.nodes.some((n) => n.outputs.some((o) => o && !types.get(o)?.shape))) return types;
  inferShapes(copy, { unknownOps: 'keep' });
  return collectTypes(copy.graph);
}

export function shapeOf(types: Types, name: string): number[] {
  const t = types.get(name);
  if (!t)
    throw new EngineError(
      'INVALID_ARGUMENT',
      `value '${name}' has no recorded type; run specialise(model, shapes) (shape inference) before buildVjp`,
    );
  if (!t.shape)
    throw new EngineError('INVALID_ARGUMENT', `value '${name}' has no static shape; run specialise(model, shapes) before buildVjp`);
  return t.shape;
}

export function dtypeOf(types: Types, name: string): DataType {
  const t = types.get(name);
  if (!t) throw new EngineError('INVALID_ARGUMENT', `value '${name}' has no recorded type; run specialise(model, shapes) before buildVjp`);
  return t.dtype;
}

/** Constant-valued tensors: initializers and Constant nodes (value / value_float(s) / value_int(s)). */
function collectConstants(g: Graph): Map<string, Tensor | NumericArray> {
  const consts = new Map<string, Tensor | NumericArray>();
  for (const [name, t] of g.initializers) consts.set(name, t);
  for (const n of g.nodes) {
    if (n.opType !== 'Constant' || !isDefaultDomain(n.domain)) continue;
    const a = Object.entries(n.attrs)[0];
    if (!a) continue;
    const [k, v] = a;
    const o = n.outputs[0]!;
    if (v.kind === 'tensor') consts.set(o, v.value);
    else if (k === 'value_float' && v.kind === 'float') consts.set(o, Float32Array.of(v.value));
    else if (k === 'value_floats' && v.kind === 'floats') consts.set(o, Float32Array.from(v.value));
    else if (k === 'value_int' && v.kind === 'int') consts.set(o, BigInt64Array.of(BigInt(v.value)));
    else if (k === 'value_ints' && v.kind === 'ints')
      consts.set(
        o,
        BigInt64Array.from(v.value, (x) => BigInt(x)),
      );
  }
  return consts;
}

/** `GradContext.constValue` for a model: the values of its constants, except those on the gradient path. */
export function constantReader(model: Model, active: ReadonlySet<string>): (name: string) => NumericArray | undefined {
  const consts = collectConstants(model.graph);
  const cache = new Map<string, NumericArray>();
  return (name) => {
    if (!name || active.has(name)) return undefined;
    const hit = cache.get(name);
    if (hit) return hit;
    const c = consts.get(name);
    if (!c) return undefined;
    let v: NumericArray;
    if (ArrayBuffer.isView(c)) v = c as NumericArray;
    else if ((c as Tensor).raw) v = viewRaw((c as Tensor).dtype, (c as Tensor).raw!);
    else if ((c as Tensor).external) v = tensorValues(c as Tensor, model.baseDir);
    else return undefined;
    cache.set(name, v);
    return v;
  };
}
