/**
 * Conversions between the engine's Float32Arrays and onnxruntime tensors: fp16 models take and
 * return IEEE half bits (Uint16Array), timesteps are int64 (BigInt64Array), float32 or float16
 * depending on the export, and token ids int32 or int64.
 */
import * as ort from 'onnxruntime-node';
import { float32ToHalfArray, halfArrayToFloat32 } from '../onnx/dtype.js';
import { EngineError } from '../errors.js';

export type FloatType = 'float32' | 'float16';
export type TimestepType = 'int64' | 'float32' | 'float16';
export type IdsType = 'int32' | 'int64';

/** A float tensor of `type` holding `data` (converted to half bits for float16). */
export function floatTensor(data: Float32Array, dims: readonly number[], type: FloatType = 'float32'): ort.Tensor {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length)
    throw new EngineError('SHAPE_MISMATCH', `tensor of shape [${dims.join(',')}] needs ${count} values, got ${data.length}`);
  if (type === 'float16') return new ort.Tensor('float16', float32ToHalfArray(data), dims);
  return new ort.Tensor('float32', data, dims);
}

/** The values of a float tensor (float32, float16 or float64) as a Float32Array (a copy unless already float32). */
export function tensorToFloat32(t: ort.Tensor): Float32Array {
  const d = t.data as unknown;
  if (t.type === 'float32') return d as Float32Array;
  if (t.type === 'float16') {
    if (d instanceof Uint16Array) return halfArrayToFloat32(d);
    // Runtimes with a native Float16Array hand that back instead of bits.
    return Float32Array.from(d as ArrayLike<number>);
  }
  if (t.type === 'float64') return Float32Array.from(d as Float64Array);
  throw new EngineError('RUNTIME', `expected a float tensor, got ${t.type}`);
}

/**
 * Timestep tensor [batch] of the model's type. int64 rounds to the nearest integer (diffusers
 * casts its float timesteps the same way when the export wants int64).
 */
export function timestepTensor(t: number, type: TimestepType, batch = 1): ort.Tensor {
  if (type === 'int64') return new ort.Tensor('int64', new BigInt64Array(batch).fill(BigInt(Math.round(t))), [batch]);
  return floatTensor(new Float32Array(batch).fill(t), [batch], type);
}

/** Token ids [batch, length] as int32 or int64. */
export function idsTensor(ids: ArrayLike<number>, dims: readonly number[], type: IdsType = 'int32'): ort.Tensor {
  if (type === 'int64') return new ort.Tensor('int64', BigInt64Array.from(Array.from(ids, (v) => BigInt(v))), dims);
  return new ort.Tensor('int32', Int32Array.from(ids), dims);
}
