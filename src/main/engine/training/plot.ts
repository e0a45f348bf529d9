/**
 * Loss curves as a standalone SVG (no dependencies): one panel per series, log-scaled loss
 * against the step, the raw values faint and a moving mean on top, for training cards.
 */

export interface LossSeries {
  name: string;
  /** [step, loss] pairs, steps ascending. */
  points: [number, number][];
  /** Caption under the panel title (e.g. wall time). */
  note?: string;
}

export interface PlotOptions {
  /** Panel size in px (default 480 x 220). */
  width?: number;
  height?: number;
  /** Panels per row (default 2). */
  columns?: number;
  /** Moving-mean window as a fraction of the steps (default 0.02). */
  smooth?: number;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function movingMean(ys: number[], window: number): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < ys.length; i++) {
    sum += ys[i]!;
    if (i >= window) sum -= ys[i - window]!;
    out.push(sum / Math.min(i + 1, window));
  }
  return out;
}

/** At most `max` evenly spaced indices (keeps the SVG small for long runs). */
function thin(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: max }, (_, i) => Math.round((i * (n - 1)) / (max - 1)));
}

/** The SVG document. */
export function lossCurvesSvg(series: LossSeries[], o: PlotOptions = {}): string {
  const W = o.width ?? 480;
  const H = o.height ?? 220;
  const cols = Math.min(o.columns ?? 2, Math.max(1, series.length));
  const rows = Math.ceil(series.length / cols);
  const m = { l: 52, r: 12, t: 34, b: 30 };
  const parts: string[] = [];
  series.forEach((s, k) => {
    const ox = (k % cols) * W;
    const oy = Math.floor(k / cols) * H;
    const pts = s.points.filter(([, y]) => Number.isFinite(y) && y > 0);
    const pw = W - m.l - m.r;
    const ph = H - m.t - m.b;
    parts.push(`<g transform="translate(${ox},${oy})">`);
    parts.push(`<text x="${m.l}" y="16" font-size="13" font-weight="bold">${esc(s.name)}</text>`);
    if (s.note) parts.push(`<text x="${m.l}" y="29" font-size="9.5" fill="#555">${esc(s.note)}</text>`);
    parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
    if (pts.length >= 2) {
      const xs = pts.map((p) => p[0]);
      const ys = pts.map((p) => Math.log10(p[1]));
      const sm = movingMean(ys, Math.max(1, Math.round(pts.length * (o.smooth ?? 0.02))));
      const x0 = xs[0]!;
      const x1 = xs[xs.length - 1]!;
      const lo = Math.floor(Math.min(...sm) * 4) / 4;
      const hi = Math.ceil(Math.max(...ys.slice(Math.min(ys.length - 1, 5))) * 4) / 4;
      const X = (x: number): number => m.l + ((x - x0) / Math.max(1e-9, x1 - x0)) * pw;
      const Y = (y: number): number => m.t + ph - ((Math.min(hi, Math.max(lo, y)) - lo) / Math.max(1e-9, hi - lo)) * ph;
      const path = (vals: number[]): string =>
        thin(vals.length, 600)
          .map((i, j) => `${j ? 'L' : 'M'}${X(xs[i]!).toFixed(1)},${Y(vals[i]!).toFixed(1)}`)
          .join('');
      parts.push(`<path d="${path(ys)}" fill="none" stroke="#9ecae1" stroke-width="0.8"/>`);
      parts.push(`<path d="${path(sm)}" fill="none" stroke="#08519c" stroke-width="1.6"/>`);
      const decades: number[] = [];
      for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) {
        decades.push(Y(e));
        parts.push(`<line x1="${m.l - 4}" x2="${m.l}" y1="${Y(e).toFixed(1)}" y2="${Y(e).toFixed(1)}" stroke="#333"/>`);
        parts.push(`<text x="${m.l - 6}" y="${(Y(e) + 3).toFixed(1)}" font-size="10" text-anchor="end">1e${e}</text>`);
      }
      // the axis ends, unless a decade label sits there already
      for (const [v, y] of [
        [hi, m.t + 8],
        [lo, m.t + ph],
      ] as const) {
        if (decades.some((d) => Math.abs(d - (y - 3)) < 12)) continue;
        parts.push(`<text x="${m.l - 6}" y="${y}" font-size="9" text-anchor="end" fill="#555">${(10 ** v).toPrecision(2)}</text>`);
      }
      parts.push(`<text x="${m.l}" y="${H - 12}" font-size="10">${x0}</text>`);
      parts.push(`<text x="${m.l + pw}" y="${H - 12}" font-size="10" text-anchor="end">${x1} steps</text>`);
    }
    parts.push('</g>');
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${cols * W}" height="${rows * H}" viewBox="0 0 ${cols * W} ${rows * H}" font-family="sans-serif">\n` +
    `<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`
  );
}
