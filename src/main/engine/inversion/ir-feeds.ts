/**
 * Feeds for graphs we built ourselves, whose value types come from the IR (DataType): thin
 * adapters over runtime/tensors.ts.
 */
import type * as ort from 'onnxruntime-node';
import { DataType } from '../onnx/dtype.js';
import { EngineError } from '../errors.js';
import { floatTensor, tensorToFloat32, timestepTensor, type FloatType } from '../runtime/tensors.js';

export function ortFloatType(dtype: DataType): FloatType {
  if (dtype === DataType.FLOAT) return 'float32';
  if (dtype === DataType.FLOAT16) return 'float16';
  throw new EngineError('INVALID_MODEL', `expected a float32 or float16 value, the model has ${DataType[dtype]}`);
}

export function floatFeed(data: Float32Array, dims: readonly number[], dtype: DataType = DataType.FLOAT): ort.Tensor {
  return floatTensor(data, dims, ortFloatType(dtype));
}

export const readFloat = tensorToFloat32;

/** A [1] timestep tensor in the export's type (int64, float32 or float16). */
export function timestepFeed(t: number, dtype: DataType): ort.Tensor {
  if (dtype === DataType.INT64) return timestepTensor(t, 'int64');
  return timestepTensor(t, ortFloatType(dtype));
}
