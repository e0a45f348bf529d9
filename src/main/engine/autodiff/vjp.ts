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
 */
import { GraphBuilder } from '../onnx/builder.js';
import { DataType, isFloatType, viewRaw, type NumericArray } from '../onnx/dtype.js';
import { defaultOpset, isDefaultDomain, type Graph, type Model, type Node, type Tensor, type ValueInfo } from '../onnx/ir.js';
import { tensorValues } from '../onnx/model-io.js';
import { subgraphOuterInputs, topoSort } from '../onnx/topo.js';
import { inferShapes } from '../onnx/shape-inference.js';
import { EngineError } from '../errors.js';
import { MissingGradRuleError, type GradContext } from './rule.js';
import { getRule, isNonDifferentiable, ruleFamily } from './registry.js';
import { addAll, scalarConst, expandTo } from './broadcast.js';
import { attentionCore, geluPattern, siluPattern, type FusionEnv } from './fusions.js';
import { chainGemms, GradGraphIndex } from './accumulate.js';

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

interface ValueType {
  dtype: DataType;
  shape: number[] | undefined;
}

/** Shapes/dtypes of every value the graph declares (inputs, outputs, value_info, initializers, Constants). */
function collectTypes(g: Graph): Map<string, ValueType> {
  const types = new Map<string, ValueType>();
  const put = (v: ValueInfo): void => {
    const shape = v.shape && v.shape.every((d) => typeof d === 'number' && d >= 0) ? (v.shape as number[]) : undefined;
    const prev = types.get(v.name);
    if (!prev || (!prev.shape && shape)) types.set(v.name, { dtype: v.dtype, shape });
  };
  for (const [name, t] of g.initializers) types.set(name, { dtype: t.dtype, shape: [...t.dims] });
  for (const v of g.inputs) put(v);
  for (const v of g.valueInfo.values()) put(v);
  for (const v of g.outputs) put(v);
  for (const n of g.nodes) {
    if (n.opType === 'Constant' && isDefaultDomain(n.domain) && n.attrs['value']?.kind === 'tensor') {
      const t = n.attrs['value'].value;
      types.set(n.outputs[0]!, { dtype: t.dtype, shape: [...t.dims] });
    }
  }
  return types;
}

/** Constant-valued tensors: initializers and Constant nodes (value / value_float(s) / value_int(s)). */
function collectConstants(g: Graph): Map<string, Tensor | NumericArray> {
  const consts = new Map<string, Tensor | NumericArray>();
  for (const [name, t] of g.initializers) consts.set(name, t);
  for (const n of g.nodes) {
    if (n.opType !== 'Constant' || !isDefaultDomain(n.domain)) continue;
    const a = Object.entries(n.attrs)[0];
    if (!a) continue;
    const [k, v] = a;
    if (v.kind === 'tensor') consts.set(n.outputs[0]!, v.value);
    else if (k === 'value_float' && v.kind === 'float') consts.set(n.outputs[0]!, Float32Array.of(v.value));
    else if (k === 'value_floats' && v.kind === 'floats') consts.set(n.outputs[0]!, Float32Array.from(v.value));
    else if (k === 'value_int' && v.kind === 'int') consts.set(n.outputs[0]!, BigInt64Array.of(BigInt(v.value)));
    else if (k === 'value_ints' && v.kind === 'ints')
      consts.set(
        n.outputs[0]!,
        BigInt64Array.from(v.value, (x) => BigInt(x)),
      );
  }
  return consts;
}

function cloneGraph(g: Graph): Graph {
  return {
    ...g,
    inputs: g.inputs.map((v) => ({ ...v, ...(v.shape ? { shape: [...v.shape] } : {}) })),
    outputs: g.outputs.map((v) => ({ ...v, ...(v.shape ? { shape: [...v.shape] } : {}) })),
    initializers: new Map(g.initializers),
    nodes: g.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: { ...n.attrs } })),
    valueInfo: new Map(g.valueInfo),
  };
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

