/**
 * Accumulation of gradient contributions through Gemm's C input.
 *
 * A value read by several linear layers (the normalised hidden state feeding the Q, K and V
 * projections; `encoder_hidden_states` feeding every cross-attention's K and V) collects one
 * input gradient per layer, each a `Gemm(g, W, transB=1)` (reshaped back to the value's shape),
 * and would then be summed by an Add / Sum: a separate pass over the sum and, per contribution,
 * a Reshape kernel. Gemm computes alpha A B + beta C, so chaining the products through C
 * (C of each Gemm = the previous Gemm's output, beta 1) accumulates inside them:
 * Gemm(g3, W3, Gemm(g2, W2, Gemm(g1, W1))) and one Reshape. Same sum (fp32 accumulation order
 * aside), fewer kernels and one pass less.
 */
import type { Graph, Node } from '../onnx/ir.js';
import { attrInt, getAttr, isDefaultDomain } from '../onnx/ir.js';
import { tensorValues } from '../onnx/model-io.js';

interface GemmTerm {
  /** The contribution as listed. */
  name: string;
  gemm: Node;
  /** The Reshape between the Gemm and the contribution, if any. */
  reshape?: Node;
  /** Position of the Gemm in graph.nodes (chaining must follow the node order). */
  index: number;
  shape: string;
}

/**
 * Rewrite the contributions that are (reshaped) C-less Gemms of one output shape into a single
 * chained Gemm; returns the contributions left to add (the chain's result among them).
 * @param from index of the first emitted node (forward nodes are never touched)
 * @param shapeOf known concrete shape of a value, or undefined
 * @param exclusive whether a contribution belongs to this sum alone (a rule can hand the same
 *   name to several inputs, e.g. Add; rewriting its Gemm would change the other sums too)
 */
export function chainGemms(
  g: Graph,
  from: number,
  list: readonly string[],
  shapeOf: (name: string) => number[] | undefined,
  exclusive: (name: string) => boolean,
): string[] {
  if (list.length < 2) return [...list];
  const at = new Map<string, number>();
  for (let i = g.nodes.length - 1; i >= from; i--) for (const o of g.nodes[i]!.outputs) at.set(o, i);
  const uses = (v: string): number => g.nodes.reduce((c, n) => c + (n.inputs.includes(v) ? 1 : 0), 0) + (g.outputs.some((o) => o.name === v) ? 1 : 0);
  const dims = (v: string): number[] | undefined => {
    const known = shapeOf(v);
    if (known) return known;
    const i = at.get(v);
    const n = i === undefined ? undefined : g.nodes[i]!;
    if (n?.opType !== 'Reshape') return undefined;
    const t = g.initializers.get(n.inputs[1] ?? '');
    if (!t || t.external) return undefined;
    const d = Array.from(tensorValues(t) as ArrayLike<number | bigint>, Number);
    return d.every((x) => x > 0) ? d : undefined;
  };
  const term = (name: string): GemmTerm | undefined => {
    let i = at.get(name);
    // the chain changes what the Gemm (and its Reshape) compute: nothing else may read them
    if (i === undefined || !exclusive(name) || list.indexOf(name) !== list.lastIndexOf(name) || uses(name) !== 0) return undefined;
    let reshape: Node | undefined;
    let n = g.nodes[i]!;
    if (n.opType === 'Reshape' && isDefaultDomain(n.domain)) {
      reshape = n;
      i = at.get(n.inputs[0]!);
      if (i === undefined) return undefined;
      n = g.nodes[i]!;
      if (uses(n.outputs[0]!) !== 1) return undefined;
    }
    if (n.opType !== 'Gemm' || !isDefaultDomain(n.domain) || n.inputs.length > 2 || getAttr(n, 'beta') !== undefined) return undefined;
    const a = dims(n.inputs[0]!);
    const b = dims(n.inputs[1]!);
    if (a?.length !== 2 || b?.length !== 2) return undefined;
    const m = attrInt(n, 'transA', 0) ? a[1]! : a[0]!;
    const k = attrInt(n, 'transB', 0) ? b[0]! : b[1]!;
    return { name, gemm: n, reshape, index: i, shape: `${m}x${k}/${reshape ? (reshape.inputs[1] ?? '') : ''}` };
  };
  const groups = new Map<string, GemmTerm[]>();
  const rest: string[] = [];
  for (const name of list) {
    const t = term(name);
    if (!t) rest.push(name);
    else groups.set(t.shape, [...(groups.get(t.shape) ?? []), t]);
  }
  const dead = new Set<Node>();
  for (const terms of groups.values()) {
    if (terms.length < 2) {
      rest.push(...terms.map((t) => t.name));
      continue;
    }
    terms.sort((x, y) => x.index - y.index);
    for (let j = 1; j < terms.length; j++) terms[j]!.gemm.inputs.push(terms[j - 1]!.gemm.outputs[0]!);
    for (const t of terms.slice(0, -1)) if (t.reshape) dead.add(t.reshape);
    rest.push(terms[terms.length - 1]!.name);
  }
  if (dead.size > 0) g.nodes = g.nodes.filter((n) => !dead.has(n));
  return rest;
}
