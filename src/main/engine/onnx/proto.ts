/**
 * Loads the ONNX protobuf schema (onnx-schema.ts) with protobufjs and exposes
 * the message types plus int64 helpers.
 *
 * protobufjs decodes int64 fields as `Long` objects (the `long` package is a dependency of
 * protobufjs) or as plain numbers when Long is unavailable; `toNumber`/`toBigInt` accept both.
 * Repeated numeric fields decode from both packed and unpacked wire encodings.
 */
import protobuf from 'protobufjs';
import { ONNX_PROTO_SCHEMA } from './onnx-schema.js';

export interface OnnxTypes {
  ModelProto: protobuf.Type;
  GraphProto: protobuf.Type;
  NodeProto: protobuf.Type;
  TensorProto: protobuf.Type;
  AttributeProto: protobuf.Type;
  ValueInfoProto: protobuf.Type;
  TypeProto: protobuf.Type;
  FunctionProto: protobuf.Type;
}

let cached: OnnxTypes | undefined;

export function onnxTypes(): OnnxTypes {
  if (cached) return cached;
  const root = protobuf.parse(ONNX_PROTO_SCHEMA, { keepCase: true }).root;
  const t = (n: string) => root.lookupType(`onnx.${n}`);
  cached = {
    ModelProto: t('ModelProto'),
    GraphProto: t('GraphProto'),
    NodeProto: t('NodeProto'),
    TensorProto: t('TensorProto'),
    AttributeProto: t('AttributeProto'),
    ValueInfoProto: t('ValueInfoProto'),
    TypeProto: t('TypeProto'),
    FunctionProto: t('FunctionProto'),
  };
  return cached;
}

/** A decoded int64: Long-like object, number, bigint or a decimal string. */
export type Int64Like = number | bigint | string | { low: number; high: number; unsigned?: boolean };

const TWO32 = 4294967296n;

export function toBigInt(v: Int64Like | null | undefined, unsigned = false): bigint {
  if (v === null || v === undefined) return 0n;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string') return BigInt(v);
  const big = BigInt(v.high >>> 0) * TWO32 + BigInt(v.low >>> 0);
  return unsigned || v.unsigned ? BigInt.asUintN(64, big) : BigInt.asIntN(64, big);
}

/** int64 -> JS number (exact below 2^53; INT64_MAX/MIN sentinels become ±9223372036854775807 approximations). */
export function toNumber(v: Int64Like | null | undefined): number {
  if (typeof v === 'number') return v;
  return Number(toBigInt(v));
}

const I64_MAX = (1n << 63n) - 1n;
const I64_MIN = -(1n << 63n);

/**
 * JS number -> protobufjs Long for encoding. Values at or beyond ±2^63 (how INT64_MAX reads
 * back as a double) are clamped so sentinels such as Slice's "to the end" survive a round trip.
 */
export function toLong(v: number | bigint): protobuf.Long | number {
  let b = typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
  if (b > I64_MAX) b = I64_MAX;
  if (b < I64_MIN) b = I64_MIN;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  const Long = protobuf.util.Long as unknown as { fromBits(lo: number, hi: number, unsigned: boolean): protobuf.Long } | null;
  const lo = Number(BigInt.asUintN(32, b)) | 0;
  const hi = Number(BigInt.asIntN(32, b >> 32n)) | 0;
  if (Long) return Long.fromBits(lo, hi, false);
  return Number(b);
}
