/**
 * Test helpers around onnxruntime-node: run an IR model on plain JS data, and record the
 * exact shape/dtype of every intermediate value by running the model once with all of them
 * exposed as outputs (onnxruntime as the shape oracle, independent of our own inference).
 */
import * as ort from 'onnxruntime-node';
import { DataType, dtypeFromOrtName, ortTypeName } from '../../../../src/main/engine/onnx/dtype.js';
import type { Model } from '../../../../src/main/engine/onnx/ir.js';
import { encodeModel } from '../../../../src/main/engine/onnx/model-io.js';

export type Feeds = Record<string, ort.Tensor>;

/** The typed array onnxruntime expects for `dtype`, built from numbers. fp16 takes half bits. */
export function typedArray(dtype: DataType, values: ArrayLike<number> | ArrayLike<bigint>): ort.Tensor['data'] {
  switch (dtype) {
    case DataType.FLOAT:
      return Float32Array.from(values as ArrayLike<number>);
    case DataType.DOUBLE:
      return Float64Array.from(values as ArrayLike<number>);
    case DataType.FLOAT16:
      return Uint16Array.from(values as ArrayLike<number>);
    case DataType.INT64:
      return BigInt64Array.from(values as ArrayLike<number | bigint>, (x) => BigInt(x));
    case DataType.INT32:
      return Int32Array.from(values as ArrayLike<number>);
    case DataType.BOOL:
      return Uint8Array.from(values as ArrayLike<number>);
    default:
      throw new Error(`typedArray: unsupported dtype ${DataType[dtype]}`);
  }
}

export function tensor(dtype: DataType, shape: number[], values: ArrayLike<number> | ArrayLike<bigint>): ort.Tensor {
  return new ort.Tensor(ortTypeName(dtype) as ort.Tensor.Type, typedArray(dtype, values) as never, shape);
}

/** Values of a tensor as float64 numbers (int64 converted; fp16 decoded is not needed by the tests). */
export function toNumbers(t: ort.Tensor): Float64Array {
  const d = t.data as ArrayLike<number | bigint>;
  return Float64Array.from(d, (x) => Number(x));
}

export async function createSession(model: Model, options: ort.InferenceSession.SessionOptions = {}): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(encodeModel(model), { logSeverityLevel: 3, ...options });
}

export async function runModel(model: Model, feeds: Feeds): Promise<Record<string, ort.Tensor>> {
  const session = await createSession(model);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/**
 * Fill `model.graph.valueInfo` (and the graph outputs' types) with the dtype and shape every
 * node output has when the model runs on `feeds`. Mutates and returns `model`.
 */
export async function annotateWithOrt(model: Model, feeds: Feeds): Promise<Model> {
  const g = model.graph;
  const declared = new Set(g.outputs.map((o) => o.name));
  const probe: Model = {
    ...model,
    graph: {
      ...g,
      outputs: [
        ...g.outputs,
        ...g.nodes
          .flatMap((n) => n.outputs)
          .filter((o) => o && !declared.has(o) && !g.initializers.has(o))
          .map((name) => ({ name, dtype: DataType.UNDEFINED })),
      ],
    },
  };
  const res = await runModel(probe, feeds);
  for (const [name, t] of Object.entries(res)) {
    const info = { name, dtype: dtypeFromOrtName(t.type), shape: [...t.dims] };
    const out = g.outputs.find((o) => o.name === name);
    if (out) {
      out.dtype = info.dtype;
      out.shape = info.shape;
    } else g.valueInfo.set(name, info);
  }
  return model;
}
