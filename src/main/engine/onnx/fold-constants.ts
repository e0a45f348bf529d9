/**
 * Constant folding: nodes whose inputs are all constants are evaluated in JS (const-eval.ts)
 * and replaced by initializers; Constant nodes become initializers; Shape/Size of values whose
 * static shape is recorded in `graph.valueInfo` fold too (run inferShapes first). Dead nodes
 * and unused initializers are then removed. This is what collapses the exporters'
 * Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains once the dims are fixed.
 */
import { DataType } from './dtype.js';
import { isDefaultDomain, defaultOpset, type Graph, type Model, type Node, type Tensor } from './ir.js';
import { EVALUABLE_OPS, constToTensor, constantNodeTensor, evalNode, isIntType, tensorToConst, type ConstTensor } from './const-eval.js';
import { numel } from './dims.js';
import { subgraphOuterInputs, topoSort } from './topo.js';

export interface FoldOptions {
  /** Largest tensor (elements) a folded node may read or produce (default 1M). */
  maxElements?: number;
  /** Largest float result folded (default 1024 elements): folding big float math gains nothing. */
  maxFloatElements?: number;
  /**
   * Initializers treated as variables, never folded into other values (e.g. a weight a
   * gradient is requested for).
   */
  keep?: Iterable<string>;
}

export interface FoldResult {
  /** Nodes replaced by constants (Constant nodes included). */
  folded: number;
  /** Nodes removed because nothing used their outputs. */
  removedNodes: number;
  /** Initializers removed because nothing used them. */
  removedInitializers: number;
}

const STRUCTURAL = new Set([
  'Identity',
  'Shape',
  'Size',
  'Gather',
  'Unsqueeze',
  'Squeeze',
  'Concat',
  'Reshape',
  'Flatten',
  'Slice',
  'Expand',
  'Tile',
  'Transpose',
  'Split',
  'ConstantOfShape',
  'Range',
  'Cast',
  'CastLike',
  'Where',
]);

/**
 * Fold constant subgraphs of `model.graph` in place.
 * Nodes producing graph outputs are kept, so the model's interface never changes.
 */
export function foldConstants(model: Model, opts: FoldOptions = {}): FoldResult {
  const graph = model.graph;
  const opset = defaultOpset(model);
  const maxElements = opts.maxElements ?? 1 << 20;
  const maxFloat = opts.maxFloatElements ?? 1024;
  const keep = new Set(opts.keep ?? []);
  const inputNames = new Set(graph.inputs.map((v) => v.name));
  const outputNames = new Set(graph.outputs.map((v) => v.name));

  const constTensors = new Map<string, Tensor>();
  for (const [name, t] of graph.initializers) if (!inputNames.has(name) && !keep.has(name)) constTensors.set(name, t);
  const cache = new Map<string, ConstTensor | null>();
  const valueOf = (name: string): ConstTensor | undefined => {
    if (cache.has(name)) return cache.get(name) ?? undefined;
    const t = constTensors.get(name);
    const v = t ? tensorToConst(t, model.baseDir, maxElements) : undefined;
    cache.set(name, v ?? null);
    return v;
  };
  const staticShape = (name: string): number[] | undefined => {
    const s = graph.valueInfo.get(name)?.shape ?? graph.inputs.find((v) => v.name === name)?.shape ?? constTensors.get(name)?.dims;
    return s && s.every((d) => typeof d === 'number') ? (s as number[]) : undefined;
  };

  let folded = 0;
  const kept: Node[] = [];
  for (const node of topoSort(graph)) {
    const replaced = isDefaultDomain(node.domain) && !node.outputs.some((o) => outputNames.has(o)) ? tryFold(node) : undefined;
    if (!replaced) {
      kept.push(node);
      continue;
    }
    folded++;
    for (const t of replaced) {
      graph.initializers.set(t.name, t);
      constTensors.set(t.name, t);
    }
  }
  graph.nodes = kept;
  const { removedNodes, removedInitializers } = removeDead(graph);
  return { folded, removedNodes, removedInitializers };

  function tryFold(node: Node): Tensor[] | undefined {
    if (node.opType === 'Constant') {
      const t = constantNodeTensor(node, node.outputs[0]!);
      if (!t || node.outputs.length !== 1) return undefined;
      if (keep.has(node.outputs[0]!)) return undefined;
      return [t];
    }
    if (!EVALUABLE_OPS.has(node.opType)) return undefined;
    if (node.outputs.some((o) => keep.has(o))) return undefined;
    if (subgraphOuterInputs(node).length > 0) return undefined;
    let inputShapes: number[][] | undefined;
    const shapeOnly = node.opType === 'Shape' || node.opType === 'Size';
    if (shapeOnly) {
      const s = staticShape(node.inputs[0]!);
      if (s) inputShapes = [s];
    }
    const vals: (ConstTensor | undefined)[] = [];
    for (const name of node.inputs) {
      if (name === '') {
        vals.push(undefined);
        continue;
      }
      const v = inputShapes ? undefined : valueOf(name);
      if (!v && !inputShapes) return undefined;
      vals.push(v);
    }
    const res = evalNode(node, vals, {
      opset,
      ...(model.baseDir ? { baseDir: model.baseDir } : {}),
      maxElements,
      ...(inputShapes ? { inputShapes } : {}),
    });
    if (!res || res.length !== node.outputs.length) return undefined;
    for (const r of res) {
      const isFloat = !(isIntType(r.dtype) || r.dtype === DataType.BOOL);
      if (isFloat && !STRUCTURAL.has(node.opType) && numel(r.dims) > maxFloat) return undefined;
    }
    return res.map((r, i) => {
      const name = node.outputs[i]!;
      cache.set(name, r);
      return constToTensor(name, r);
    });
  }
}

/** Remove nodes none of whose outputs reach a graph output, and initializers nothing reads. Keeps node order. */
export function removeDead(graph: Graph): { removedNodes: number; removedInitializers: number } {
  const live = new Set<string>(graph.outputs.map((v) => v.name));
  const alive = new Set<Node>();
  const ordered = topoSort(graph);
  for (let i = ordered.length - 1; i >= 0; i--) {
    const n = ordered[i]!;
    if (!n.outputs.some((o) => o !== '' && live.has(o))) continue;
    alive.add(n);
    for (const input of n.inputs) if (input !== '') live.add(input);
    for (const input of subgraphOuterInputs(n)) live.add(input);
  }
  const removedValues = new Set<string>();
  for (const n of graph.nodes) if (!alive.has(n)) for (const o of n.outputs) removedValues.add(o);
  const removedNodes = graph.nodes.length - alive.size;
  graph.nodes = graph.nodes.filter((n) => alive.has(n));
  const inputNames = new Set(graph.inputs.map((v) => v.name));
  let removedInitializers = 0;
  for (const name of [...graph.initializers.keys()]) {
    if (!live.has(name) && !inputNames.has(name)) {
      graph.initializers.delete(name);
      removedValues.add(name);
      removedInitializers++;
    }
  }
  for (const v of removedValues) if (!graph.initializers.has(v)) graph.valueInfo.delete(v);
  return { removedNodes, removedInitializers };
}
