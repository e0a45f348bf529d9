/**
 * The lineage tree's geometry (the Evolve view): one row per generation in session order, each
 * row its members left to right; an edge from each parent to each child born in that row (the
 * parent's node in the generation it was bred from, else the latest earlier row that holds it, or
 * the same row for a re-inversion of a row mate), and a dashed `carried` edge for every member
 * born earlier (an elite carried over, a branch's members) from its node in the parent
 * generation's row. Plain geometry, no DOM: the component draws it.
 */
import type { EvolutionGeneration, EvolutionIndividual, EvolutionSessionView } from '../../../shared/ipc/evolution.js';

export interface LineageNode {
  /** `<generation>/<individual>`: an individual appears once per generation that holds it. */
  key: string;
  id: string;
  row: number;
  col: number;
  /** Top-left corner, pixels. */
  x: number;
  y: number;
  /** Born in an earlier generation (carried over, or a branch's copy). */
  carried: boolean;
  individual: EvolutionIndividual;
}

export interface LineageEdge {
  from: string;
  to: string;
  kind: 'parent' | 'carried';
  /** From the bottom centre of the parent's node to the top centre of the child's (same row: side to side). */
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface LineageRow {
  generation: EvolutionGeneration;
  y: number;
  head: boolean;
}

export interface LineageLayout {
  rows: LineageRow[];
  nodes: LineageNode[];
  edges: LineageEdge[];
  width: number;
  height: number;
  /** Node side, pixels. */
  size: number;
}

export interface LayoutOptions {
  size?: number;
  gapX?: number;
  gapY?: number;
  /** Room for the row labels. */
  left?: number;
  top?: number;
}

export function layoutLineage(session: EvolutionSessionView, o: LayoutOptions = {}): LineageLayout {
  const size = o.size ?? 56;
  const gapX = o.gapX ?? 10;
  const gapY = o.gapY ?? 40;
  const left = o.left ?? 96;
  const top = o.top ?? 8;
  const byId = new Map(session.individuals.map((i) => [i.id, i]));
  const rowOf = new Map(session.generations.map((g, r) => [g.id, r]));
  const nodes: LineageNode[] = [];
  const nodeAt = new Map<string, LineageNode>();
  const rows: LineageRow[] = session.generations.map((g, r) => {
    const y = top + r * (size + gapY);
    g.members.forEach((id, col) => {
      const individual = byId.get(id);
      if (!individual) return;
      const node: LineageNode = {
        key: `${g.id}/${id}`,
        id,
        row: r,
        col,
        x: left + col * (size + gapX),
        y,
        carried: individual.generation !== g.id,
        individual,
      };
      nodes.push(node);
      nodeAt.set(node.key, node);
    });
    return { generation: g, y, head: g.id === session.head };
  });
  /** The node of `id` in row `preferred`, else in the latest row before `before` that holds it. */
  const find = (id: string, preferred: number | undefined, before: number): LineageNode | undefined => {
    if (preferred !== undefined) {
      const n = nodeAt.get(`${session.generations[preferred]!.id}/${id}`);
      if (n) return n;
    }
    for (let r = before - 1; r >= 0; r--) {
      const n = nodeAt.get(`${session.generations[r]!.id}/${id}`);
      if (n) return n;
    }
    return undefined;
  };
  const edges: LineageEdge[] = [];
  const link = (a: LineageNode, b: LineageNode, kind: LineageEdge['kind']) => {
    const same = a.row === b.row;
    edges.push({
      from: a.key,
      to: b.key,
      kind,
      x1: a.x + size / 2,
      y1: a.y + size,
      x2: b.x + size / 2,
      y2: same ? b.y + size : b.y,
    });
  };
  for (const n of nodes) {
    const g = session.generations[n.row]!;
    const parentRow = g.parent !== undefined ? rowOf.get(g.parent) : undefined;
    if (n.carried) {
      const from = find(n.id, parentRow, n.row);
      if (from) link(from, n, 'carried');
      continue;
    }
    for (const p of n.individual.parents) {
      // A re-inversion's parent is a mate in the same generation; so are the fill-up mutations of the start.
      const m = nodeAt.get(`${g.id}/${p}`);
      const mate = m && m !== n ? m : undefined;
      const from = n.individual.operator === 'reinvert' ? (mate ?? find(p, parentRow, n.row)) : (find(p, parentRow, n.row) ?? mate);
      if (from) link(from, n, 'parent');
    }
  }
  const widest = Math.max(1, ...session.generations.map((g) => g.members.length));
  return {
    rows,
    nodes,
    edges,
    width: left + widest * (size + gapX),
    height: top + session.generations.length * (size + gapY),
    size,
  };
}

/** `id` and every individual it descends from. */
export function ancestry(session: EvolutionSessionView, id: string | undefined): Set<string> {
  const out = new Set<string>();
  if (!id) return out;
  const byId = new Map(session.individuals.map((i) => [i.id, i]));
  const stack = [id];
  while (stack.length) {
    const x = stack.pop()!;
    if (out.has(x)) continue;
    out.add(x);
    for (const p of byId.get(x)?.parents ?? []) stack.push(p);
  }
  return out;
}

/** `id` and every individual descending from it. */
export function descendants(session: EvolutionSessionView, id: string | undefined): Set<string> {
  const out = new Set<string>();
  if (!id) return out;
  const children = new Map<string, string[]>();
  for (const i of session.individuals) for (const p of i.parents) children.set(p, [...(children.get(p) ?? []), i.id]);
  const stack = [id];
  while (stack.length) {
    const x = stack.pop()!;
    if (out.has(x)) continue;
    out.add(x);
    stack.push(...(children.get(x) ?? []));
  }
  return out;
}

/** SVG path of an edge: a vertical S-curve between rows, an arc under the row within one. */
export function edgePath(e: LineageEdge): string {
  if (e.y1 === e.y2) {
    const dip = 14 + Math.min(20, Math.abs(e.x2 - e.x1) / 6);
    return `M${e.x1},${e.y1} C${e.x1},${e.y1 + dip} ${e.x2},${e.y2 + dip} ${e.x2},${e.y2}`;
  }
  const mid = (e.y1 + e.y2) / 2;
  return `M${e.x1},${e.y1} C${e.x1},${mid} ${e.x2},${mid} ${e.x2},${e.y2}`;
}
