/**
 * Reverse-mode transform: forward ONNX model in, forward + vector-Jacobian-product model out,
 * made of standard ai.onnx ops at the model's own opset (so it runs on every execution provider).
 *
 * Contract of the produced model (the CLI's `grad` command exposes exactly this):
 * - inputs  = the original inputs (same names) + `<output>_cotangent` for every differentiated
 *   output (same shape and dtype as that output);
 * - outputs = the original outputs + `<name>_grad` for every `wrt` input / initializer (same
 *   shape and dtype as that value).
 * Running it once gives the forward outputs and d(sum_o <o, o_cotangent>)/d(wrt).
 *
 * Only nodes on a path wrt -> differentiated output get gradient nodes; initializers not listed
 * in `wrtInitializers` are frozen (no gradient, so MatMul/Conv by a weight need no saved
 * activation for the weight side); values of integer/bool type are never differentiated.
 * Multiple contributions to a value's gradient are summed (Add / Sum) in the value's dtype.
 *
 * buildVjp reads as its phases: check the request, find the gradient path, seed the cotangents,
 * sweep the path backwards (fusions, then per-op rules, their results summed back to each
 * input's shape by `inputGradient`), expose the gradients, report.
 */
import { GraphBuilder } from '../onnx/builder.js';
import { cloneModel } from '../onnx/clone.js';
import { DataType, isFloatType } from '../onnx/dtype.js';
import { defaultOpset, isDefaultDomain, type Graph, type Model, type Node } from '../onnx/ir.js';
import { subgraphOuterInputs, topoSort } from '../onnx/topo.js';
import { EngineError } from '../errors.js';
import { inputGradient, MissingGradRuleError, type GradContext } from './rule.js';
import { getRule, isNonDifferentiable, ruleFamily } from './registry.js';
import { attentionCore, geluPattern, siluPattern, type FusionEnv } from './fusions.js';
import { Cotangents, GradGraphIndex } from './accumulate.js';
import { constantReader, dtypeOf, shapeOf, valueTypes, type Types } from './forward-values.js';

export interface VjpOptions {
  /** Graph inputs to differentiate with respect to. */
  wrt?: string[];
  /** Initializers (weights, embedding tables) to differentiate with respect to; all others are frozen. */
  wrtInitializers?: string[];
  /** Outputs to differentiate (default: every floating-point graph output). */
  outputs?: string[];
  /**
   * Outputs whose cotangent is the constant 1 instead of a `<output>_cotangent` input
   * (used for scalar losses: d loss / d x needs no cotangent feed).
   */
  constantCotangents?: string[];
  /** Apply multi-node gradient rules (fusions.ts; default true). false = per-op rules only. */
  fuse?: boolean;
}

export interface VjpReport {
  /** Node count of the forward model. */
  nodesBefore: number;
  /** Node count of the forward+VJP model. */
  nodesAfter: number;
  /** Forward nodes that got a gradient rule applied. */
  differentiatedNodes: number;
  /** Op type -> number of forward nodes differentiated (the rules used). */
  rulesUsed: Record<string, number>;
  /** Rule family file -> op types used from it. */
  families: Record<string, string[]>;
  /** Op type -> count of nodes the gradient added. */
  emittedOps: Record<string, number>;
  /** Op type -> count in the forward model. */
  forwardOps: Record<string, number>;
  differentiatedOutputs: string[];
  wrt: string[];
}

export interface VjpResult {
  model: Model;
  /** Differentiated output name -> name of its cotangent input (absent for constant cotangents). */
  cotangentInputs: Record<string, string>;
  /** wrt name -> name of its gradient output. */
  gradOutputs: Record<string, string>;
  report: VjpReport;
}

/**
 * Build the forward+VJP model.
 * @param model a statically specialised model: every graph input has concrete dims and every value
 *   on the gradient path has a known shape (run `specialise(model, shapes)` first). Not modified.
 * @throws EngineError('INVALID_ARGUMENT') for unknown / integer-typed / unreachable wrt names,
 *   symbolic input dims; MissingGradRuleError for an op on the path without a rule.
 */
