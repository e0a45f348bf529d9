/** Geometry for the small SVG line chart (pure, unit-tested). */

export interface ChartGeometry {
  /** SVG path `d` for the line, in a width x height box. */
  d: string;
  min: number;
  max: number;
  /** Number of source values drawn. */
  count: number;
}

/**
 * Builds the line of `values` in a `width` x `height` box (y grows downwards, 0 at the top).
 * Non-finite values are skipped. More than `maxPoints` values are bucketed, keeping each
 * bucket's min and max so spikes stay visible. `log` plots log10 of positive values.
 */
export function linePath(
  values: readonly number[],
  width: number,
  height: number,
  opts: { maxPoints?: number; log?: boolean; pad?: number } = {},
): ChartGeometry {
  const pad = opts.pad ?? 2;
  const tf = (v: number): number => (opts.log ? Math.log10(v) : v);
  const pts: { i: number; v: number }[] = [];
  values.forEach((v, i) => {
    if (Number.isFinite(v) && (!opts.log || v > 0)) pts.push({ i, v: tf(v) });
  });
  if (pts.length === 0) return { d: '', min: Number.NaN, max: Number.NaN, count: 0 };
  let min = Infinity;
  let max = -Infinity;
  for (const p of pts) {
    if (p.v < min) min = p.v;
    if (p.v > max) max = p.v;
  }
  const maxPoints = Math.max(2, opts.maxPoints ?? Math.max(2, Math.floor(width)));
  let drawn = pts;
  if (pts.length > maxPoints) {
    const buckets = Math.floor(maxPoints / 2);
    drawn = [];
    for (let b = 0; b < buckets; b++) {
      const from = Math.floor((b * pts.length) / buckets);
      const to = Math.floor(((b + 1) * pts.length) / buckets);
      let lo = pts[from]!;
      let hi = pts[from]!;
      for (let k = from; k < to; k++) {
        const p = pts[k]!;
        if (p.v < lo.v) lo = p;
        if (p.v > hi.v) hi = p;
      }
      if (lo.i <= hi.i) drawn.push(lo, ...(hi === lo ? [] : [hi]));
      else drawn.push(hi, lo);
    }
  }
  const lastIndex = Math.max(1, values.length - 1);
  const span = max - min || 1;
  const x = (i: number): number => pad + ((width - 2 * pad) * i) / lastIndex;
  const y = (v: number): number => pad + (height - 2 * pad) * (1 - (v - min) / span);
  const d = drawn.map((p, k) => `${k === 0 ? 'M' : 'L'}${x(p.i).toFixed(1)},${y(p.v).toFixed(1)}`).join('');
  return {
    d: drawn.length === 1 ? `${d}L${(x(drawn[0]!.i) + 1).toFixed(1)},${y(drawn[0]!.v).toFixed(1)}` : d,
    min: opts.log ? 10 ** min : min,
    max: opts.log ? 10 ** max : max,
    count: pts.length,
  };
}
