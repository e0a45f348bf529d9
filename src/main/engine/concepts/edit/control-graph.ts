/**
 * Graph surgery for attention control (prompt-to-prompt): a copy of the UNet graph in which every
 * cross-attention layer's probabilities — and every self-attention layer's — can be read out and
 * replaced per run through graph inputs. Only standard ai.onnx ops (opset ≥ 11), so it runs on
 * every execution provider; every dim is read at run time, so one session serves every size.
 *
 * Per layer, with P the Softmax output ([B, H, N, M] or diffusers' folded [B·H, N, M]):
 *
 *   P4      = Reshape(P, [B, −1, N, M])                 heads as an axis in both layouts
 *   uncond  = P4[0 : B div 2]                           the guidance batch is [uncond; cond]
 *   cond    = P4[B div 2 : B]                           (the whole batch of 1 without guidance)
 *   P'      = Reshape(Concat(uncond, Where(use, feed, cond)), Shape(P))  -> every consumer of P
 *   output  = Cast(P4[B div 2 : B div 2 + k], float32)  k = B − B div 2 if N ≤ max_queries, else 0
 *
 * `feed` (float32, cast to P's type) and `use` (bool) broadcast against cond [B − B div 2, H, N, M]:
 * a [1, 1, 1, M] `use` selects text columns, a [1, 1, 1, 1] pair of zeros/false leaves the layer
 * alone. Where copies values, so with every `use` false the UNet's output is bit-identical to the
 * plain graph's. The read-out is gated by the `*_max_queries` inputs (int64 [1]): layers with more
 * query positions emit an empty tensor, so SD 1.5's 64×64 self-attention (4096² per head) never
 * leaves onnxruntime unless asked for.
 */
import { GraphBuilder } from '../../onnx/builder.js';
import { cloneModel } from '../../onnx/clone.js';
import { DataType } from '../../onnx/dtype.js';
import { attrInt, defaultOpset, isDefaultDomain, type Graph, type Model, type Node } from '../../onnx/ir.js';
import { producers, topoSort } from '../../onnx/topo.js';
import {
  AttentionCaptureError,
  findCrossAttention,
  layerNameOf,
  type CrossAttentionLayer,
  type FindOptions,
} from '../../attention/index.js';

/** Prefix of the control graph's inputs and outputs. */
export const CONTROL_PREFIX = 'attention_control.';

export type ControlKind = 'cross' | 'self';

/** A self-attention layer: a Softmax over Q·Kᵀ that is not cross-attention (both from the latent). */
export interface SelfAttentionLayer {
  index: number;
  name: string;
  node: string;
  probabilities: string;
}

/** One controlled layer and the names of its graph inputs and output. */
export interface ControlledLayer {
  kind: ControlKind;
  /** Index among the layers of its kind. */
  index: number;
  name: string;
  /** The cross-attention layer as findCrossAttention describes it (cross layers only). */
  cross?: CrossAttentionLayer;
  /** The Softmax output. */
  probabilities: string;
  /** The value its consumers now read (P after the Where). */
  controlled: string;
  /** Input: replacement probabilities, float32, broadcastable to [condBatch, heads, queries, keys]. */
  feed: string;
  /** Input: bool, broadcastable likewise; true takes `feed`. */
  use: string;
  /** Output: the computed probabilities of the conditional half, float32 [condBatch or 0, heads, queries, keys]. */
  output: string;
}

export interface ControlGraph {
  model: Model;
  cross: ControlledLayer[];
  self: ControlledLayer[];
  /** Inputs (int64 [1]): layers of each kind with more query positions than this emit nothing. */
  maxQueries: { cross: string; self: string };
}

export interface ControlOptions extends FindOptions {
  /** Also control self-attention (default true). */
  self?: boolean;
}

const PASS_THROUGH = new Set(['Mul', 'Div', 'Add', 'Sub', 'Cast', 'Identity', 'Where', 'Neg']);
const PRODUCTS = new Set(['MatMul', 'Einsum', 'FusedMatMul']);

/** Whether a value comes from a score product through scales, masks and casts. */
function fromScoreProduct(prod: Map<string, Node>, v: string): boolean {
  let cur = v;
  for (let depth = 0; depth < 8; depth++) {
    const p = prod.get(cur);
    if (!p) return false;
    if (PRODUCTS.has(p.opType) && p.inputs.length >= 2) return true;
    if (!PASS_THROUGH.has(p.opType)) return false;
    // Follow the operand that is not a constant scale (the first produced by a node).
    const next = p.inputs.find((i) => i !== '' && prod.has(i));
    if (!next) return false;
    cur = next;
  }
  return false;
}

/**
 * The self-attention layers: attention-score Softmax nodes over the last axis that are not among
 * the cross-attention layers. In a UNet there is no other kind of attention.
 */
export function findSelfAttention(model: Model, cross: readonly CrossAttentionLayer[]): SelfAttentionLayer[] {
  const g = model.graph;
  const crossNodes = new Set(cross.map((l) => l.probabilities));
  const prod = producers(g);
  const opset = defaultOpset(model);
  const out: SelfAttentionLayer[] = [];
  for (const n of g.nodes) {
    if (n.opType !== 'Softmax' || !isDefaultDomain(n.domain) || crossNodes.has(n.outputs[0]!)) continue;
    const axis = attrInt(n, 'axis', opset >= 13 ? -1 : 1);
    const rank = g.valueInfo.get(n.outputs[0]!)?.shape?.length;
    if (axis !== -1 && !(rank !== undefined && axis === rank - 1)) continue;
    if (!fromScoreProduct(prod, n.inputs[0]!)) continue;
    const name = n.name ? layerNameOf(n.name) : `self_attention.${out.length}`;
    out.push({ index: out.length, name, node: n.name, probabilities: n.outputs[0]! });
  }
  return out;
}