export function buildVjp(model: Model, opts: VjpOptions): VjpResult {
  const src = model.graph;
  const wrt = checkRequest(src, opts);
  const out = cloneModel(model);
  const types = valueTypes(out, src);
  checkWrtTypes(src, wrt, types);
  const diffOutputs = differentiatedOutputs(src, opts);
  const path = gradientPath(src, wrt, diffOutputs, types);

  const graph = out.graph;
  const nodesBefore = graph.nodes.length;
  const b = new GraphBuilder(graph, defaultOpset(model), 'vjp/', { shapeOf: (n) => types.get(n)?.shape, shareConstants: true });
  const cotangents = new Cotangents(b, types, new GradGraphIndex(graph, nodesBefore));
  const cotangentInputs = seedCotangents(b, cotangents, types, diffOutputs, path, opts.constantCotangents ?? []);
  const sweep = reverseSweep(model, out, b, cotangents, types, path, opts.fuse !== false);
  const gradOutputs = exposeGradients(b, cotangents, types, wrt);
  cotangents.recordValueInfo(graph, new Set(src.inputs.map((v) => v.name)));
  return {
    model: out,
    cotangentInputs,
    gradOutputs,
    report: { ...report(src, graph, nodesBefore, sweep), differentiatedOutputs: diffOutputs, wrt },
  };
}

// ---- request checks ----

