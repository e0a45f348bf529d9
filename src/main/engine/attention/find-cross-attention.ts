/**
 * Finding the cross-attention probabilities of a UNet export: the Softmax nodes whose scores are
 * Q·Kᵀ with K computed from the text (`encoder_hidden_states`) and Q from the latent (`sample`).
 *
 * The test is on data flow, not on names: a value's "origin" is the set of graph inputs it depends
 * on; the key operand of a cross-attention score depends on the text input alone, that of a
 * self-attention score on the latent. Names only label the layers (`/down_blocks.0/attentions.0/
 * transformer_blocks.0/attn2/Softmax` -> `down_blocks.0.attentions.0.transformer_blocks.0.attn2`),
 * so exports with other scope names (the PyTorch fixtures' `/attn.0/block/attn2_1/...`) work too.
 * Fused attention ops (com.microsoft MultiHeadAttention and kin, ONNX's own Attention) compute the
 * probabilities internally and never expose them: a graph where the text reaches such an op is
 * refused with the node's name, never captured as silently empty maps.
 */
import { EngineError } from '../errors.js';
import { attrInt, defaultOpset, isDefaultDomain, type Graph, type Model, type Node } from '../onnx/ir.js';
import { producers, subgraphOuterInputs, topoSort } from '../onnx/topo.js';

/** One cross-attention layer whose probabilities can be captured. */
export interface CrossAttentionLayer {
  /** Position among the layers found, in graph order. */
  index: number;
  /** Readable id from the node's scope, e.g. `down_blocks.0.attentions.0.transformer_blocks.0.attn2`. */
  name: string;
  /** UNet stage the scope names ('other' when the scope says neither). */
  block: 'down' | 'mid' | 'up' | 'other';
  /** The Softmax node. */
  node: string;
  /** Its output: the probabilities [batch, heads, queries, keys] or [batch·heads, queries, keys]. */
  probabilities: string;
}

/**
 * A UNet whose cross-attention cannot be captured. `code` is 'UNSUPPORTED_OP' for fused attention
 * ops that hide the probabilities, 'INVALID_MODEL' when no cross-attention is found at all.
 */
export class AttentionCaptureError extends EngineError {
  constructor(
    code: 'UNSUPPORTED_OP' | 'INVALID_MODEL',
    message: string,
    /** The nodes concerned (fused ops, or Softmax nodes of an unexpected layout). */
    readonly nodes: readonly string[] = [],
  ) {
    super(code, message);
    this.name = 'AttentionCaptureError';
  }
}

export interface FindOptions {
  /** Text input of the UNet (default `encoder_hidden_states`). */
  textInput?: string;
  /** Latent input (default `sample`). */
  sampleInput?: string;
}

/** Ops between the score product and the Softmax (scale, mask, casts). */
const PASS_THROUGH = new Set(['Mul', 'Div', 'Add', 'Sub', 'Cast', 'Identity', 'Where', 'Neg']);
/** Products that form attention scores. FusedMatMul is onnxruntime's MatMul + scale fusion. */
const PRODUCTS = new Set(['MatMul', 'Einsum', 'FusedMatMul']);

/** Fused attention: com.microsoft's family and ONNX's Attention (opset 23). */
function isFusedAttention(n: Node): boolean {
  if (isDefaultDomain(n.domain)) return n.opType === 'Attention';
  return /Attention$/.test(n.opType);
}

/** Ops whose output depends on the input's shape only, never on its values. */
const SHAPE_ONLY = new Set(['Shape', 'Size']);

/**
 * For each value, the graph inputs whose *values* it depends on, as a bit mask over `bits`
 * (initializers and constants depend on none). Shape reads do not count: exporters compute the
 * K reshape of cross-attention from the latent's batch size, yet K's values come from the text
 * alone. One pass in topological order.
 */
function originMasks(graph: Graph, bits: Map<string, number>): Map<string, number> {
  const mask = new Map<string, number>();
  for (const [name, bit] of bits) mask.set(name, 1 << bit);
  for (const n of topoSort(graph)) {
    if (SHAPE_ONLY.has(n.opType) && isDefaultDomain(n.domain)) {
      for (const o of n.outputs) if (o !== '') mask.set(o, 0);
      continue;
    }
    let m = 0;
    for (const i of [...n.inputs, ...subgraphOuterInputs(n)]) if (i !== '') m |= mask.get(i) ?? 0;
    for (const o of n.outputs) if (o !== '') mask.set(o, m);
  }
  return mask;
}

/** `/down_blocks.0/attentions.0/transformer_blocks.0/attn2/Softmax` -> `down_blocks.0.attentions.0.transformer_blocks.0.attn2`. */
export function layerNameOf(nodeName: string): string {
  const trimmed = nodeName.replace(/^\/+/, '').replace(/\/Softmax(_\d+)?$/, '');
  return trimmed.split('/').filter(Boolean).join('.');
}

function blockOf(name: string): CrossAttentionLayer['block'] {
  if (/mid/i.test(name)) return 'mid';
  if (/down/i.test(name)) return 'down';
  if (/(^|[./_])up/i.test(name)) return 'up';
  return 'other';
}

/**
 * The cross-attention layers of a UNet graph, in graph order.
 * @throws AttentionCaptureError('UNSUPPORTED_OP') when the text reaches a fused attention op (the
 *   probabilities are hidden inside it), or a cross-attention Softmax normalises over an axis other
 *   than the keys; ('INVALID_MODEL') when the graph has no text input or no cross-attention Softmax
 */
