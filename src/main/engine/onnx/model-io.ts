/**
 * ONNX model I/O: ModelProto bytes <-> graph IR (ir.ts), plus files with external data.
 *
 * External tensors (data_location = EXTERNAL) are never loaded: the IR keeps their
 * `{location, offset, length}` and `Model.baseDir`, so a multi-GB UNet costs only its graph in
 * memory. Writing a model to another folder makes those references resolve there by linking
 * the original data files under the same relative path (symlink, else hardlink, else copy).
 *
 * Typed data fields (float_data, int32_data, int64_data, double_data, uint64_data) are turned
 * into `raw` (ONNX raw_data layout, little-endian; fp16/bf16 as uint16 bits) on decode, so the
 * rest of the engine sees one representation. Encoding always writes raw_data.
 */
import { existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { readFile, readdir, mkdir, symlink, link, copyFile, realpath, lstat, unlink, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { CancelledError, EngineError } from '../errors.js';
import { safeWriteFile, type FileWriteError } from '../io/safe-write.js';
import { sweepStaleTemps, trackTempPath } from '../io/temp-files.js';
import { DataType, viewRaw, rawOf, type NumericArray } from './dtype.js';
import type { Attribute, Dim, ExternalData, Graph, Model, Node, Tensor, ValueInfo } from './ir.js';
import { onnxTypes, toBigInt, toLong, toNumber, type Int64Like } from './proto.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- protobufjs messages are untyped bags of fields */
type P = any;

const has = (o: P, k: string): boolean => o != null && Object.prototype.hasOwnProperty.call(o, k);
const utf8 = new TextDecoder('utf-8');
const utf8enc = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// decode

interface DecodeCtx {
  source: string;
  unknownDims: number;
}

function invalid(ctx: DecodeCtx, what: string, cause?: unknown): EngineError {
  return new EngineError('INVALID_MODEL', `${ctx.source}: ${what}`, cause === undefined ? undefined : { cause });
}

/**
 * Decode ModelProto bytes into the IR.
 * @param bytes the .onnx file contents (tensor `raw` arrays are views into this buffer, not copies)
 * @param baseDir folder that external-data locations are relative to (the model's folder)
 * @param source name used in error messages (the file path when known)
 * @throws EngineError('INVALID_MODEL') when the bytes are truncated or not an ONNX model
 */
export function decodeModel(bytes: Uint8Array, baseDir?: string, source = 'ONNX model'): Model {
  const ctx: DecodeCtx = { source, unknownDims: 0 };
  const { ModelProto, FunctionProto } = onnxTypes();
  let m: P;
  try {
    m = ModelProto.decode(bytes);
  } catch (e) {
    throw invalid(ctx, `the file is truncated or is not an ONNX model (${(e as Error).message}); re-download or re-export it`, e);
  }
  const irVersion = toNumber(m.ir_version);
  if (!has(m, 'graph') || !(irVersion >= 1 && irVersion <= 64)) {
    throw invalid(ctx, 'the file is truncated or is not an ONNX model (no graph / no valid IR version); re-download or re-export it');
  }
  const opsetImports = (m.opset_import as P[]).map((o) => ({ domain: o.domain ?? '', version: toNumber(o.version) }));
  if (irVersion >= 3 && opsetImports.length === 0) {
    throw invalid(ctx, 'the file is truncated or is not an ONNX model (no opset import); re-download or re-export it');
  }
  const metadata: Record<string, string> = {};
  for (const e of m.metadata_props as P[]) metadata[e.key ?? ''] = e.value ?? '';
  let graph: Graph;
  try {
    graph = graphFromProto(m.graph, ctx);
  } catch (e) {
    if (e instanceof EngineError) throw e;
    throw invalid(ctx, `the model graph could not be read (${(e as Error).message}); the file may be corrupt`, e);
  }
  const model: Model = {
    irVersion,
    opsetImports,
    producerName: m.producer_name ?? '',
    producerVersion: m.producer_version ?? '',
    domain: m.domain ?? '',
    modelVersion: toNumber(m.model_version),
    docString: m.doc_string ?? '',
    metadata,
    graph,
  };
  if (baseDir !== undefined) model.baseDir = baseDir;
  if ((m.functions as P[]).length > 0) model.functionsRaw = (m.functions as P[]).map((f) => FunctionProto.encode(f).finish());
  return model;
}

function graphFromProto(g: P, ctx: DecodeCtx): Graph {
  const initializers = new Map<string, Tensor>();
  for (const t of g.initializer as P[]) {
    const tensor = tensorFromProto(t, ctx);
    initializers.set(tensor.name, tensor);
  }
  for (const s of g.sparse_initializer as P[]) {
    const tensor = densify(s, ctx);
    initializers.set(tensor.name, tensor);
  }
  const valueInfo = new Map<string, ValueInfo>();
  for (const v of g.value_info as P[]) {
    const vi = valueInfoFromProto(v, ctx);
    valueInfo.set(vi.name, vi);
  }
  const graph: Graph = {
    name: g.name ?? '',
    inputs: (g.input as P[]).map((v) => valueInfoFromProto(v, ctx)),
    outputs: (g.output as P[]).map((v) => valueInfoFromProto(v, ctx)),
    initializers,
    nodes: (g.node as P[]).map((n) => nodeFromProto(n, ctx)),
    valueInfo,
  };
  if (g.doc_string) graph.docString = g.doc_string;
  return graph;
}

function valueInfoFromProto(v: P, ctx: DecodeCtx): ValueInfo {
  const vi: ValueInfo = { name: v.name ?? '', dtype: DataType.UNDEFINED };
  const tt = v.type?.tensor_type ?? v.type?.sparse_tensor_type;
  if (tt) {
    vi.dtype = (tt.elem_type ?? 0) as DataType;
    if (has(tt, 'shape')) {
      vi.shape = (tt.shape.dim as P[]).map((d): Dim => {
        if (has(d, 'dim_value')) return toNumber(d.dim_value);
        if (has(d, 'dim_param') && d.dim_param !== '') return d.dim_param as string;
        // An unnamed unknown dim: give it a unique symbol so it never unifies with another.
        return `unk__${ctx.unknownDims++}`;
      });
    }
  }
  if (v.doc_string) vi.docString = v.doc_string;
  return vi;
}

function nodeFromProto(n: P, ctx: DecodeCtx): Node {
  const attrs: Record<string, Attribute> = {};
  for (const a of n.attribute as P[]) {
    if (a.ref_attr_name) continue; // only meaningful inside function bodies
    attrs[a.name] = attributeFromProto(a, n, ctx);
  }
  const node: Node = {
    name: n.name ?? '',
    opType: n.op_type ?? '',
    domain: n.domain ?? '',
    inputs: [...(n.input as string[])],
    outputs: [...(n.output as string[])],
    attrs,
  };
  if (n.doc_string) node.docString = n.doc_string;
  return node;
}

const AT = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

function attributeFromProto(a: P, n: P, ctx: DecodeCtx): Attribute {
  let type: number = a.type ?? 0;
  if (type === AT.UNDEFINED) {
    // IR v1 files have no discriminator: infer it from the field that is present.
    if (has(a, 'f')) type = AT.FLOAT;
    else if (has(a, 'i')) type = AT.INT;
    else if (has(a, 's')) type = AT.STRING;
    else if (has(a, 't')) type = AT.TENSOR;
    else if (has(a, 'g')) type = AT.GRAPH;
    else if (a.floats.length) type = AT.FLOATS;
    else if (a.ints.length) type = AT.INTS;
    else if (a.strings.length) type = AT.STRINGS;
    else if (a.tensors.length) type = AT.TENSORS;
    else if (a.graphs.length) type = AT.GRAPHS;
  }
  switch (type) {
    case AT.FLOAT:
      return { kind: 'float', value: a.f ?? 0 };
    case AT.INT:
      return { kind: 'int', value: toNumber(a.i) };
    case AT.STRING:
      return { kind: 'string', value: utf8.decode(a.s ?? new Uint8Array()) };
    case AT.TENSOR:
      return { kind: 'tensor', value: tensorFromProto(a.t, ctx) };
    case AT.GRAPH:
      return { kind: 'graph', value: graphFromProto(a.g, ctx) };
    case AT.SPARSE_TENSOR:
      return { kind: 'tensor', value: densify(a.sparse_tensor, ctx) };
    case AT.FLOATS:
      return { kind: 'floats', value: [...(a.floats as number[])] };
    case AT.INTS:
      return { kind: 'ints', value: (a.ints as Int64Like[]).map(toNumber) };
    case AT.STRINGS:
      return { kind: 'strings', value: (a.strings as Uint8Array[]).map((s) => utf8.decode(s)) };
    case AT.TENSORS:
      return { kind: 'tensors', value: (a.tensors as P[]).map((t) => tensorFromProto(t, ctx)) };
    case AT.GRAPHS:
      return { kind: 'graphs', value: (a.graphs as P[]).map((g) => graphFromProto(g, ctx)) };
    default:
      throw new EngineError(
        'INVALID_MODEL',
        `${ctx.source}: attribute '${a.name}' of ${n.op_type} node '${n.name ?? ''}' has type ${type}, which Inversion Studio does not support`,
      );
  }
}

function complexOrSize(dtype: DataType): number {
  if (dtype === DataType.COMPLEX64) return 8;
  if (dtype === DataType.COMPLEX128) return 16;
  return dtype >= 17 && dtype <= 20 ? 1 : 0; // float8 variants: one byte each
}

function tensorFromProto(t: P, ctx: DecodeCtx): Tensor {
  const dtype = (t.data_type ?? 0) as DataType;
  const dims = (t.dims as Int64Like[]).map(toNumber);
  const tensor: Tensor = { name: t.name ?? '', dtype, dims };
  if (t.doc_string) tensor.docString = t.doc_string;
  const count = dims.reduce((a, b) => a * b, 1);

  if (t.data_location === 1 || (t.external_data as P[]).length > 0) {
    const kv: Record<string, string> = {};
    for (const e of t.external_data as P[]) kv[e.key ?? ''] = e.value ?? '';
    if (!kv.location) throw invalid(ctx, `tensor '${tensor.name}' is marked external but has no location`);
    tensor.external = {
      location: kv.location,
      offset: kv.offset ? Number(kv.offset) : 0,
      length: kv.length ? Number(kv.length) : -1,
    };
    return tensor;
  }
  if (dtype === DataType.STRING) {
    tensor.strings = (t.string_data as Uint8Array[]).map(plainView);
    return tensor;
  }
  if (has(t, 'raw_data')) {
    tensor.raw = plainView(t.raw_data as Uint8Array);
    return tensor;
  }
  let arr: NumericArray | undefined;
  const n = (field: string) => (t[field] as unknown[]).length;
  switch (dtype) {
    case DataType.FLOAT:
    case DataType.COMPLEX64:
      if (n('float_data')) arr = Float32Array.from(t.float_data as number[]);
      break;
    case DataType.DOUBLE:
    case DataType.COMPLEX128:
      if (n('double_data')) arr = Float64Array.from(t.double_data as number[]);
      break;
    case DataType.INT64:
      if (n('int64_data')) arr = BigInt64Array.from(t.int64_data as Int64Like[], (v) => toBigInt(v));
      break;
    case DataType.UINT64:
      if (n('uint64_data')) arr = BigUint64Array.from(t.uint64_data as Int64Like[], (v) => toBigInt(v, true));
      break;
    case DataType.UINT32:
      if (n('uint64_data')) arr = Uint32Array.from(t.uint64_data as Int64Like[], (v) => Number(toBigInt(v, true)));
      break;
    case DataType.INT32:
      if (n('int32_data')) arr = Int32Array.from(t.int32_data as number[]);
      break;
    case DataType.INT16:
      if (n('int32_data')) arr = Int16Array.from(t.int32_data as number[]);
      break;
    case DataType.INT8:
      if (n('int32_data')) arr = Int8Array.from(t.int32_data as number[]);
      break;
    case DataType.UINT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      // fp16/bf16 live in int32_data as their uint16 bit patterns.
      if (n('int32_data')) arr = Uint16Array.from(t.int32_data as number[], (v) => v & 0xffff);
      break;
    case DataType.UINT8:
    case DataType.BOOL:
      if (n('int32_data')) arr = Uint8Array.from(t.int32_data as number[], (v) => v & 0xff);
      break;
    default:
      if (complexOrSize(dtype) === 1 && n('int32_data')) arr = Uint8Array.from(t.int32_data as number[], (v) => v & 0xff);
  }
  if (arr) {
    tensor.raw = new Uint8Array(rawOf(arr));
    return tensor;
  }
  if (count === 0) {
    tensor.raw = new Uint8Array(0);
    return tensor;
  }
  throw invalid(
    ctx,
    `tensor '${tensor.name}' (${DataType[dtype] ?? dtype}, dims [${dims.join(',')}]) has no data; the file may be corrupt`,
  );
}

/** A plain Uint8Array view of the same bytes (protobufjs hands out Buffer slices under Node). */
function plainView(b: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(b) === Uint8Array.prototype ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Sparse tensors are rare in exports; turn them into dense ones so the rest of the engine has one form. */
function densify(s: P, ctx: DecodeCtx): Tensor {
  const values = tensorFromProto(s.values, ctx);
  const indices = tensorFromProto(s.indices, ctx);
  const dims = (s.dims as Int64Like[]).map(toNumber);
  if (!values.raw || !indices.raw) throw invalid(ctx, `sparse tensor '${values.name}' must be stored inline`);
  const size = elementSize(values.dtype);
  const count = dims.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(count * size);
  const idx = Array.from(viewRaw(indices.dtype, indices.raw) as ArrayLike<number | bigint>, Number);
  const nnz = values.raw.byteLength / size;
  const rank = dims.length;
  const strides = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
  const linear = indices.dims.length === 1;
  for (let k = 0; k < nnz; k++) {
    let pos = 0;
    if (linear) pos = idx[k]!;
    else for (let r = 0; r < rank; r++) pos += idx[k * rank + r]! * strides[r]!;
    out.set(values.raw.subarray(k * size, (k + 1) * size), pos * size);
  }
  return { name: values.name, dtype: values.dtype, dims, raw: out };
}

function elementSize(dtype: DataType): number {
  return complexOrSize(dtype) || bytesPerElementSafe(dtype);
}

function bytesPerElementSafe(dtype: DataType): number {
  const sizes: Partial<Record<number, number>> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };
  const s = sizes[dtype];
  if (s === undefined) throw new Error(`data type ${DataType[dtype] ?? dtype} has no fixed element size`);
  return s;
}

// ---------------------------------------------------------------------------------------------
// encode

/** Encode the IR as ModelProto bytes. External tensors stay references (their bytes are not read). */
export function encodeModel(model: Model): Uint8Array {
  const chunks = encodeModelChunks(model);
  const total = chunks.reduce((n, c) => n + c.byteLength, 0);
  // Every byte is overwritten below, so skip the zero fill (noticeable for GB-sized models).
  const buf = Buffer.allocUnsafe(total);
  const out = new Uint8Array(buf.buffer, buf.byteOffset, total);
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.byteLength;
  }
  return out;
}

/** Tensors at least this big are spliced into the output instead of going through protobufjs's writer. */
const SPLICE_BYTES = 1 << 16;

/**
 * ModelProto bytes as a list of chunks whose concatenation is the encoded model. Large raw
 * tensors appear as their own chunks (views, not copies), so writing a big model streams it
 * without building one giant buffer (protobufjs would copy each large field several times).
 */
export function encodeModelChunks(model: Model): Uint8Array[] {
  const { ModelProto, GraphProto, TensorProto, FunctionProto } = onnxTypes();
  const msg: P = {
    ir_version: toLong(model.irVersion),
    opset_import: model.opsetImports.map((o) => ({ domain: o.domain, version: toLong(o.version) })),
    producer_name: model.producerName,
    producer_version: model.producerVersion,
    domain: model.domain,
    model_version: toLong(model.modelVersion),
    doc_string: model.docString,
    metadata_props: Object.entries(model.metadata).map(([key, value]) => ({ key, value })),
  };
  if (model.functionsRaw?.length) msg.functions = model.functionsRaw.map((b) => FunctionProto.decode(b));

  // Graph: everything but the initializers through protobufjs, then each initializer as field 5.
  const graphMsg = graphToProto(model.graph);
  delete graphMsg.initializer;
  const graphChunks: Uint8Array[] = [GraphProto.encode(graphMsg).finish()];
  for (const t of model.graph.initializers.values()) {
    if (t.raw && !t.external && !t.strings && t.raw.byteLength >= SPLICE_BYTES) {
      const head = tensorToProto(t);
      delete head.raw_data;
      const headBytes = TensorProto.encode(head).finish();
      const rawTag = lengthDelimitedTag(9, t.raw.byteLength);
      graphChunks.push(lengthDelimitedTag(5, headBytes.byteLength + rawTag.byteLength + t.raw.byteLength), headBytes, rawTag, t.raw);
    } else {
      const b = TensorProto.encode(tensorToProto(t)).finish();
      graphChunks.push(lengthDelimitedTag(5, b.byteLength), b);
    }
  }
  const graphLen = graphChunks.reduce((n, c) => n + c.byteLength, 0);
  return [ModelProto.encode(msg).finish(), lengthDelimitedTag(7, graphLen), ...graphChunks];
}

/** Tag (wire type 2) and varint length prefix of a length-delimited field. */
function lengthDelimitedTag(field: number, length: number): Uint8Array {
  const out: number[] = [];
  for (let v = (field << 3) | 2; ;) {
    if (v < 0x80) {
      out.push(v);
      break;
    }
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  for (let v = length; ;) {
    if (v < 0x80) {
      out.push(v);
      break;
    }
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  return Uint8Array.from(out);
}

function graphToProto(g: Graph): P {
  const boundary = new Set<string>([...g.inputs.map((v) => v.name), ...g.outputs.map((v) => v.name), ...g.initializers.keys()]);
  const out: P = {
    node: g.nodes.map(nodeToProto),
    name: g.name,
    initializer: [...g.initializers.values()].map(tensorToProto),
    input: g.inputs.map(valueInfoToProto),
    output: g.outputs.map(valueInfoToProto),
    value_info: [...g.valueInfo.values()].filter((v) => !boundary.has(v.name) && v.dtype !== DataType.UNDEFINED).map(valueInfoToProto),
  };
  if (g.docString) out.doc_string = g.docString;
  return out;
}

function valueInfoToProto(v: ValueInfo): P {
  const out: P = { name: v.name };
  if (v.dtype !== DataType.UNDEFINED || v.shape) {
    const tt: P = { elem_type: v.dtype };
    if (v.shape)
      tt.shape = { dim: v.shape.map((d) => (typeof d === 'number' ? (d >= 0 ? { dim_value: toLong(d) } : {}) : { dim_param: d })) };
    out.type = { tensor_type: tt };
  }
  if (v.docString) out.doc_string = v.docString;
  return out;
}

function nodeToProto(n: Node): P {
  const out: P = {
    input: n.inputs,
    output: n.outputs,
    name: n.name,
    op_type: n.opType,
    attribute: Object.entries(n.attrs).map(([name, a]) => attributeToProto(name, a)),
  };
  if (n.domain && n.domain !== '') out.domain = n.domain;
  if (n.docString) out.doc_string = n.docString;
  return out;
}

function attributeToProto(name: string, a: Attribute): P {
  switch (a.kind) {
    case 'float':
      return { name, type: AT.FLOAT, f: a.value };
    case 'int':
      return { name, type: AT.INT, i: toLong(a.value) };
    case 'string':
      return { name, type: AT.STRING, s: utf8enc.encode(a.value) };
    case 'tensor':
      return { name, type: AT.TENSOR, t: tensorToProto(a.value) };
    case 'graph':
      return { name, type: AT.GRAPH, g: graphToProto(a.value) };
    case 'floats':
      return { name, type: AT.FLOATS, floats: a.value };
    case 'ints':
      return { name, type: AT.INTS, ints: a.value.map(toLong) };
    case 'strings':
      return { name, type: AT.STRINGS, strings: a.value.map((s) => utf8enc.encode(s)) };
    case 'tensors':
      return { name, type: AT.TENSORS, tensors: a.value.map(tensorToProto) };
    case 'graphs':
      return { name, type: AT.GRAPHS, graphs: a.value.map(graphToProto) };
  }
}

function tensorToProto(t: Tensor): P {
  const out: P = { name: t.name, data_type: t.dtype, dims: t.dims.map(toLong) };
  if (t.docString) out.doc_string = t.docString;
  if (t.external) {
    out.data_location = 1;
    out.external_data = [
      { key: 'location', value: t.external.location },
      { key: 'offset', value: String(t.external.offset) },
      ...(t.external.length >= 0 ? [{ key: 'length', value: String(t.external.length) }] : []),
    ];
  } else if (t.strings) {
    out.string_data = t.strings;
  } else {
    out.raw_data = t.raw ?? new Uint8Array(0);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// files

/** Every tensor of a graph (initializers, Constant/attribute tensors, subgraphs). */
export function* allTensors(g: Graph): Generator<Tensor> {
  yield* g.initializers.values();
  for (const n of g.nodes) {
    for (const a of Object.values(n.attrs)) {
      if (a.kind === 'tensor') yield a.value;
      else if (a.kind === 'tensors') yield* a.value;
      else if (a.kind === 'graph') yield* allTensors(a.value);
      else if (a.kind === 'graphs') for (const sg of a.value) yield* allTensors(sg);
    }
  }
}

/** True when some tensor of the model keeps its bytes in an external file. */
export function hasExternalData(model: Model): boolean {
  for (const t of allTensors(model.graph)) if (t.external) return true;
  return false;
}

/**
 * Read a .onnx file. External data stays on disk; `baseDir` is set to the file's folder.
 * @throws EngineError('INVALID_MODEL') naming the file when it is unreadable, truncated, not an
 *   ONNX model, or references an external data file that is missing or too short.
 */
export async function readModel(path: string): Promise<Model> {
  const abs = resolve(path);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(abs);
  } catch (e) {
    throw new EngineError('INVALID_MODEL', `cannot read model file ${abs}: ${(e as Error).message}`, { cause: e });
  }
  const model = decodeModel(bytes, dirname(abs), abs);
  checkExternalFiles(model, abs);
  return model;
}

function checkExternalFiles(model: Model, source: string): void {
  const needed = new Map<string, { end: number; tensor: string }>();
  for (const t of allTensors(model.graph)) {
    if (!t.external) continue;
    const cur = needed.get(t.external.location);
    const end = t.external.length >= 0 ? t.external.offset + t.external.length : t.external.offset;
    if (!cur || end > cur.end) needed.set(t.external.location, { end, tensor: t.name });
  }
  for (const [location, { end, tensor }] of needed) {
    const file = resolve(model.baseDir ?? '.', location);
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      throw new EngineError(
        'INVALID_MODEL',
        `${source}: external data file ${file} (tensor '${tensor}') is missing; put it next to the model or re-download the model`,
      );
    }
    if (size < end) {
      throw new EngineError(
        'INVALID_MODEL',
        `${source}: external data file ${file} is truncated (${size} bytes, tensor '${tensor}' needs ${end}); re-download it`,
      );
    }
  }
}

/**
 * The raw bytes of a tensor (ONNX raw_data layout), reading external data from disk when needed.
 * @param baseDir folder external locations are relative to (usually `model.baseDir`)
 */
export function tensorBytes(t: Tensor, baseDir?: string): Uint8Array {
  if (t.raw) return t.raw;
  if (t.strings) throw new EngineError('INVALID_ARGUMENT', `tensor '${t.name}' holds strings, not numbers`);
  if (!t.external) throw new EngineError('INVALID_MODEL', `tensor '${t.name}' has no data`);
  if (baseDir === undefined && !isAbsolute(t.external.location)) {
    throw new EngineError(
      'INVALID_ARGUMENT',
      `tensor '${t.name}' is stored in external file '${t.external.location}' but the model folder is unknown`,
    );
  }
  const file = resolve(baseDir ?? '/', t.external.location);
  if (!existsSync(file))
    throw new EngineError(
      'INVALID_MODEL',
      `external data file ${file} (tensor '${t.name}') is missing; put it next to the model or re-download the model`,
    );
  const count = t.dims.reduce((a, b) => a * b, 1);
  const length = t.external.length >= 0 ? t.external.length : count * elementSize(t.dtype);
  const out = new Uint8Array(length);
  const fd = openSync(file, 'r');
  try {
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, Math.min(length - done, 1 << 30), t.external.offset + done);
      if (n === 0) throw new EngineError('INVALID_MODEL', `external data file ${file} is truncated (tensor '${t.name}'); re-download it`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** A tensor's values as a typed array (fp16/bf16 as Uint16Array bits), reading external data when needed. */
export function tensorValues(t: Tensor, baseDir?: string): NumericArray {
  return viewRaw(t.dtype, tensorBytes(t, baseDir));
}

export type LinkMode = 'symlink' | 'hardlink' | 'copy';

export interface WriteModelOptions {
  /** Move inline initializers larger than this many bytes into `externalFile`. */
  externalizeAbove?: number;
  /** External data file name, relative to the model's folder (default `<model file name>.data`). */
  externalFile?: string;
  /**
   * How existing external files are made visible in a different destination folder. Default:
   * hardlink, else copy (with a warning, since weights can be gigabytes). 'symlink' only on
   * request: onnxruntime (1.2x+) resolves symlinks and refuses data that lives outside the
   * model's folder ("External data path escapes model directory").
   */
  linkMode?: LinkMode;
  /** Receives warnings (e.g. the copy fallback); default console.warn. */
  onWarning?: (message: string) => void;
}

/**
 * Write a model to `path`. Existing external tensors keep their relative `location`; when `path`
 * is in a folder other than `model.baseDir`, the data files are linked there so the written
 * model loads. `model` itself is not modified.
 */
export async function writeModel(model: Model, path: string, opts: WriteModelOptions = {}): Promise<void> {
  const abs = resolve(path);
  const destDir = dirname(abs);
  await mkdir(destDir, { recursive: true });
  const warn = opts.onWarning ?? ((m: string) => console.warn(m));

  const existing = new Set<string>();
  for (const t of allTensors(model.graph)) if (t.external) existing.add(t.external.location);

  let toWrite = model;
  if (opts.externalizeAbove !== undefined) {
    const fileName = opts.externalFile ?? `${basename(abs)}.data`;
    checkRelative(fileName);
    if (existing.has(fileName))
      throw new EngineError(
        'INVALID_ARGUMENT',
        `external file name '${fileName}' is already used by the model's existing external data; choose another name`,
      );
    toWrite = await externalize(model, join(destDir, fileName), fileName, opts.externalizeAbove);
  }

  if (existing.size > 0) {
    const srcDir = model.baseDir;
    if (srcDir === undefined)
      throw new EngineError(
        'INVALID_ARGUMENT',
        'the model has external tensors but no baseDir; read it with readModel or set model.baseDir',
      );
    const same = resolve(srcDir) === destDir || (existsSync(srcDir) && (await realpath(srcDir)) === (await realpath(destDir)));
    if (!same) {
      for (const location of existing) {
        if (isAbsolute(location)) continue;
        checkRelative(location);
        await linkInto(resolve(srcDir, location), join(destDir, location), opts.linkMode, warn);
      }
    }
  }

  const chunks = encodeModelChunks(toWrite);
  const total = chunks.reduce((n, c) => n + c.byteLength, 0);
  if (total >= 2 ** 31) {
    throw new EngineError(
      'INVALID_ARGUMENT',
      `the model is ${(total / 2 ** 30).toFixed(2)} GiB, over protobuf's 2 GiB limit; write it with externalizeAbove (e.g. 1024) so the weights go to an external data file`,
    );
  }
  // A symlink at `abs` is replaced, not written through: it may point into someone's original model folder.
  await unlinkIfSymlink(abs);
  await safeWriteFile(abs, chunks, { what: 'the model file' });
}

async function unlinkIfSymlink(file: string): Promise<void> {
  const st = await lstat(file).catch(() => undefined);
  if (st?.isSymbolicLink()) await unlink(file);
}

function checkRelative(location: string): void {
  const n = normalize(location);
  if (isAbsolute(n) || n === '..' || n.startsWith(`..${sep}`)) {
    throw new EngineError('INVALID_ARGUMENT', `external data location '${location}' must stay inside the model's folder`);
  }
}

async function externalize(model: Model, file: string, location: string, threshold: number): Promise<Model> {
  const initializers = new Map<string, Tensor>();
  await mkdir(dirname(file), { recursive: true });
  // A fresh inode (safeWriteFile renames a new file into place), and a symlink is replaced rather
  // than followed: never write through an old symlink/hardlink into someone's original weights.
  await unlinkIfSymlink(file);
  await safeWriteFile(
    file,
    async (fh) => {
      let offset = 0;
      for (const [name, t] of model.graph.initializers) {
        if (!t.raw || t.raw.byteLength <= threshold) {
          initializers.set(name, t);
          continue;
        }
        // Page alignment lets onnxruntime mmap large tensors.
        const align = t.raw.byteLength >= 4096 ? 4096 : 16;
        offset = Math.ceil(offset / align) * align;
        let done = 0;
        while (done < t.raw.byteLength) {
          const { bytesWritten } = await fh.write(t.raw, done, t.raw.byteLength - done, offset + done);
          done += bytesWritten;
        }
        const ext: ExternalData = { location, offset, length: t.raw.byteLength };
        const { raw: _raw, ...rest } = t;
        initializers.set(name, { ...rest, external: ext });
        offset += t.raw.byteLength;
      }
    },
    { what: 'the external weights file' },
  );
  return { ...model, graph: { ...model.graph, initializers } };
}

async function linkInto(src: string, dst: string, mode: LinkMode | undefined, warn: (m: string) => void): Promise<void> {
  if (!existsSync(src))
    throw new EngineError('INVALID_MODEL', `external data file ${src} is missing; put it next to the model or re-download the model`);
  const srcReal = await realpath(src);
  const st = await lstat(dst).catch(() => undefined);
  if (st) {
    const dstReal = await realpath(dst).catch(() => undefined);
    if (dstReal === srcReal) return;
    if (st.isSymbolicLink()) await unlink(dst);
    else {
      const a = statSync(srcReal);
      const b = statSync(dst);
      if (a.ino === b.ino && a.dev === b.dev) return; // already a hardlink to the same data
      throw new EngineError('INVALID_ARGUMENT', `${dst} already exists and is a different file; write the model to another folder`);
    }
  }
  await mkdir(dirname(dst), { recursive: true });
  const order: LinkMode[] = mode ? [mode] : ['hardlink', 'copy'];
  let lastError: unknown;
  for (const m of order) {
    try {
      if (m === 'symlink') await symlink(srcReal, dst);
      else if (m === 'hardlink') await link(srcReal, dst);
      else {
        if (!mode) warn(`could not link ${srcReal} into ${dirname(dst)}; copying it instead (this can take a while for large weights)`);
        await copyFile(srcReal, dst);
      }
      return;
    } catch (e) {
      lastError = e;
    }
  }
  throw new EngineError('INVALID_ARGUMENT', `cannot make ${srcReal} available as ${dst}: ${(lastError as Error).message}`, {
    cause: lastError,
  });
}

/** A model ready for `ort.InferenceSession.create(path ?? bytes)`. Call `dispose` once the session exists. */
export interface SessionModel {
  path?: string;
  bytes?: Uint8Array;
  /** Removes the temporary files (if any); safe once the session has been created. */
  dispose(): Promise<void>;
}

/** Protobuf's hard limit is 2 GiB per message; stay well clear of it. */
const INLINE_LIMIT = 1.5 * 1024 ** 3;

let sessionTempRoot: string | undefined;

/**
 * The folder serializeForSession uses for its temporary models by default: the model cache's
 * temp folder (`<cache>/tmp`, set by the model-set loader). Undefined: next to the weights.
 */
export function setSessionTempDir(dir: string | undefined): void {
  sessionTempRoot = dir === undefined ? undefined : resolve(dir);
}

export function sessionTempDir(): string | undefined {
  return sessionTempRoot;
}

/** Name pattern of the temporary models written next to external weights (group 1: the writer pid). */
export const SESSION_TEMP_FILE = /^\.inversion-studio-(\d+)-[0-9a-z]+\.onnx(?:\.data)?$/;

/**
 * Remove temporary session models that dead processes left next to the weights of a model
 * folder (`<component>/.inversion-studio-<pid>-*.onnx`): kill -9 runs no clean-up. Never throws.
 * @returns the repo paths removed
 */
export async function sweepSessionTemps(modelDir: string): Promise<string[]> {
  const removed: string[] = [];
  const subdirs = await readdir(modelDir, { withFileTypes: true }).catch(() => []);
  for (const d of [{ name: '.', isDirectory: () => true }, ...subdirs]) {
    if (!d.isDirectory() || (d.name.startsWith('.') && d.name !== '.')) continue;
    for (const name of await sweepStaleTemps(join(modelDir, d.name), { patterns: [SESSION_TEMP_FILE] }))
      removed.push(d.name === '.' ? name : `${d.name}/${name}`);
  }
  return removed;
}

async function deviceOf(p: string): Promise<number | undefined> {
  return (await stat(p).catch(() => undefined))?.dev;
}

/**
 * Prepare an (edited) model for onnxruntime. Without external data the model is encoded to bytes.
 * With external data (or inline weights too large for one protobuf message) it is written to a
 * temporary file, in this order of preference:
 *
 * 1. a folder `session-<pid>-*` under the temp folder (`opts.tempDir`, default setSessionTempDir's:
 *    the cache's `tmp/`) with hard links of the data files, when that folder is on the same file
 *    system as the weights (onnxruntime insists the data's real path is inside the model's
 *    folder, so a symlink will not do, and copying gigabytes is not an option);
 * 2. a hidden `.inversion-studio-<pid>-*.onnx` in `model.baseDir` itself, next to the weights
 *    (other file system, or hard links refused);
 * 3. a folder in the OS temp dir with hard links or copies (the model folder is read-only).
 *
 * Every temporary file is removed by `dispose`, on process exit (trackTempPath), and, after a
 * kill -9, by the next process's sweep (sweepStaleTemps on the temp folder, sweepSessionTemps on
 * the model folder).
 * @param opts.dir force the folder for the temporary files (links or copies of the data)
 */
export async function serializeForSession(
  model: Model,
  opts: { dir?: string; tempDir?: string; onWarning?: (m: string) => void } = {},
): Promise<SessionModel> {
  let inline = 0;
  for (const t of allTensors(model.graph)) inline += t.raw?.byteLength ?? 0;
  const external = hasExternalData(model);
  if (!external && inline < INLINE_LIMIT) {
    return { bytes: encodeModel(model), dispose: async () => {} };
  }
  const stem = `.inversion-studio-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  const big = inline >= INLINE_LIMIT;
  const wopts = (name: string, linkMode?: LinkMode): WriteModelOptions => ({
    ...(big ? { externalizeAbove: 1024, externalFile: `${name}.data` } : {}),
    ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
    ...(linkMode ? { linkMode } : {}),
  });
  const inFolder = async (parent: string, prefix: string, linkMode?: LinkMode): Promise<SessionModel> => {
    await mkdir(parent, { recursive: true });
    const dir = await mkdtemp(join(parent, prefix));
    const untrack = trackTempPath(dir);
    const path = join(dir, 'model.onnx');
    try {
      await writeModel(model, path, wopts('model.onnx', linkMode));
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      untrack();
      throw e;
    }
    return {
      path,
      dispose: async () => {
        await rm(dir, { recursive: true, force: true });
        untrack();
      },
    };
  };
  if (opts.dir !== undefined) return inFolder(opts.dir, 'inversion-studio-model-');

  const baseDir = model.baseDir !== undefined ? resolve(model.baseDir) : undefined;
  const tempRoot = opts.tempDir !== undefined ? resolve(opts.tempDir) : sessionTempRoot;
  if (tempRoot !== undefined) {
    try {
      await mkdir(tempRoot, { recursive: true });
      const sameFs = !external || (baseDir !== undefined && (await deviceOf(baseDir)) === (await deviceOf(tempRoot)));
      if (sameFs) return await inFolder(tempRoot, `session-${process.pid}-`, external ? 'hardlink' : undefined);
    } catch (e) {
      if (e instanceof CancelledError) throw e;
      // hard links refused (protected_hardlinks, a file system without them...): next option
    }
  }
  if (baseDir !== undefined) {
    const path = join(baseDir, `${stem}.onnx`);
    const untrackModel = trackTempPath(path);
    const untrackData = trackTempPath(`${path}.data`);
    const dispose = async () => {
      await rm(path, { force: true });
      await rm(`${path}.data`, { force: true });
      untrackModel();
      untrackData();
    };
    try {
      await writeModel(model, path, wopts(`${stem}.onnx`));
      return { path, dispose };
    } catch (e) {
      await dispose();
      if (!isPermissionError(e)) throw e;
    }
  }
  return inFolder(tmpdir(), 'inversion-studio-model-');
}

function isPermissionError(e: unknown): boolean {
  const codes = [(e as NodeJS.ErrnoException)?.code, (e as FileWriteError)?.fsCode, (e as { cause?: NodeJS.ErrnoException })?.cause?.code];
  return codes.some((code) => code === 'EACCES' || code === 'EPERM' || code === 'EROFS');
}