function listNames(names: string[], max = 30): string {
  if (names.length === 0) return '(none)';
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown}, … (${names.length - max} more)` : shown;
}

/** The wrt names (inputs, then initializers, deduplicated), checked against the graph's inputs, initializers and static shapes. */
function checkRequest(src: Graph, opts: VjpOptions): string[] {
  const wrtInputs = opts.wrt ?? [];
  const wrtInits = opts.wrtInitializers ?? [];
  const wrt = [...new Set([...wrtInputs, ...wrtInits])];
  if (wrt.length === 0)
    throw new EngineError('INVALID_ARGUMENT', 'nothing to differentiate with respect to: give at least one wrt input or initializer');
  for (const v of src.inputs) {
    const sym = (v.shape ?? []).filter((d) => typeof d !== 'number' || d < 0);
    if (!v.shape || sym.length > 0) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `input '${v.name}' has ${v.shape ? `symbolic dims (${sym.join(', ')})` : 'an unknown shape'}; the gradient transform needs a statically specialised model: ` +
          `call specialise(model, shapes) first (CLI: --shape ${v.name}=D0xD1x…)`,
      );
    }
  }
  const inputNames = new Set(src.inputs.map((v) => v.name));
  for (const w of wrtInputs.filter((n) => !inputNames.has(n))) {
    const hint = src.initializers.has(w) ? ` ('${w}' is an initializer: use wrtInitializers / --wrt-initializer)` : '';
    throw new EngineError(
      'INVALID_ARGUMENT',
      `wrt input '${w}' is not a graph input${hint}. Available inputs: ${listNames(src.inputs.map((v) => `${v.name} (${DataType[v.dtype]})`))}`,
    );
  }
  for (const w of wrtInits.filter((n) => !src.initializers.has(n))) {
    const all = [...src.initializers.keys()];
    const similar = all.filter((n) => n.toLowerCase().includes(w.toLowerCase().split(/[./]/).pop() ?? ''));
    throw new EngineError(
      'INVALID_ARGUMENT',
      `wrt initializer '${w}' not found${inputNames.has(w) ? ` ('${w}' is a graph input: use wrt / --wrt)` : ''}. ` +
        `Initializers${similar.length ? ' with a similar name' : ''}: ${listNames(similar.length ? similar : all)}`,
    );
  }
  return wrt;
}

/** For an integer input used as Gather indices into an initializer: suggest differentiating that table. */
function idsHint(g: Graph, name: string): string {
  const tables = [
    ...new Set(
      g.nodes.filter((n) => n.opType === 'Gather' && n.inputs[1] === name && g.initializers.has(n.inputs[0]!)).map((n) => n.inputs[0]!),
    ),
  ];
  if (tables.length) {
    return `It indexes the embedding table${tables.length > 1 ? 's' : ''} ${tables.map((t) => `'${t}'`).join(', ')}: differentiate with respect to ${tables.length > 1 ? 'them' : 'it'} instead (wrtInitializers / --wrt-initializer ${tables[0]}). `;
  }
  return 'Indices and ids are not differentiable; differentiate with respect to a float input or an initializer instead. ';
}

function checkWrtTypes(src: Graph, wrt: string[], types: Types): void {
  const floatInputs = src.inputs.filter((v) => isFloatType(v.dtype)).map((v) => v.name);
  for (const w of wrt.filter((n) => !isFloatType(types.get(n)!.dtype))) {
    throw new EngineError(
      'INVALID_ARGUMENT',
      `cannot differentiate with respect to '${w}': it has integer/non-float type ${DataType[types.get(w)!.dtype]}. ` +
        idsHint(src, w) +
        `Float inputs: ${listNames(floatInputs)}`,
    );
  }
}

/** The outputs to differentiate: `opts.outputs` (checked) or every float output. */
function differentiatedOutputs(src: Graph, opts: VjpOptions): string[] {
  const outputNames = src.outputs.map((o) => o.name);
  const diffOutputs = opts.outputs ?? src.outputs.filter((o) => isFloatType(o.dtype)).map((o) => o.name);
  for (const o of diffOutputs) {
    const info = src.outputs.find((v) => v.name === o);
    if (!info) throw new EngineError('INVALID_ARGUMENT', `output '${o}' is not a graph output. Outputs: ${listNames(outputNames)}`);
    if (!isFloatType(info.dtype))
      throw new EngineError('INVALID_ARGUMENT', `output '${o}' has non-float type ${DataType[info.dtype]} and cannot be differentiated`);
  }
  if (diffOutputs.length === 0)
    throw new EngineError(
      'INVALID_ARGUMENT',
      `the model has no floating-point output to differentiate. Outputs: ${listNames(outputNames)}`,
    );
  return diffOutputs;
}

// ---- the gradient path ----

interface GradientPath {
  /** Forward nodes on a wrt -> output path, in topological order. */
  nodes: Node[];
  /** Values reachable from wrt through differentiable ops (never constants for the rules). */
  active: ReadonlySet<string>;
  /** Whether a value lies on a wrt -> output path (and so carries a gradient). */
  onPath(v: string): boolean;
}

/**
 * The nodes between `wrt` and the differentiated outputs: forward reachability from wrt and
 * backward from the outputs, through differentiable ops and float values only.
 * @throws when a wrt does not reach the outputs, or a node on the path has no rule
 */
function gradientPath(src: Graph, wrt: string[], diffOutputs: string[], types: Types): GradientPath {
  const order = topoSort(src);
  const isFloat = (name: string): boolean => {
    const t = types.get(name);
    return t !== undefined && isFloatType(t.dtype);
  };
  const active = new Set<string>(wrt);
  for (const n of order) {
    if (isNonDifferentiable(n.opType, n.domain)) continue;
    // values captured by If/Loop/Scan bodies count as inputs, so such a node is never skipped silently
    if (!n.inputs.some((i) => i && active.has(i)) && !subgraphOuterInputs(n).some((i) => active.has(i))) continue;
    for (const o of n.outputs) if (o && isFloat(o)) active.add(o);
  }
  const useful = new Set<string>(diffOutputs);
  for (const n of [...order].reverse()) {
    if (isNonDifferentiable(n.opType, n.domain) || !n.outputs.some((o) => useful.has(o))) continue;
    for (const i of [...n.inputs, ...subgraphOuterInputs(n)]) if (i && isFloat(i)) useful.add(i);
  }
  const onPath = (v: string): boolean => v !== '' && active.has(v) && useful.has(v);
  for (const w of wrt.filter((v) => !useful.has(v))) {
    throw new EngineError(
      'INVALID_ARGUMENT',
      `'${w}' does not influence ${diffOutputs.length === 1 ? `output '${diffOutputs[0]}'` : `outputs ${diffOutputs.join(', ')}`} through differentiable ops ` +
        '(its gradient would be identically zero); check the name, or differentiate another output',
    );
  }
  const nodes = order.filter((n) => n.outputs.some(onPath) && (n.inputs.some(onPath) || subgraphOuterInputs(n).some((i) => active.has(i))));
  // Every rule must exist before anything is emitted: report the first missing one in graph order.
  for (const n of nodes) {
    if (!getRule(n.opType, n.domain)) throw new MissingGradRuleError(n.opType, n.name, isDefaultDomain(n.domain) ? '' : n.domain);
  }
  return { nodes, active, onPath };
}

// ---- cotangents ----

/** Cotangent inputs `<output>_cotangent` (or the constant 1) for the differentiated outputs; returns output -> input name. */
function seedCotangents(
  b: GraphBuilder,
  cotangents: Cotangents,
  types: Types,
  diffOutputs: string[],
  path: GradientPath,
  constant: string[],
): Record<string, string> {
  const inputs: Record<string, string> = {};
  for (const o of diffOutputs) {
    const { dtype } = types.get(o)!;
    const shape = shapeOf(types, o);
    if (constant.includes(o)) {
      const one = b.scalarConst(1, dtype);
      cotangents.contribute(o, shape.length === 0 ? b.identity(one) : b.expand(one, shape));
      continue;
    }
    const name = `${o}_cotangent`;
    if (types.has(name) || b.graph.nodes.some((n) => n.outputs.includes(name))) {
      throw new EngineError('INVALID_ARGUMENT', `cannot add cotangent input '${name}': the model already has a value with that name`);
    }
    b.addInput(name, dtype, [...shape]);
    types.set(name, { dtype, shape });
    inputs[o] = name;
    if (path.onPath(o)) cotangents.contribute(o, name);
  }
  return inputs;
}

// ---- the reverse sweep ----

interface SweepResult {
  differentiated: number;
  rulesUsed: Record<string, number>;
  families: Record<string, string[]>;
}

function count(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

/**
 * Visit the path in reverse topological order: each node gets the summed cotangents of its
 * outputs, and a fusion (several nodes at once) or its rule contributes its inputs' gradients.
 * Every emitted node's doc_string names the forward node(s) it differentiates.
 */
function reverseSweep(
  model: Model,
  out: Model,
  b: GraphBuilder,
  cotangents: Cotangents,
  types: Types,
  path: GradientPath,
  fuse: boolean,
): SweepResult {
  const result: SweepResult = { differentiated: 0, rulesUsed: {}, families: {} };
  const used = (node: Node): void => {
    result.differentiated++;
    count(result.rulesUsed, node.opType);
    const fam = ruleFamily(node.opType) ?? 'unknown';
    if (!(result.families[fam] ??= []).includes(node.opType)) result.families[fam]!.push(node.opType);
  };
  const env = fusionEnv(model.graph, path);
  const context = contextFactory(model, out, b, types, path);
  const handled = new Set<Node>();
  for (const node of [...path.nodes].reverse()) {
    if (handled.has(node)) continue;
    const gradOutputs = node.outputs.map((o) => (path.onPath(o) ? cotangents.total(o) : undefined));
    if (gradOutputs.every((g) => g === undefined)) continue;
    const ctx = context(node);
    const first = out.graph.nodes.length;
    const g0 = gradOutputs[0];
    const fused = fuse && g0 ? (attentionCore(ctx, env, g0) ?? siluPattern(ctx, env, g0) ?? geluPattern(ctx, env, g0)) : undefined;
    const grads = fused ? fused.grads : ruleGradients(ctx, gradOutputs, path);
    // provenance for debugging/profiling: which forward node(s) each gradient node belongs to
    const label = fused
      ? `${fused.label}: ${fused.handled.map((h) => `${h.opType} '${h.name}'`).join(' + ')}`
      : `${node.opType} '${node.name}'`;
    for (let j = first; j < out.graph.nodes.length; j++) out.graph.nodes[j]!.docString = `vjp of ${label}`;
    for (const h of fused?.handled ?? [node]) {
      handled.add(h);
      used(h);
    }
    for (const [v, g] of grads) cotangents.contribute(v, g);
  }
  return result;
}

/** The gradients a node's rule gives the inputs that need one, summed to each input's shape: [input, gradient] pairs. */
function ruleGradients(ctx: GradContext, gradOutputs: (string | undefined)[], path: GradientPath): [string, string][] {
  const grads = getRule(ctx.node.opType, ctx.node.domain)!(ctx, gradOutputs);
  const out: [string, string][] = [];
  ctx.node.inputs.forEach((input, i) => {
    const g = path.onPath(input) ? inputGradient(ctx, grads[i], i) : undefined;
    if (g !== undefined) out.push([input, g]);
  });
  return out;
}

/** The GradContext of each forward node for the graph being written. */
function contextFactory(model: Model, out: Model, b: GraphBuilder, types: Types, path: GradientPath): (node: Node) => GradContext {
  const constValue = constantReader(model, path.active);
  // forward node -> its copy in the output graph (the clone keeps the order)
  const copyOf = new Map<Node, Node>(model.graph.nodes.map((n, i) => [n, out.graph.nodes[i]!]));
  return (node) => ({
    b,
    node,
    opset: b.opset,
    shapeOf: (n) => shapeOf(types, n),
    dtypeOf: (n) => dtypeOf(types, n),
    constValue,
    needsGrad: (i) => path.onPath(node.inputs[i] ?? ''),
    forwardOutput: (i, shape, dtype) => forwardOutput(b, types, node, copyOf.get(node), i, shape, dtype),
  });
}

/** Producers and use counts of the forward values, for the fusions' pattern matching. */
function fusionEnv(src: Graph, path: GradientPath): FusionEnv {
  const producer = new Map<string, Node>();
  const uses = new Map<string, number>();
  for (const n of src.nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of new Set(n.inputs)) uses.set(i, (uses.get(i) ?? 0) + 1);
  }
  for (const o of src.outputs) uses.set(o.name, (uses.get(o.name) ?? 0) + 1);
  return { producer: (v) => producer.get(v), uses: (v) => uses.get(v) ?? 0, onPath: path.onPath };
}

/** GradContext.forwardOutput: the name of optional output `i` of `node`, added to its copy when absent. */
function forwardOutput(
  b: GraphBuilder,
  types: Types,
  node: Node,
  copy: Node | undefined,
  i: number,
  shape: number[],
  dtype: DataType,
): string | undefined {
  if (node.outputs[i]) return node.outputs[i];
  if (!copy) return undefined;
  if (copy.outputs[i]) return copy.outputs[i];
  const name = b.uniqueName(`${node.name}_out${i}`);
  while (copy.outputs.length < i) copy.outputs.push('');
  copy.outputs[i] = name;
  types.set(name, { dtype, shape: [...shape] });
  b.graph.valueInfo.set(name, { name, dtype, shape: [...shape] });
  return name;
}

// ---- outputs and report ----

/** Expose the total gradient of every wrt name as output `<name>_grad`; returns wrt -> output name. */
function exposeGradients(b: GraphBuilder, cotangents: Cotangents, types: Types, wrt: string[]): Record<string, string> {
  const gradOutputs: Record<string, string> = {};
  const used = new Set([...b.graph.inputs.map((v) => v.name), ...b.graph.outputs.map((v) => v.name)]);
  for (const w of wrt) {
    const g = cotangents.total(w);
    if (g === undefined) {
      throw new EngineError(
        'NUMERIC',
        `no gradient reached '${w}' (every rule on its path reported a zero derivative); refusing to emit a silent zero gradient`,
      );
    }
    const name = `${w}_grad`;
    if (used.has(name) || types.has(name))
      throw new EngineError('INVALID_ARGUMENT', `cannot add gradient output '${name}': the model already has a value with that name`);
    b.identity(g, name);
    b.addOutput(name, types.get(w)!.dtype, [...shapeOf(types, w)]);
    gradOutputs[w] = name;
  }
  return gradOutputs;
}

function report(src: Graph, graph: Graph, nodesBefore: number, sweep: SweepResult): Omit<VjpReport, 'differentiatedOutputs' | 'wrt'> {
  const forwardOps: Record<string, number> = {};
  for (const n of src.nodes) count(forwardOps, n.opType);
  const emittedOps: Record<string, number> = {};
  for (const n of graph.nodes.slice(nodesBefore)) count(emittedOps, n.opType);
  return {
    nodesBefore,
    nodesAfter: graph.nodes.length,
    differentiatedNodes: sweep.differentiated,
    rulesUsed: sweep.rulesUsed,
    families: sweep.families,
    emittedOps,
    forwardOps,
  };
}
