/**
 * Accumulation of gradient contributions: `Cotangents` collects every value's contributions and
 * sums them once, through Gemm's C input where it can (`chainGemms`).
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
import type { GraphBuilder } from '../onnx/builder.js';
import type { Graph, Node } from '../onnx/ir.js';
import { attrInt, getAttr, isDefaultDomain } from '../onnx/ir.js';
import { tensorValues } from '../onnx/model-io.js';
import type { Types } from './forward-values.js';

/**
 * Producers of the emitted values and consumer counts of every value, for the graph buildVjp is
 * writing. Rules only append nodes, so the index catches up with the nodes appended since its
 * last use (each node is scanned once per buildVjp) instead of rescanning the graph per sum;
 * chainGemms records its own edits (inputs added to Gemms, Reshapes removed).
 */
export class GradGraphIndex {
  /** emitted value -> its producer and that node's emission number (orders nodes across removals) */
  private readonly producers = new Map<string, { node: Node; seq: number }>();
  /** value -> number of nodes reading it (a node listing it twice counts once) */
  private readonly consumers = new Map<string, number>();
  /** nodes of graph.nodes indexed so far */
  private scanned = 0;

  /**
   * @param graph the graph being written (its `nodes` array may be replaced by chainGemms)
   * @param from index of the first emitted node: earlier (forward) nodes count as consumers only
   */
  constructor(
    readonly graph: Graph,
    private readonly from: number,
  ) {}

  /** Index the nodes appended since the last call. */
  sync(): void {
    const nodes = this.graph.nodes;
    for (; this.scanned < nodes.length; this.scanned++) {
      const n = nodes[this.scanned]!;
      if (this.scanned >= this.from)
        for (const o of n.outputs) if (o && !this.producers.has(o)) this.producers.set(o, { node: n, seq: this.scanned });
      for (const i of new Set(n.inputs)) this.addUse(i, 1);
    }
  }

  /** The emitted node producing `v` and its emission number, or undefined (forward value, input, initializer). */
  producer(v: string): { node: Node; seq: number } | undefined {
    return this.producers.get(v);
  }

  /** Readers of `v`: consuming nodes plus one if it is a graph output. */
  uses(v: string): number {
    return (this.consumers.get(v) ?? 0) + (this.graph.outputs.some((o) => o.name === v) ? 1 : 0);
  }

  /** Record that `n` now also reads `v` (call after pushing it onto n.inputs). */
  addedInput(n: Node, v: string): void {
    if (n.inputs.indexOf(v) === n.inputs.length - 1) this.addUse(v, 1);
  }

  /** Remove already indexed nodes from the graph (one pass over it). */
  remove(dead: ReadonlySet<Node>): void {
    if (dead.size === 0) return;
    for (const n of dead) {
      for (const o of n.outputs) if (this.producers.get(o)?.node === n) this.producers.delete(o);
      for (const i of new Set(n.inputs)) this.addUse(i, -1);
    }
    const before = this.graph.nodes.length;
    this.graph.nodes = this.graph.nodes.filter((n) => !dead.has(n));
    this.scanned -= before - this.graph.nodes.length;
  }

  private addUse(v: string, d: number): void {
    if (v) this.consumers.set(v, (this.consumers.get(v) ?? 0) + d);
  }
}

interface GemmTerm {
  /** The contribution as listed. */
  name: string;
  gemm: Node;
  /** The Reshape between the Gemm and the contribution, if any. */
  reshape?: Node;
  /** Emission number of the Gemm (chaining must follow the node order). */
  seq: number;
  shape: string;
}

/**
 * Rewrite the contributions that are (reshaped) C-less Gemms of one output shape into a single
 * chained Gemm; returns the contributions left to add (the chain's result among them).
 * @param index producer / consumer index of the graph being written (one per buildVjp)
 * @param shapeOf known concrete shape of a value, or undefined
 * @param exclusive whether a contribution belongs to this sum alone (a rule can hand the same
 *   name to several inputs, e.g. Add; rewriting its Gemm would change the other sums too)
 */
