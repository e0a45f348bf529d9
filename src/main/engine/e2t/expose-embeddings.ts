/**
 * Graph surgery on a CLIP-style text encoder: cut the token-embedding lookup so the encoder
 * takes `inputs_embeds` [batch, tokens, dim] directly. Differentiating w.r.t. that input gives
 * a gradient per position (HotFlip needs per-position gradients; the gradient w.r.t. the table
 * would sum positions sharing a token).
 */
import { EngineError } from '../errors.js';
import type { DataType } from '../onnx/dtype.js';
import { attrInt, type Model, type Node, type Tensor } from '../onnx/ir.js';

export const EMBEDS_INPUT = 'inputs_embeds';

export interface ExposedEmbeddings {
  model: Model;
  /** The token-embedding table [vocab, dim] (still an initializer of the model). */
  table: Tensor;
  /**
   * Element type of `inputs_embeds`: the table's, or the type a Cast after it gives (exports that
   * store weights as half and compute in float32 read `Cast(table)`).
   */
  embedsDtype: DataType;
  /** Name of the ids input the lookup read (kept: e.g. EOS pooling still reads it). */
  idsInput: string;
}

/** Follow Cast/Identity chains back to a graph input. */
function sourceInput(model: Model, value: string, producers: Map<string, Node>): string | undefined {
  const inputs = new Set(model.graph.inputs.map((i) => i.name));
  let v = value;
  for (let hops = 0; hops < 4; hops++) {
    if (inputs.has(v)) return v;
    const p = producers.get(v);
    if (!p || (p.opType !== 'Cast' && p.opType !== 'Identity')) return undefined;
    v = p.inputs[0]!;
  }
  return undefined;
}

/** Follow Cast/Identity chains back to a 2-D initializer: the table and the type the lookup reads. */
function sourceTable(model: Model, value: string, producers: Map<string, Node>): { table: Tensor; dtype: DataType } | undefined {
  let v = value;
  let dtype: DataType | undefined;
  for (let hops = 0; hops < 4; hops++) {
    const t = model.graph.initializers.get(v);
    if (t) return t.dims.length === 2 ? { table: t, dtype: dtype ?? t.dtype } : undefined;
    const p = producers.get(v);
    if (!p || (p.opType !== 'Cast' && p.opType !== 'Identity')) return undefined;
    if (p.opType === 'Cast' && dtype === undefined) dtype = attrInt(p, 'to') as DataType;
    v = p.inputs[0]!;
  }
  return undefined;
}

/**
 * @param model a text encoder with an int `input_ids`-like input feeding a Gather on a 2-D
 *   initializer (the public CLIP exports, our demo encoder and the peer fixtures all do)
 * @returns a copy of the graph (tensors shared) with the Gather removed and `inputs_embeds` added
 */
export function exposeInputEmbeddings(model: Model): ExposedEmbeddings {
  const g = model.graph;
  const producers = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) producers.set(o, n);
  const lookup = g.nodes.find((n) => {
    if (n.opType !== 'Gather') return false;
    return sourceTable(model, n.inputs[0]!, producers) !== undefined && sourceInput(model, n.inputs[1]!, producers) !== undefined;
  });
  if (!lookup) {
    throw new EngineError(
      'INVALID_MODEL',
      'this text encoder has no token-embedding lookup (a Gather from an [vocab, dim] initializer, possibly through a Cast, indexed by the ids input); ' +
        'the training-free decoder needs a CLIP-style ONNX text encoder',
    );
  }
  const { table, dtype: embedsDtype } = sourceTable(model, lookup.inputs[0]!, producers)!;
  const idsInput = sourceInput(model, lookup.inputs[1]!, producers)!;
  const idsInfo = g.inputs.find((i) => i.name === idsInput)!;
  const embedsName = lookup.outputs[0]!;
  const nodes = g.nodes
    .filter((n) => n !== lookup)
    .map((n) => (n.inputs.includes(embedsName) ? { ...n, inputs: n.inputs.map((i) => (i === embedsName ? EMBEDS_INPUT : i)) } : n));
  const shape = [...(idsInfo.shape ?? ['batch', 'sequence']), table.dims[1]!];
  return {
    table,
    embedsDtype,
    idsInput,
    model: {
      ...model,
      graph: {
        ...g,
        nodes,
        inputs: [...g.inputs, { name: EMBEDS_INPUT, dtype: embedsDtype, shape }],
        valueInfo: new Map([...g.valueInfo].filter(([k]) => k !== embedsName)),
      },
    },
  };
}
