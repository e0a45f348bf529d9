/**
 * In-memory graph IR for ONNX models.
 *
 * The IR mirrors ModelProto closely enough to round-trip it, but uses plain JS
 * structures that are pleasant to rewrite: nodes reference values by name, tensors
 * keep their bytes (or a reference to external data left on disk), attributes are
 * tagged unions. Everything the engine edits (specialisation, autodiff, loss
 * composition, demo-model generation) goes through these types.
 */
import { DataType } from './dtype.js';

/** A dimension: a concrete size, or a symbolic name such as `batch`. */
export type Dim = number | string;

/** Name, element type and (possibly partial) shape of a value. `shape` undefined = unknown rank. */
export interface ValueInfo {
  name: string;
  dtype: DataType;
  shape?: Dim[];
  docString?: string;
}

/** Where the bytes of an external tensor live: `location` is relative to the model's folder. */
export interface ExternalData {
  location: string;
  /** Byte offset in the file. */
  offset: number;
  /** Byte length; -1 when the proto omitted it (= to end of file). */
  length: number;
}

/**
 * A constant tensor (initializer or Constant/attribute value).
 * Exactly one of `raw`, `strings` or `external` holds the data.
 * `raw` is little-endian bytes in ONNX's raw_data layout (fp16 as uint16 bits, bool as uint8).
 */
export interface Tensor {
  name: string;
  dtype: DataType;
  dims: number[];
  raw?: Uint8Array;
  strings?: Uint8Array[];
  external?: ExternalData;
  docString?: string;
}

export type Attribute =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: Tensor }
  | { kind: 'graph'; value: Graph }
  | { kind: 'floats'; value: number[] }
  | { kind: 'ints'; value: number[] }
  | { kind: 'strings'; value: string[] }
  | { kind: 'tensors'; value: Tensor[] }
  | { kind: 'graphs'; value: Graph[] };

export interface Node {
  name: string;
  opType: string;
  /** '' (or 'ai.onnx') for the default domain. */
  domain: string;
  /** Value names; '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attribute>;
  docString?: string;
}

export interface Graph {
  name: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** Initializers by name. Graph inputs with the same name as an initializer are overridable defaults. */
  initializers: Map<string, Tensor>;
  nodes: Node[];
  /** Inferred or recorded intermediate value info, by value name. */
  valueInfo: Map<string, ValueInfo>;
  docString?: string;
}

export interface OpsetImport {
  domain: string;
  version: number;
}

export interface Model {
  irVersion: number;
  opsetImports: OpsetImport[];
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  metadata: Record<string, string>;
  graph: Graph;
  /**
   * Folder that relative external-data locations resolve against (the folder the model was
   * read from). Written models keep referring to the same files by relative path.
   */
  baseDir?: string;
  /** Model-level local functions, kept opaque (encoded FunctionProto bytes) so they round-trip. */
  functionsRaw?: Uint8Array[];
}

/** The default-domain opset version of a model (the one that governs ai.onnx op semantics). */
export function defaultOpset(model: Model): number {
  const imp = model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (!imp) throw new Error('model has no ai.onnx opset import');
  return imp.version;
}

export function emptyGraph(name = 'graph'): Graph {
  return { name, inputs: [], outputs: [], initializers: new Map(), nodes: [], valueInfo: new Map() };
}

export function emptyModel(opset: number, graph: Graph = emptyGraph()): Model {
  return {
    irVersion: opset >= 21 ? 10 : opset >= 19 ? 9 : 8,
    opsetImports: [{ domain: '', version: opset }],
    producerName: 'inversion-studio',
    producerVersion: '0.1.0',
    domain: '',
    modelVersion: 1,
    docString: '',
    metadata: {},
    graph,
  };
}

export function isDefaultDomain(domain: string): boolean {
  return domain === '' || domain === 'ai.onnx';
}

export function getAttr(node: Node, name: string): Attribute | undefined {
  return node.attrs[name];
}

export function attrInt(node: Node, name: string, dflt: number): number;
export function attrInt(node: Node, name: string): number | undefined;
export function attrInt(node: Node, name: string, dflt?: number): number | undefined {
  const a = node.attrs[name];
  if (!a) return dflt;
  if (a.kind !== 'int') throw new Error(`attribute ${name} of ${node.opType} node '${node.name}' is ${a.kind}, expected int`);
  return a.value;
}

export function attrFloat(node: Node, name: string, dflt: number): number;
export function attrFloat(node: Node, name: string): number | undefined;
export function attrFloat(node: Node, name: string, dflt?: number): number | undefined {
  const a = node.attrs[name];
  if (!a) return dflt;
  if (a.kind === 'float' || a.kind === 'int') return a.value;
  throw new Error(`attribute ${name} of ${node.opType} node '${node.name}' is ${a.kind}, expected float`);
}

export function attrInts(node: Node, name: string, dflt: number[]): number[];
export function attrInts(node: Node, name: string): number[] | undefined;
export function attrInts(node: Node, name: string, dflt?: number[]): number[] | undefined {
  const a = node.attrs[name];
  if (!a) return dflt;
  if (a.kind !== 'ints') throw new Error(`attribute ${name} of ${node.opType} node '${node.name}' is ${a.kind}, expected ints`);
  return a.value;
}

export function attrString(node: Node, name: string, dflt: string): string;
export function attrString(node: Node, name: string): string | undefined;
export function attrString(node: Node, name: string, dflt?: string): string | undefined {
  const a = node.attrs[name];
  if (!a) return dflt;
  if (a.kind !== 'string') throw new Error(`attribute ${name} of ${node.opType} node '${node.name}' is ${a.kind}, expected string`);
  return a.value;
}

export function attrTensor(node: Node, name: string): Tensor | undefined {
  const a = node.attrs[name];
  if (!a) return undefined;
  if (a.kind !== 'tensor') throw new Error(`attribute ${name} of ${node.opType} node '${node.name}' is ${a.kind}, expected tensor`);
  return a.value;
}