export function findCrossAttention(model: Model, opts: FindOptions = {}): CrossAttentionLayer[] {
  const g = model.graph;
  const textInput = opts.textInput ?? 'encoder_hidden_states';
  const sampleInput = opts.sampleInput ?? 'sample';
  const inputNames = g.inputs.filter((v) => !g.initializers.has(v.name)).map((v) => v.name);
  if (!inputNames.includes(textInput))
    throw new AttentionCaptureError(
      'INVALID_MODEL',
      `the UNet has no '${textInput}' input (inputs: ${inputNames.join(', ')}), so there is no text cross-attention to capture`,
    );
  const bits = new Map<string, number>();
  inputNames.slice(0, 31).forEach((n, i) => bits.set(n, i));
  if (!bits.has(textInput)) bits.set(textInput, 31);
  const mask = originMasks(g, bits);
  const textBit = 1 << bits.get(textInput)!;
  const sampleBit = bits.has(sampleInput) ? 1 << bits.get(sampleInput)! : 0;
  const textOnly = (v: string): boolean => (mask.get(v) ?? 0) === textBit;
  const fromLatent = (v: string): boolean => sampleBit === 0 || ((mask.get(v) ?? 0) & sampleBit) !== 0;
  const prod = producers(g);
  const opset = defaultOpset(model);

  // Fused attention reached by the text: its probabilities cannot be exposed.
  const fused = g.nodes.filter(isFusedAttention);
  const fusedCross = fused.filter((n) => n.inputs.slice(1).some((i) => i !== '' && textOnly(i)));
  if (fusedCross.length > 0) {
    const names = fusedCross.map((n) => n.name || n.outputs[0]!);
    throw new AttentionCaptureError(
      'UNSUPPORTED_OP',
      `the UNet computes cross-attention in fused ${fusedCross[0]!.domain || 'ai.onnx'} ${fusedCross[0]!.opType} node${names.length > 1 ? 's' : ''} ` +
        `${names.slice(0, 4).join(', ')}${names.length > 4 ? ` and ${names.length - 4} more` : ''}, which hide the attention probabilities. ` +
        'Use an export with plain MatMul/Softmax attention (not an onnxruntime-optimised one) to get attention maps.',
      names,
    );
  }

  /** The score product feeding a Softmax input (through scales, masks and casts), if any. */
  const scoreProduct = (v: string): Node | undefined => {
    const queue: { v: string; depth: number }[] = [{ v, depth: 0 }];
    const seen = new Set<string>();
    while (queue.length > 0) {
      const { v: cur, depth } = queue.shift()!;
      if (seen.has(cur)) continue;
      seen.add(cur);
      const p = prod.get(cur);
      if (!p) continue;
      if (PRODUCTS.has(p.opType) && p.inputs.length >= 2) return p;
      if (!PASS_THROUGH.has(p.opType) || depth >= 8) continue;
      for (const i of p.inputs) if (i !== '' && (mask.get(i) ?? 0) !== 0) queue.push({ v: i, depth: depth + 1 });
    }
    return undefined;
  };

  const layers: CrossAttentionLayer[] = [];
  const badLayout: string[] = [];
  for (const n of g.nodes) {
    if (n.opType !== 'Softmax' || !isDefaultDomain(n.domain)) continue;
    const score = scoreProduct(n.inputs[0]!);
    if (!score) continue;
    const [a, b] = score.inputs as [string, string];
    if (textOnly(b) && fromLatent(a)) {
      const axis = attrInt(n, 'axis', opset >= 13 ? -1 : 1);
      const rank = g.valueInfo.get(n.outputs[0]!)?.shape?.length;
      if (axis !== -1 && !(rank !== undefined && axis === rank - 1)) {
        badLayout.push(n.name);
        continue;
      }
      const name = n.name ? layerNameOf(n.name) : `cross_attention.${layers.length}`;
      layers.push({ index: layers.length, name, block: blockOf(name), node: n.name, probabilities: n.outputs[0]! });
    } else if (textOnly(a) && fromLatent(b)) {
      // Scores laid out [keys, queries]: the Softmax would normalise over queries.
      badLayout.push(n.name);
    }
  }
  if (badLayout.length > 0)
    throw new AttentionCaptureError(
      'UNSUPPORTED_OP',
      `cross-attention Softmax node${badLayout.length > 1 ? 's' : ''} ${badLayout.slice(0, 4).join(', ')} do not normalise over the text positions ` +
        '(last axis of Q·Kᵀ); this export lays attention out in a way the capture does not handle',
      badLayout,
    );
  if (layers.length === 0) {
    const hint =
      fused.length > 0
        ? ` It has fused attention nodes (${fused
            .slice(0, 3)
            .map((f) => `${f.opType} '${f.name}'`)
            .join(', ')}) that may hide it.`
        : '';
    throw new AttentionCaptureError(
      'INVALID_MODEL',
      `no cross-attention found in the UNet: no Softmax over scores whose keys come from '${textInput}' alone.${hint} ` +
        'Attention maps need a Stable-Diffusion-layout UNet export with plain MatMul/Softmax attention.',
      fused.map((f) => f.name),
    );
  }
  // Scopes that do not say the stage (the fixtures' `/attn.0/...`): in an SD-layout graph the
  // layers before the mid block's are the down path, those after it the up path.
  const mid = layers.findIndex((l) => l.block === 'mid');
  if (mid >= 0) for (const l of layers) if (l.block === 'other') l.block = l.index < mid ? 'down' : 'up';
  // Unique readable names (exports that reuse a module name get the index appended).
  const count = new Map<string, number>();
  for (const l of layers) count.set(l.name, (count.get(l.name) ?? 0) + 1);
  for (const l of layers) if (count.get(l.name)! > 1) l.name = `${l.name}#${l.index}`;
  return layers;
}
