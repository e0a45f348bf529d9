/**
 * Graph surgery on a CLIP-style text encoder: cut the token-embedding lookup so the encoder
 * takes `inputs_embeds` [batch, tokens, dim] directly. Differentiating w.r.t. that input gives
 * a gradient per position (HotFlip needs per-position gradients; the gradient w.r.t. the table
 * would sum positions sharing a token).
 */
import { EngineError } from '../errors.js';
import type { Model, Node, Tensor } from '../onnx/ir.js';

export const EMBEDS_INPUT = 'inputs_embeds';

export interface ExposedEmbeddings {
  model: Model;
  /** The token-embedding table [vocab, dim] (still an initializer of the model). */
  table: Tensor;
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
    const t = g.initializers.get(n.inputs[0]!);
    return t !== undefined && t.dims.length === 2 && sourceInput(model, n.inputs[1]!, producers) !== undefined;
  });
  if (!lookup) {
    throw new EngineError(
      'INVALID_MODEL',
      'this text encoder has no token-embedding lookup (a Gather from an [vocab, dim] initializer indexed by the ids input); ' +
        'the training-free decoder needs a CLIP-style ONNX text encoder',
    );
  }
  const table = g.initializers.get(lookup.inputs[0]!)!;
  const idsInput = sourceInput(model, lookup.inputs[1]!, producers)!;
  const idsInfo = g.inputs.find((i) => i.name === idsInput)!;
  const embedsName = lookup.outputs[0]!;
  const nodes = g.nodes
    .filter((n) => n !== lookup)
    .map((n) => (n.inputs.includes(embedsName) ? { ...n, inputs: n.inputs.map((i) => (i === embedsName ? EMBEDS_INPUT : i)) } : n));
  const shape = [...(idsInfo.shape ?? ['batch', 'sequence']), table.dims[1]!];
  return {
    table,
    idsInput,
    model: {
      ...model,
      graph: {
        ...g,
        nodes,
        inputs: [...g.inputs, { name: EMBEDS_INPUT, dtype: table.dtype, shape }],
        valueInfo: new Map([...g.valueInfo].filter(([k]) => k !== embedsName)),
      },
    },
  };
}
