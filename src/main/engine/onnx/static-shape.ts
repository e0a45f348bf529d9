/**
 * Arithmetic on concrete shapes and axis lists, shared by constant evaluation, shape inference,
 * the graph builder and the gradient rules (symbolic dims live in dims.ts).
 */
import { attrInt, type Node } from './ir.js';

export { numel } from './dims.js';

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Numpy-style (right-aligned) broadcast of static shapes; undefined when they are incompatible. */
export function broadcastShapes(...shapes: (readonly number[])[]): number[] | undefined {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    const off = rank - s.length;
    for (let i = 0; i < s.length; i++) {
      const d = s[i]!;
      const o = out[off + i]!;
      if (d === o || d === 1) continue;
      if (o !== 1) return undefined;
      out[off + i] = d;
    }
  }
  return out;
}

/** [from, from + 1, ..., to - 1] (empty when to <= from). */
export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/** Permutation of a rank-`r` tensor that swaps its last two axes (a batched matrix transpose). */
export function swapLast2(r: number): number[] {
  const p = range(0, r);
  p[r - 2] = r - 1;
  p[r - 1] = r - 2;
  return p;
}

/** Inverse of a permutation. */
export function invertPerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/**
 * The dims [start, end) a Shape node (opset 15 `start`/`end`) selects from an input of rank
 * `rank`: negative values count from the end, both are clamped to [0, rank], end >= start.
 */
export function shapeOpRange(node: Node, rank: number): { start: number; end: number } {
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = clamp(attrInt(node, 'start', 0));
  return { start, end: Math.max(start, clamp(attrInt(node, 'end', rank))) };
}

/**
 * The elements one axis of a Slice selects (ONNX clamping: negative start/end count from the
 * end, then start/end are clamped to the axis; for negative steps to [-1, dim - 1]): the first
 * index and how many, stepping by `step` (non-zero).
 */
export function sliceRange(dim: number, start: number, end: number, step: number): { start: number; count: number } {
  const s = start < 0 ? start + dim : start;
  const e = end < 0 ? end + dim : end;
  if (step > 0) {
    const first = Math.min(Math.max(s, 0), dim);
    return { start: first, count: Math.max(0, Math.ceil((Math.min(Math.max(e, 0), dim) - first) / step)) };
  }
  const first = Math.min(Math.max(s, 0), dim - 1);
  return { start: first, count: Math.max(0, Math.ceil((first - Math.min(Math.max(e, -1), dim - 1)) / -step)) };
}