function listNames(names: string[], max = 30): string {
  if (names.length === 0) return '(none)';
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown}, … (${names.length - max} more)` : shown;
}

function count(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
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
  const opset = defaultOpset(model);
  const wrtInputs = opts.wrt ?? [];
  const wrtInits = opts.wrtInitializers ?? [];
  const wrtAll = [...new Set([...wrtInputs, ...wrtInits])];
  if (wrtAll.length === 0)
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
  const floatInputs = src.inputs.filter((v) => isFloatType(v.dtype)).map((v) => v.name);
  for (const w of wrtInputs) {
    if (!inputNames.has(w)) {
      const hint = src.initializers.has(w) ? ` ('${w}' is an initializer: use wrtInitializers / --wrt-initializer)` : '';
      throw new EngineError(
        'INVALID_ARGUMENT',
        `wrt input '${w}' is not a graph input${hint}. Available inputs: ${listNames(src.inputs.map((v) => `${v.name} (${DataType[v.dtype]})`))}`,
      );
    }
  }
  for (const w of wrtInits) {
    if (!src.initializers.has(w)) {
      const all = [...src.initializers.keys()];
      const similar = all.filter((n) => n.toLowerCase().includes(w.toLowerCase().split(/[./]/).pop() ?? ''));
      throw new EngineError(
        'INVALID_ARGUMENT',
        `wrt initializer '${w}' not found${inputNames.has(w) ? ` ('${w}' is a graph input: use wrt / --wrt)` : ''}. ` +
          `Initializers${similar.length ? ' with a similar name' : ''}: ${listNames(similar.length ? similar : all)}`,
      );
    }
  }

  // Shapes of intermediates: from value_info; infer them (on our copy) when the file lacks some.
  const graph = cloneGraph(src);
  let types = collectTypes(graph);
  if (src.nodes.some((n) => n.outputs.some((o) => o && !types.get(o)?.shape))) {
    inferShapes({ ...model, graph }, { unknownOps: 'keep' });
    types = collectTypes(graph);
  }
  for (const w of wrtAll) {
    const t = types.get(w)!;
    if (!isFloatType(t.dtype)) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `cannot differentiate with respect to '${w}': it has integer/non-float type ${DataType[t.dtype]}. ` +
          idsHint(src, w) +
          `Float inputs: ${listNames(floatInputs)}`,
      );
    }
  }

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

  const order = topoSort(src);
  const isFloat = (name: string): boolean => {
    const t = types.get(name);
    return t !== undefined && isFloatType(t.dtype);
  };

  // Forward reachability from wrt through differentiable ops, float values only.
  const active = new Set<string>(wrtAll);
  for (const n of order) {
    if (isNonDifferentiable(n.opType, n.domain)) continue;
    // values captured by If/Loop/Scan bodies count as inputs, so such a node is never skipped silently
    if (!n.inputs.some((i) => i && active.has(i)) && !subgraphOuterInputs(n).some((i) => active.has(i))) continue;
    for (const o of n.outputs) if (o && isFloat(o)) active.add(o);
  }
  // Backward reachability from the differentiated outputs, same restrictions.
  const useful = new Set<string>(diffOutputs);
  for (let k = order.length - 1; k >= 0; k--) {
    const n = order[k]!;
    if (isNonDifferentiable(n.opType, n.domain)) continue;
    if (!n.outputs.some((o) => useful.has(o))) continue;
    for (const i of [...n.inputs, ...subgraphOuterInputs(n)]) if (i && isFloat(i)) useful.add(i);
  }
  const onPath = (v: string): boolean => v !== '' && active.has(v) && useful.has(v);
  for (const w of wrtAll) {
    if (!useful.has(w)) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `'${w}' does not influence ${diffOutputs.length === 1 ? `output '${diffOutputs[0]}'` : `outputs ${diffOutputs.join(', ')}`} through differentiable ops ` +
          '(its gradient would be identically zero); check the name, or differentiate another output',
      );
    }
  }
  const pathNodes = order.filter(
    (n) => n.outputs.some(onPath) && (n.inputs.some(onPath) || subgraphOuterInputs(n).some((i) => active.has(i))),
  );

  // Every rule must exist before anything is emitted: report the first missing one in graph order.
  for (const n of pathNodes) {
    if (!getRule(n.opType, n.domain)) throw new MissingGradRuleError(n.opType, n.name, isDefaultDomain(n.domain) ? '' : n.domain);
  }

  const out: Model = { ...model, opsetImports: model.opsetImports.map((o) => ({ ...o })), metadata: { ...model.metadata }, graph };
  const b = new GraphBuilder(graph, opset, 'vjp/');
  const nodesBefore = graph.nodes.length;
  // producers / consumers of the values written so far, for chaining Gemm contributions
  const gradIndex = new GradGraphIndex(graph, nodesBefore);

  const shapeOf = (name: string): number[] => {
    const t = types.get(name);
    if (!t)
      throw new EngineError(
        'INVALID_ARGUMENT',
        `value '${name}' has no recorded type; run specialise(model, shapes) (shape inference) before buildVjp`,
      );
    if (!t.shape)
      throw new EngineError('INVALID_ARGUMENT', `value '${name}' has no static shape; run specialise(model, shapes) before buildVjp`);
    return t.shape;
  };
  const dtypeOf = (name: string): DataType => {
    const t = types.get(name);
    if (!t)
      throw new EngineError('INVALID_ARGUMENT', `value '${name}' has no recorded type; run specialise(model, shapes) before buildVjp`);
    return t.dtype;
  };
  const consts = collectConstants(src);
  const constCache = new Map<string, NumericArray>();
  const constValue = (name: string): NumericArray | undefined => {
    if (!name || active.has(name)) return undefined;
    const hit = constCache.get(name);
    if (hit) return hit;
    const c = consts.get(name);
    if (!c) return undefined;
    let v: NumericArray;
    if (ArrayBuffer.isView(c)) v = c as NumericArray;
    else {
      const t = c as Tensor;
      if (t.raw) v = viewRaw(t.dtype, t.raw);
      else if (t.external) v = tensorValues(t, model.baseDir);
      else return undefined;
    }
    constCache.set(name, v);
    return v;
  };

  // Every value's gradient has that value's shape and dtype: record them so rules may ask.
  const recordGrad = (grad: string, of: string): void => {
    if (!types.has(grad)) types.set(grad, types.get(of)!);
  };

  const contributions = new Map<string, string[]>();
  // how often each gradient name was contributed (rules may hand one name to several inputs)
  const contributed = new Map<string, number>();
  const contribute = (v: string, g: string): void => {
    recordGrad(g, v);
    contributed.set(g, (contributed.get(g) ?? 0) + 1);
    const list = contributions.get(v);
    if (list) list.push(g);
    else contributions.set(v, [g]);
  };
  /** The total gradient of `v` (summing contributions once), or undefined. */
  const total = (v: string): string | undefined => {
    const list = contributions.get(v);
    if (!list || list.length === 0) return undefined;
    if (list.length > 1) {
      const chained = chainGemms(
        gradIndex,
        list,
        (n) => types.get(n)?.shape,
        (n) => contributed.get(n) === 1,
      );
      const sum = addAll({ b }, chained);
      recordGrad(sum, v);
      contributions.set(v, [sum]);
      return sum;
    }
    return list[0];
  };

  const constant = new Set(opts.constantCotangents ?? []);
  const cotangentInputs: Record<string, string> = {};
  for (const o of diffOutputs) {
    const t = types.get(o)!;
    const shape = shapeOf(o);
    if (constant.has(o)) {
      const one = scalarConst({ b }, 1, t.dtype);
      const seed = expandTo({ b }, one, [], shape);
      contribute(o, seed === one ? b.op('Identity', [one]) : seed);
      continue;
    }
    const name = `${o}_cotangent`;
    if (types.has(name) || graph.nodes.some((n) => n.outputs.includes(name))) {
      throw new EngineError('INVALID_ARGUMENT', `cannot add cotangent input '${name}': the model already has a value with that name`);
    }
    b.addInput(name, t.dtype, [...shape]);
    types.set(name, { dtype: t.dtype, shape });
    cotangentInputs[o] = name;
    if (onPath(o)) contribute(o, name);
  }

  const rulesUsed: Record<string, number> = {};
  const families: Record<string, string[]> = {};
  let differentiated = 0;
  const producer = new Map<string, Node>();
  const uses = new Map<string, number>();
  for (const n of src.nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of new Set(n.inputs)) uses.set(i, (uses.get(i) ?? 0) + 1);
  }
  for (const o of src.outputs) uses.set(o.name, (uses.get(o.name) ?? 0) + 1);
  const env: FusionEnv = { producer: (v) => producer.get(v), uses: (v) => uses.get(v) ?? 0, onPath };
  const handled = new Set<Node>();
  // forward node -> its copy in the output graph (cloneGraph keeps the order)
  const cloneOf = new Map<Node, Node>(src.nodes.map((n, i) => [n, graph.nodes[i]!]));
  const markUsed = (node: Node): void => {
    differentiated++;
    count(rulesUsed, node.opType);
    const fam = ruleFamily(node.opType) ?? 'unknown';
    if (!(families[fam] ??= []).includes(node.opType)) families[fam]!.push(node.opType);
  };
  for (let k = pathNodes.length - 1; k >= 0; k--) {
    const node = pathNodes[k]!;
    if (handled.has(node)) continue;
    const gradOutputs = node.outputs.map((o) => (onPath(o) ? total(o) : undefined));
    if (gradOutputs.every((g) => g === undefined)) continue;
    const needs = node.inputs.map((i) => onPath(i));
    const ctx: GradContext = {
      b,
      node,
      opset,
      shapeOf,
      dtypeOf,
      constValue,
      needsGrad: (i) => needs[i] === true,
      forwardOutput: (i, shape, dtype) => {
        const existing = node.outputs[i];
        if (existing) return existing;
        const copy = cloneOf.get(node);
        if (!copy) return undefined;
        if (copy.outputs[i]) return copy.outputs[i];
        const name = b.uniqueName(`${node.name}_out${i}`);
        while (copy.outputs.length < i) copy.outputs.push('');
        copy.outputs[i] = name;
        types.set(name, { dtype, shape: [...shape] });
        graph.valueInfo.set(name, { name, dtype, shape: [...shape] });
        return name;
      },
    };
    const first = graph.nodes.length;
    if (opts.fuse !== false && gradOutputs[0]) {
      const fused =
        attentionCore(ctx, env, gradOutputs[0]) ?? siluPattern(ctx, env, gradOutputs[0]) ?? geluPattern(ctx, env, gradOutputs[0]);
      if (fused) {
        const what = fused.handled.map((h) => `${h.opType} '${h.name}'`).join(' + ');
        for (let j = first; j < graph.nodes.length; j++) graph.nodes[j]!.docString = `vjp of ${fused.label}: ${what}`;
        for (const h of fused.handled) {
          handled.add(h);
          markUsed(h);
        }
        for (const [v, g] of fused.grads) contribute(v, g);
        continue;
      }
    }
    const rule = getRule(node.opType, node.domain)!;
    const grads = rule(ctx, gradOutputs);
    // provenance for debugging/profiling: which forward node each gradient node belongs to
    for (let j = first; j < graph.nodes.length; j++) graph.nodes[j]!.docString = `vjp of ${node.opType} '${node.name}'`;
    markUsed(node);
    node.inputs.forEach((input, i) => {
      const g = grads[i];
      if (g !== undefined && needs[i]) contribute(input, g);
    });
  }

  const gradOutputs: Record<string, string> = {};
  const used = new Set([...graph.inputs.map((v) => v.name), ...graph.outputs.map((v) => v.name)]);
  for (const w of wrtAll) {
    const g = total(w);
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
    const t = types.get(w)!;
    b.addOutput(name, t.dtype, [...shapeOf(w)]);
    gradOutputs[w] = name;
  }

  // Record the shapes of the emitted gradient values (useful to later passes and for debugging).
  for (const [v, list] of contributions) {
    const t = types.get(v);
    if (!t?.shape) continue;
    for (const g of list)
      if (!graph.valueInfo.has(g) && !used.has(g) && !inputNames.has(g))
        graph.valueInfo.set(g, { name: g, dtype: t.dtype, shape: [...t.shape] });
  }

  const forwardOps: Record<string, number> = {};
  for (const n of src.nodes) count(forwardOps, n.opType);
  const emittedOps: Record<string, number> = {};
  for (const n of graph.nodes.slice(nodesBefore)) count(emittedOps, n.opType);

  return {
    model: out,
    cotangentInputs,
    gradOutputs,
    report: {
      nodesBefore,
      nodesAfter: graph.nodes.length,
      differentiatedNodes: differentiated,
      rulesUsed,
      families,
      emittedOps,
      forwardOps,
      differentiatedOutputs: diffOutputs,
      wrt: wrtAll,
    },
  };
}
