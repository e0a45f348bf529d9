/** ONNX TensorProto.DataType codes and conversions between raw bytes and typed arrays. */

export enum DataType {
  UNDEFINED = 0,
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  UINT16 = 4,
  INT16 = 5,
  INT32 = 6,
  INT64 = 7,
  STRING = 8,
  BOOL = 9,
  FLOAT16 = 10,
  DOUBLE = 11,
  UINT32 = 12,
  UINT64 = 13,
  COMPLEX64 = 14,
  COMPLEX128 = 15,
  BFLOAT16 = 16,
}

const BYTES: Partial<Record<DataType, number>> = {
  [DataType.FLOAT]: 4,
  [DataType.UINT8]: 1,
  [DataType.INT8]: 1,
  [DataType.UINT16]: 2,
  [DataType.INT16]: 2,
  [DataType.INT32]: 4,
  [DataType.INT64]: 8,
  [DataType.BOOL]: 1,
  [DataType.FLOAT16]: 2,
  [DataType.DOUBLE]: 8,
  [DataType.UINT32]: 4,
  [DataType.UINT64]: 8,
  [DataType.BFLOAT16]: 2,
};

export function bytesPerElement(dtype: DataType): number {
  const n = BYTES[dtype];
  if (n === undefined) throw new Error(`data type ${DataType[dtype] ?? dtype} has no fixed element size`);
  return n;
}

export function isFloatType(dtype: DataType): boolean {
  return dtype === DataType.FLOAT || dtype === DataType.FLOAT16 || dtype === DataType.DOUBLE || dtype === DataType.BFLOAT16;
}

/** Names onnxruntime-common uses for tensor types. */
export function ortTypeName(dtype: DataType): string {
  switch (dtype) {
    case DataType.FLOAT:
      return 'float32';
    case DataType.FLOAT16:
      return 'float16';
    case DataType.DOUBLE:
      return 'float64';
    case DataType.INT64:
      return 'int64';
    case DataType.INT32:
      return 'int32';
    case DataType.INT16:
      return 'int16';
    case DataType.INT8:
      return 'int8';
    case DataType.UINT8:
      return 'uint8';
    case DataType.UINT16:
      return 'uint16';
    case DataType.UINT32:
      return 'uint32';
    case DataType.UINT64:
      return 'uint64';
    case DataType.BOOL:
      return 'bool';
    case DataType.STRING:
      return 'string';
    default:
      throw new Error(`data type ${DataType[dtype] ?? dtype} has no onnxruntime equivalent`);
  }
}

export function dtypeFromOrtName(name: string): DataType {
  const map: Record<string, DataType> = {
    float32: DataType.FLOAT,
    float16: DataType.FLOAT16,
    float64: DataType.DOUBLE,
    int64: DataType.INT64,
    int32: DataType.INT32,
    int16: DataType.INT16,
    int8: DataType.INT8,
    uint8: DataType.UINT8,
    uint16: DataType.UINT16,
    uint32: DataType.UINT32,
    uint64: DataType.UINT64,
    bool: DataType.BOOL,
    string: DataType.STRING,
  };
  const d = map[name];
  if (d === undefined) throw new Error(`unknown onnxruntime tensor type '${name}'`);
  return d;
}

export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** A typed-array view of little-endian raw bytes (copied when unaligned). fp16/bf16 come back as Uint16Array bits. */
export function viewRaw(dtype: DataType, raw: Uint8Array): NumericArray {
  const size = bytesPerElement(dtype);
  let bytes = raw;
  // new Uint8Array(x) copies; Buffer#slice would return an (unaligned) view.
  if (raw.byteOffset % size !== 0) bytes = new Uint8Array(raw);
  const n = bytes.byteLength / size;
  const { buffer, byteOffset } = bytes;
  switch (dtype) {
    case DataType.FLOAT:
      return new Float32Array(buffer, byteOffset, n);
    case DataType.DOUBLE:
      return new Float64Array(buffer, byteOffset, n);
    case DataType.INT8:
      return new Int8Array(buffer, byteOffset, n);
    case DataType.UINT8:
    case DataType.BOOL:
      return new Uint8Array(buffer, byteOffset, n);
    case DataType.INT16:
      return new Int16Array(buffer, byteOffset, n);
    case DataType.UINT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return new Uint16Array(buffer, byteOffset, n);
    case DataType.INT32:
      return new Int32Array(buffer, byteOffset, n);
    case DataType.UINT32:
      return new Uint32Array(buffer, byteOffset, n);
    case DataType.INT64:
      return new BigInt64Array(buffer, byteOffset, n);
    case DataType.UINT64:
      return new BigUint64Array(buffer, byteOffset, n);
    default:
      throw new Error(`cannot view raw bytes of type ${DataType[dtype] ?? dtype}`);
  }
}

export function rawOf(arr: NumericArray): Uint8Array {
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half bits -> number. */
export function halfToFloat(h: number): number {
  const s = (h & 0x8000) >> 15;
  const e = (h & 0x7c00) >> 10;
  const f = h & 0x03ff;
  let v: number;
  if (e === 0) v = f * 2 ** -24;
  else if (e === 31) v = f ? NaN : Infinity;
  else v = (1 + f / 1024) * 2 ** (e - 15);
  return s ? -v : v;
}

/** number -> IEEE half bits, round-to-nearest-even. */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

export function halfArrayToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfToFloat(bits[i]!);
  return out;
}

export function float32ToHalfArray(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = floatToHalf(values[i]!);
  return out;
}
