/** Graph topology: producers, consumers and a stable topological order of nodes. */
import { EngineError } from '../errors.js';
import type { Graph, Node } from './ir.js';

/** The node producing each value name (graph inputs and initializers have none). */
export function producers(graph: Graph): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o !== '') m.set(o, n);
  return m;
}

/** The nodes reading each value name, in graph order (a node reading a value twice appears once). */
export function consumers(graph: Graph): Map<string, Node[]> {
  const m = new Map<string, Node[]>();
  for (const n of graph.nodes) {
    const seen = new Set<string>();
    for (const i of [...n.inputs, ...subgraphOuterInputs(n)]) {
      if (i === '' || seen.has(i)) continue;
      seen.add(i);
      let list = m.get(i);
      if (!list) m.set(i, (list = []));
      list.push(n);
    }
  }
  return m;
}

/**
 * Values a node's subgraphs (If/Loop/Scan bodies) read from the enclosing scope: they are
 * implicit inputs of the node for ordering and liveness.
 */
export function subgraphOuterInputs(node: Node): string[] {
  const out: string[] = [];
  for (const a of Object.values(node.attrs)) {
    const graphs = a.kind === 'graph' ? [a.value] : a.kind === 'graphs' ? a.value : [];
    for (const g of graphs) out.push(...outerReferences(g));
  }
  return out;
}

function outerReferences(g: Graph): string[] {
  const local = new Set<string>([...g.inputs.map((v) => v.name), ...g.initializers.keys()]);
  for (const n of g.nodes) for (const o of n.outputs) local.add(o);
  const refs = new Set<string>();
  for (const n of g.nodes) {
    for (const i of [...n.inputs, ...subgraphOuterInputs(n)]) if (i !== '' && !local.has(i)) refs.add(i);
  }
  for (const o of g.outputs) if (!local.has(o.name)) refs.add(o.name);
  return [...refs];
}

/**
 * Nodes in an order where every node comes after the producers of its inputs. Stable: among
 * the nodes that are ready, the one earliest in `graph.nodes` goes first, so an already sorted
 * graph keeps its order.
 * @throws EngineError('INVALID_MODEL') naming a node input that nothing produces, or the nodes of a cycle
 */
export function topoSort(graph: Graph): Node[] {
  const nodes = graph.nodes;
  const available = new Set<string>(['', ...graph.inputs.map((v) => v.name), ...graph.initializers.keys()]);
  const producerIndex = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => o !== '' && producerIndex.set(o, i)));

  const deps: number[][] = nodes.map(() => []);
  const pending = new Int32Array(nodes.length);
  nodes.forEach((n, i) => {
    const seen = new Set<number>();
    for (const input of [...n.inputs, ...subgraphOuterInputs(n)]) {
      if (available.has(input)) continue;
      const p = producerIndex.get(input);
      if (p === undefined) {
        throw new EngineError(
          'INVALID_MODEL',
          `input '${input}' of ${n.opType} node '${n.name}' is not a graph input, initializer or output of any node`,
        );
      }
      if (seen.has(p)) continue;
      seen.add(p);
      deps[p]!.push(i);
      pending[i]!++;
    }
  });

  // Min-heap on the original index keeps the order stable.
  const heap: number[] = [];
  const push = (v: number) => {
    heap.push(v);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heap[p]! <= heap[i]!) break;
      [heap[p], heap[i]] = [heap[i]!, heap[p]!];
      i = p;
    }
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && heap[l]! < heap[m]!) m = l;
        if (r < heap.length && heap[r]! < heap[m]!) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i]!, heap[m]!];
        i = m;
      }
    }
    return top;
  };

  for (let i = 0; i < nodes.length; i++) if (pending[i] === 0) push(i);
  const order: Node[] = [];
  while (heap.length > 0) {
    const i = pop();
    order.push(nodes[i]!);
    for (const j of deps[i]!) if (--pending[j]! === 0) push(j);
  }
  if (order.length < nodes.length) {
    throw new EngineError('INVALID_MODEL', `the graph has a cycle through nodes ${describeCycle(nodes, pending, producerIndex)}`);
  }
  return order;
}

function describeCycle(nodes: Node[], pending: Int32Array, producerIndex: Map<string, number>): string {
  // Walk backwards from a stuck node through stuck producers until a node repeats.
  let cur = pending.findIndex((p) => p > 0);
  const seenAt = new Map<number, number>();
  const path: number[] = [];
  while (!seenAt.has(cur)) {
    seenAt.set(cur, path.length);
    path.push(cur);
    const n = nodes[cur]!;
    let next = -1;
    for (const input of [...n.inputs, ...subgraphOuterInputs(n)]) {
      const p = producerIndex.get(input);
      if (p !== undefined && pending[p]! > 0) {
        next = p;
        break;
      }
    }
    if (next < 0) break;
    cur = next;
  }
  const cycle = seenAt.has(cur) ? path.slice(seenAt.get(cur)!) : path;
  return cycle
    .reverse()
    .map((i) => `'${nodes[i]!.name || nodes[i]!.outputs[0]}' (${nodes[i]!.opType})`)
    .join(' -> ');
}
