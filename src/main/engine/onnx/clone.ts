/** Structural copies of models and graphs that share tensor bytes (cheap even for multi-GB models). */
import type { Attribute, Graph, Model, Node, Tensor, ValueInfo } from './ir.js';

function cloneTensor(t: Tensor): Tensor {
  const c: Tensor = { ...t, dims: [...t.dims] };
  if (t.external) c.external = { ...t.external };
  if (t.strings) c.strings = [...t.strings];
  return c;
}

function cloneValueInfo(v: ValueInfo): ValueInfo {
  return v.shape ? { ...v, shape: [...v.shape] } : { ...v };
}

function cloneAttr(a: Attribute): Attribute {
  switch (a.kind) {
    case 'tensor':
      return { kind: 'tensor', value: cloneTensor(a.value) };
    case 'tensors':
      return { kind: 'tensors', value: a.value.map(cloneTensor) };
    case 'graph':
      return { kind: 'graph', value: cloneGraph(a.value) };
    case 'graphs':
      return { kind: 'graphs', value: a.value.map(cloneGraph) };
    case 'floats':
    case 'ints':
    case 'strings':
      return { kind: a.kind, value: [...a.value] } as Attribute;
    default:
      return { ...a };
  }
}

export function cloneNode(n: Node): Node {
  const attrs: Record<string, Attribute> = {};
  for (const [k, a] of Object.entries(n.attrs)) attrs[k] = cloneAttr(a);
  return { ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs };
}

/** A copy of the graph whose nodes, value infos and tensor records can be edited freely; `raw` bytes are shared. */
export function cloneGraph(g: Graph): Graph {
  const out: Graph = {
    ...g,
    inputs: g.inputs.map(cloneValueInfo),
    outputs: g.outputs.map(cloneValueInfo),
    initializers: new Map([...g.initializers].map(([k, t]) => [k, cloneTensor(t)])),
    nodes: g.nodes.map(cloneNode),
    valueInfo: new Map([...g.valueInfo].map(([k, v]) => [k, cloneValueInfo(v)])),
  };
  return out;
}

/** A copy of the model sharing tensor bytes (see cloneGraph). */
export function cloneModel(m: Model): Model {
  const out: Model = { ...m, opsetImports: m.opsetImports.map((o) => ({ ...o })), metadata: { ...m.metadata }, graph: cloneGraph(m.graph) };
  if (m.functionsRaw) out.functionsRaw = [...m.functionsRaw];
  return out;
}
