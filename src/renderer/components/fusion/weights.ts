/**
 * Parent weights of the Fuse view: a slider position for two parents, a point in a triangle
 * (barycentric coordinates) for three, and the rounding that keeps the shown weights summing to 1.
 */

export interface Point {
  x: number;
  y: number;
}

/** The pad's triangle in unit coordinates: parent A top, B bottom left, C bottom right. */
export const TRIANGLE: readonly [Point, Point, Point] = [
  { x: 0.5, y: 0.1 },
  { x: 0.06, y: 0.86 },
  { x: 0.94, y: 0.86 },
];

/** Equal weights for `n` parents. */
export function equalWeights(n: number): number[] {
  return Array.from({ length: n }, () => 1 / n);
}

/** Weights of two parents from the slider (t = B's share, 0..1). */
export function sliderWeights(t: number): [number, number] {
  const c = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0.5));
  return [1 - c, c];
}

/**
 * Barycentric coordinates of `p` in triangle `tri`, clamped to the triangle (a point outside gets
 * the coordinates of the nearest point on its edge): three weights ≥ 0 summing to 1.
 */
export function barycentric(p: Point, tri: readonly [Point, Point, Point] = TRIANGLE): [number, number, number] {
  const [a, b, c] = tri;
  const det = (b.y - c.y) * (a.x - c.x) + (c.x - b.x) * (a.y - c.y);
  let w0 = ((b.y - c.y) * (p.x - c.x) + (c.x - b.x) * (p.y - c.y)) / det;
  let w1 = ((c.y - a.y) * (p.x - c.x) + (a.x - c.x) * (p.y - c.y)) / det;
  let w2 = 1 - w0 - w1;
  if (w0 >= 0 && w1 >= 0 && w2 >= 0) return [w0, w1, w2];
  // Outside: the nearest point on the three edges.
  const edges: [Point, Point, number, number][] = [
    [a, b, 0, 1],
    [b, c, 1, 2],
    [c, a, 2, 0],
  ];
  let best: { d: number; w: [number, number, number] } | undefined;
  for (const [u, v, i, j] of edges) {
    const dx = v.x - u.x;
    const dy = v.y - u.y;
    const t = Math.min(1, Math.max(0, ((p.x - u.x) * dx + (p.y - u.y) * dy) / (dx * dx + dy * dy)));
    const q = { x: u.x + t * dx, y: u.y + t * dy };
    const d = (q.x - p.x) ** 2 + (q.y - p.y) ** 2;
    if (!best || d < best.d) {
      const w: [number, number, number] = [0, 0, 0];
      w[i] = 1 - t;
      w[j] = t;
      best = { d, w };
    }
  }
  [w0, w1, w2] = best!.w;
  return [w0, w1, w2];
}

/** The point of the triangle with barycentric coordinates `w` (normalised first). */
export function pointOf(w: readonly number[], tri: readonly [Point, Point, Point] = TRIANGLE): Point {
  const s = (w[0] ?? 0) + (w[1] ?? 0) + (w[2] ?? 0) || 1;
  const [a, b, c] = [(w[0] ?? 0) / s, (w[1] ?? 0) / s, (w[2] ?? 0) / s];
  return { x: a * tri[0].x + b * tri[1].x + c * tri[2].x, y: a * tri[0].y + b * tri[1].y + c * tri[2].y };
}

/**
 * Weights rounded to `digits` decimals that still sum to exactly 1 (the largest remainder gets
 * the rounding difference), so what the view shows is what it sends.
 */
export function roundWeights(w: readonly number[], digits = 2): number[] {
  const total = w.reduce((s, x) => s + Math.max(0, x), 0);
  if (!(total > 0)) return equalWeights(w.length).map((x) => Number(x.toFixed(digits)));
  const scale = 10 ** digits;
  const raw = w.map((x) => (Math.max(0, x) / total) * scale);
  const floor = raw.map(Math.floor);
  let left = scale - floor.reduce((s, x) => s + x, 0);
  const order = raw.map((x, i) => [x - floor[i]!, i] as const).sort((p, q) => q[0] - p[0]);
  for (const [, i] of order) {
    if (left <= 0) break;
    floor[i]! += 1;
    left--;
  }
  return floor.map((x) => x / scale);
}

/** "0.25 / 0.75" */
export function weightsLabel(w: readonly number[]): string {
  return w.map((x) => Number(x.toFixed(2)).toString()).join(' / ');
}
