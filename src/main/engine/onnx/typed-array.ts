/**
 * JS values -> the typed array an ONNX element type is stored in (raw_data layout: fp16 as
 * half bits, bool as uint8), shared by the graph builder's constants and constant folding.
 */
import { DataType, floatToHalf, type NumericArray } from './dtype.js';

const I64_MAX = (1n << 63n) - 1n;
const I64_MIN = -(1n << 63n);

/**
 * number/bigint -> int64 with C++-cast-like saturation: 2**63 (how INT64_MAX reads as a double)
 * must not wrap to INT64_MIN; ±Infinity saturate, NaN is 0.
 */
export function toInt64(v: number | bigint): bigint {
  if (typeof v === 'number' && !Number.isFinite(v)) return v > 0 ? I64_MAX : v < 0 ? I64_MIN : 0n;
  const b = typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
  return b > I64_MAX ? I64_MAX : b < I64_MIN ? I64_MIN : b;
}

type Values = ArrayLike<number> | ArrayLike<bigint>;
const num = (v: Values) => v as ArrayLike<number>;

const MAKERS: Partial<Record<DataType, (v: Values) => NumericArray>> = {
  [DataType.FLOAT]: (v) => Float32Array.from(num(v)),
  [DataType.DOUBLE]: (v) => Float64Array.from(num(v)),
  [DataType.FLOAT16]: (v) => Uint16Array.from(num(v), floatToHalf),
  [DataType.INT8]: (v) => Int8Array.from(num(v)),
  [DataType.INT16]: (v) => Int16Array.from(num(v)),
  [DataType.INT32]: (v) => Int32Array.from(num(v)),
  [DataType.INT64]: (v) => BigInt64Array.from(v as ArrayLike<number | bigint>, toInt64),
  [DataType.UINT8]: (v) => Uint8Array.from(v as ArrayLike<number | bigint>, Number),
  [DataType.BOOL]: (v) => Uint8Array.from(v as ArrayLike<number | bigint>, Number),
  [DataType.UINT16]: (v) => Uint16Array.from(num(v)),
  [DataType.UINT32]: (v) => Uint32Array.from(num(v)),
  [DataType.UINT64]: (v) => BigUint64Array.from(v as ArrayLike<number | bigint>, (x) => BigInt.asUintN(64, toInt64(x))),
};

/** The values as the typed array `dtype` is stored in (floats for fp16), or undefined for other types. */
export function typedArrayOf(dtype: DataType, values: Values): NumericArray | undefined {
  return MAKERS[dtype]?.(values);
}