export function chainGemms(
  index: GradGraphIndex,
  list: readonly string[],
  shapeOf: (name: string) => number[] | undefined,
  exclusive: (name: string) => boolean,
): string[] {
  if (list.length < 2) return [...list];
  index.sync();
  const g = index.graph;
  const dims = (v: string): number[] | undefined => {
    const known = shapeOf(v);
    if (known) return known;
    const node = index.producer(v)?.node;
    if (node?.opType !== 'Reshape') return undefined;
    const t = g.initializers.get(node.inputs[1] ?? '');
    if (!t || t.external) return undefined;
    const d = Array.from(tensorValues(t) as ArrayLike<number | bigint>, Number);
    return d.every((x) => x > 0) ? d : undefined;
  };
  const term = (name: string): GemmTerm | undefined => {
    let p = index.producer(name);
    // the chain changes what the Gemm (and its Reshape) compute: nothing else may read them
    if (p === undefined || !exclusive(name) || list.indexOf(name) !== list.lastIndexOf(name) || index.uses(name) !== 0) return undefined;
    let reshape: Node | undefined;
    if (p.node.opType === 'Reshape' && isDefaultDomain(p.node.domain)) {
      reshape = p.node;
      p = index.producer(reshape.inputs[0]!);
      if (p === undefined) return undefined;
      if (index.uses(p.node.outputs[0]!) !== 1) return undefined;
    }
    const node = p.node;
    if (node.opType !== 'Gemm' || !isDefaultDomain(node.domain) || node.inputs.length > 2 || getAttr(node, 'beta') !== undefined)
      return undefined;
    const a = dims(node.inputs[0]!);
    const b = dims(node.inputs[1]!);
    if (a?.length !== 2 || b?.length !== 2) return undefined;
    // Gemm's output is M x N
    const m = attrInt(node, 'transA', 0) ? a[1]! : a[0]!;
    const n = attrInt(node, 'transB', 0) ? b[0]! : b[1]!;
    return { name, gemm: node, reshape, seq: p.seq, shape: `${m}x${n}/${reshape ? (reshape.inputs[1] ?? '') : ''}` };
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
    terms.sort((x, y) => x.seq - y.seq);
    for (let j = 1; j < terms.length; j++) {
      const c = terms[j - 1]!.gemm.outputs[0]!;
      terms[j]!.gemm.inputs.push(c);
      index.addedInput(terms[j]!.gemm, c);
    }
    for (const t of terms.slice(0, -1)) if (t.reshape) dead.add(t.reshape);
    rest.push(terms[terms.length - 1]!.name);
  }
  index.remove(dead);
  return rest;
}

/**
 * The gradient contributions of every value, summed once when the value's total is first asked
 * for (just before its producer is differentiated). Every gradient has its value's shape and
 * dtype, recorded in `types` so rules may ask.
 */
export class Cotangents {
  private readonly contributions = new Map<string, string[]>();
  /** how often each gradient name was contributed (rules may hand one name to several inputs) */
  private readonly contributed = new Map<string, number>();

  constructor(
    private readonly b: GraphBuilder,
    private readonly types: Types,
    /** producers / consumers of the values written so far, for chaining Gemm contributions */
    private readonly index: GradGraphIndex,
  ) {}

  contribute(v: string, g: string): void {
    this.record(g, v);
    this.contributed.set(g, (this.contributed.get(g) ?? 0) + 1);
    const list = this.contributions.get(v);
    if (list) list.push(g);
    else this.contributions.set(v, [g]);
  }

  /** The total gradient of `v` (summing its contributions once, through Gemm chains where possible), or undefined. */
  total(v: string): string | undefined {
    const list = this.contributions.get(v);
    if (!list || list.length <= 1) return list?.[0];
    const shapeOf = (n: string) => this.types.get(n)?.shape;
    const sum = this.b.addAll(chainGemms(this.index, list, shapeOf, (n) => this.contributed.get(n) === 1));
    this.record(sum, v);
    this.contributions.set(v, [sum]);
    return sum;
  }

  /** Record the shapes of the emitted gradient values in value_info (for later passes and debugging). */
  recordValueInfo(graph: Graph, inputNames: ReadonlySet<string>): void {
    const used = new Set([...graph.inputs.map((v) => v.name), ...graph.outputs.map((v) => v.name)]);
    for (const [v, list] of this.contributions) {
      const t = this.types.get(v);
      if (!t?.shape) continue;
      for (const g of list)
        if (!graph.valueInfo.has(g) && !used.has(g) && !inputNames.has(g))
          graph.valueInfo.set(g, { name: g, dtype: t.dtype, shape: [...t.shape] });
    }
  }

  private record(grad: string, of: string): void {
    if (!this.types.has(grad)) this.types.set(grad, this.types.get(of)!);
  }
}