/** The element type of a value: recorded, or followed back through its producers. */
function valueType(g: Graph, name: string): DataType {
  const prod = producers(g);
  let cur = name;
  for (let depth = 0; depth < 64; depth++) {
    const vi = g.valueInfo.get(cur) ?? g.inputs.find((v) => v.name === cur);
    if (vi) return vi.dtype;
    const t = g.initializers.get(cur);
    if (t) return t.dtype;
    const p = prod.get(cur);
    if (!p) break;
    if (p.opType === 'Cast') return attrInt(p, 'to', DataType.FLOAT) as DataType;
    const next = p.inputs.find((i) => i !== '');
    if (!next) break;
    cur = next;
  }
  return DataType.FLOAT;
}

/**
 * Add attention control to a UNet graph (the input model is not modified).
 * @throws AttentionCaptureError as findCrossAttention does (fused attention, no cross-attention),
 *   or ('UNSUPPORTED_OP') for opsets older than 11
 */
export function addAttentionControl(model: Model, opts: ControlOptions = {}): ControlGraph {
  const crossLayers = findCrossAttention(model, opts);
  const selfLayers = opts.self === false ? [] : findSelfAttention(model, crossLayers);
  const opset = defaultOpset(model);
  if (opset < 11)
    throw new AttentionCaptureError('UNSUPPORTED_OP', `the UNet uses opset ${opset}; attention control needs opset 11 or newer`);
  const m = cloneModel(model);
  const g = m.graph;
  const original = [...g.nodes];
  const b = new GraphBuilder(g, opset, 'attention_control/');
  const sample = opts.sampleInput ?? 'sample';
  const int64Max = Number.MAX_SAFE_INTEGER;

  const batch = b.slice(b.op('Shape', [sample]), [0], [1], [0]);
  const half = b.op('Div', [batch, b.int64s([2], 'two')]);
  const condCount = b.op('Sub', [batch, half]);
  const zero = b.int64s([0], 'zero');
  const axis0 = b.int64s([0], 'axis0');
  const minusOne = b.int64s([-1], 'minus_one');
  const maxQueries = {
    cross: b.addInput(`${CONTROL_PREFIX}cross_max_queries`, DataType.INT64, [1]),
    self: b.addInput(`${CONTROL_PREFIX}self_max_queries`, DataType.INT64, [1]),
  };

  const rewire = new Map<string, string>();
  const control = (kind: ControlKind, index: number, name: string, p: string, cross?: CrossAttentionLayer): ControlledLayer => {
    const id = `${CONTROL_PREFIX}${kind}.${index}`;
    const shapeP = b.op('Shape', [p]);
    const lastTwo = b.slice(shapeP, [-2], [int64Max], [0]);
    const queries = b.slice(shapeP, [-2], [-1], [0]);
    const perHead = b.op('Reshape', [p, b.op('Concat', [batch, minusOne, lastTwo], { axis: 0 })]);
    const uncond = b.op('Slice', [perHead, zero, half, axis0]);
    const cond = b.op('Slice', [perHead, half, batch, axis0]);
    const feed = b.addInput(`${id}.feed`, DataType.FLOAT, [
      `${kind}_${index}_fb`,
      `${kind}_${index}_fh`,
      `${kind}_${index}_fn`,
      `${kind}_${index}_fm`,
    ]);
    const use = b.addInput(`${id}.use`, DataType.BOOL, [
      `${kind}_${index}_ub`,
      `${kind}_${index}_uh`,
      `${kind}_${index}_un`,
      `${kind}_${index}_um`,
    ]);
    const type = valueType(model.graph, p);
    const fed = type === DataType.FLOAT ? feed : b.cast(feed, type);
    const mixed = b.where(use, fed, cond);
    const controlled = b.op('Reshape', [b.op('Concat', [uncond, mixed], { axis: 0 }), shapeP]);
    rewire.set(p, controlled);
    // Read-out of the computed probabilities, empty for layers above the gate.
    const emit = b.op('Not', [b.op('Less', [maxQueries[kind], queries])]);
    const end = b.op('Add', [half, b.where(emit, condCount, zero)]);
    const picked = b.op('Slice', [perHead, half, end, axis0]);
    const output = `${id}.probs`;
    b.opN('Cast', [picked], { to: DataType.FLOAT }, { outputNames: [output] });
    b.addOutput(output, DataType.FLOAT, [
      `${kind}_cond_batch`,
      `${kind}_${index}_heads`,
      `${kind}_${index}_queries`,
      `${kind}_${index}_keys`,
    ]);
    return { kind, index, name, ...(cross ? { cross } : {}), probabilities: p, controlled, feed, use, output };
  };
  const cross = crossLayers.map((l) => control('cross', l.index, l.name, l.probabilities, l));
  const self = selfLayers.map((l) => control('self', l.index, l.name, l.probabilities));

  // The model's own consumers of each P read P' instead (the added nodes keep reading P).
  for (const n of original) n.inputs = n.inputs.map((i) => rewire.get(i) ?? i);
  for (const o of g.outputs)
    if (rewire.has(o.name)) throw new AttentionCaptureError('UNSUPPORTED_OP', `attention probabilities '${o.name}' are a graph output`);
  g.nodes = topoSort(g);
  return { model: m, cross, self, maxQueries };
}
