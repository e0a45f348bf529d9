/**
 * Small self-contained SVG charts for the evaluation report: bars with error whiskers, a scatter
 * with the diagonal, and line curves. No scripts, no external fonts; text is escaped.
 */

const PALETTE = ['#4477aa', '#ee6677', '#228833', '#ccbb44', '#66ccee', '#aa3377', '#bbbbbb'];
const W = 560;
const H = 360;
const M = { left: 64, right: 16, top: 36, bottom: 56 };

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const fmt = (v: number): string => {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000 || a < 0.01) return v.toExponential(1);
  return v.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2);
};

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= step0) ?? step0;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function frame(title: string, xLabel: string, yLabel: string, body: string, legend = ''): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">${escapeXml(xLabel)}</text>`,
    `<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`,
    body,
    legend,
    '</svg>',
  ].join('\n');
}

function yAxis(lo: number, hi: number, y: (v: number) => number): string {
  return niceTicks(lo, hi)
    .map(
      (t) =>
        `<line x1="${M.left}" x2="${W - M.right}" y1="${y(t)}" y2="${y(t)}" stroke="#e5e5e5"/><text x="${M.left - 6}" y="${y(t) + 4}" text-anchor="end">${fmt(t)}</text>`,
    )
    .join('\n');
}

function range(values: number[], pad = 0.05, includeZero = false): [number, number] {
  const finite = values.filter(Number.isFinite);
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  if (includeZero) {
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
  }
  if (hi === lo) {
    hi += 0.5;
    lo -= includeZero && lo === 0 ? 0 : 0.5;
  }
  const p = (hi - lo) * pad;
  return [includeZero && lo === 0 ? 0 : lo - p, hi + p];
}

/** Bars (one per label) with ± error whiskers; NaN values are drawn as "n/a". */
export function barChart(o: {
  title: string;
  labels: string[];
  values: number[];
  errors?: number[];
  yLabel: string;
  xLabel?: string;
}): string {
  const errs = o.errors ?? o.values.map(() => NaN);
  const [lo, hi] = range(
    o.values.flatMap((v, i) => [v, v + (Number.isFinite(errs[i]!) ? errs[i]! : 0), v - (Number.isFinite(errs[i]!) ? errs[i]! : 0)]),
    0.08,
    true,
  );
  const y = (v: number) => M.top + ((hi - v) / (hi - lo)) * (H - M.top - M.bottom);
  const slot = (W - M.left - M.right) / Math.max(1, o.labels.length);
  const bars = o.labels
    .map((label, i) => {
      const x = M.left + i * slot + slot * 0.2;
      const w = slot * 0.6;
      const v = o.values[i]!;
      const e = errs[i]!;
      const parts = [`<text x="${x + w / 2}" y="${H - M.bottom + 16}" text-anchor="middle">${escapeXml(label)}</text>`];
      if (!Number.isFinite(v)) parts.push(`<text x="${x + w / 2}" y="${y(lo) - 6}" text-anchor="middle" fill="#888">n/a</text>`);
      else {
        const top = Math.min(y(v), y(Math.max(lo, 0)));
        parts.push(
          `<rect x="${x}" y="${top}" width="${w}" height="${Math.abs(y(v) - y(Math.max(lo, 0)))}" fill="${PALETTE[i % PALETTE.length]}"/>`,
        );
        if (Number.isFinite(e)) {
          const cx = x + w / 2;
          parts.push(
            `<path d="M${cx} ${y(v - e)}V${y(v + e)}M${cx - 6} ${y(v - e)}H${cx + 6}M${cx - 6} ${y(v + e)}H${cx + 6}" stroke="#222" fill="none"/>`,
          );
        }
        parts.push(
          `<text x="${x + w / 2}" y="${y(v) - 4 - (Number.isFinite(e) ? Math.abs(y(v) - y(v + e)) : 0)}" text-anchor="middle" font-size="11">${fmt(v)}</text>`,
        );
      }
      return parts.join('');
    })
    .join('\n');
  return frame(o.title, o.xLabel ?? '', o.yLabel, `${yAxis(lo, hi, y)}\n${bars}`);
}

function legendOf(names: string[]): string {
  return names
    .map(
      (n, i) =>
        `<rect x="${M.left + 8 + i * 110}" y="${M.top - 4}" width="10" height="10" fill="${PALETTE[i % PALETTE.length]}"/><text x="${M.left + 22 + i * 110}" y="${M.top + 5}">${escapeXml(n)}</text>`,
    )
    .join('\n');
}

/** Points per series, with the y = x diagonal (points above it: y better than x, when higher is better). */
export function scatterChart(o: {
  title: string;
  series: { name: string; points: [number, number][] }[];
  xLabel: string;
  yLabel: string;
  diagonal?: boolean;
}): string {
  const all = o.series.flatMap((s) => s.points.flat());
  const [lo, hi] = range(all);
  const x = (v: number) => M.left + ((v - lo) / (hi - lo)) * (W - M.left - M.right);
  const y = (v: number) => M.top + ((hi - v) / (hi - lo)) * (H - M.top - M.bottom);
  const xTicks = niceTicks(lo, hi)
    .map((t) => `<text x="${x(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${fmt(t)}</text>`)
    .join('\n');
  const diag =
    o.diagonal === false ? '' : `<line x1="${x(lo)}" y1="${y(lo)}" x2="${x(hi)}" y2="${y(hi)}" stroke="#999" stroke-dasharray="4 3"/>`;
  const pts = o.series
    .map((s, i) =>
      s.points
        .filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b))
        .map(
          ([a, b]) =>
            `<circle cx="${x(a).toFixed(1)}" cy="${y(b).toFixed(1)}" r="3" fill="${PALETTE[i % PALETTE.length]}" fill-opacity="0.75"/>`,
        )
        .join(''),
    )
    .join('\n');
  return frame(o.title, o.xLabel, o.yLabel, `${yAxis(lo, hi, y)}\n${xTicks}\n${diag}\n${pts}`, legendOf(o.series.map((s) => s.name)));
}

/** Curves y(x) per series. */
export function lineChart(o: {
  title: string;
  series: { name: string; xs: number[]; ys: number[] }[];
  xLabel: string;
  yLabel: string;
}): string {
  const [xlo, xhi] = range(
    o.series.flatMap((s) => s.xs),
    0,
  );
  const [lo, hi] = range(o.series.flatMap((s) => s.ys));
  const x = (v: number) => M.left + ((v - xlo) / (xhi - xlo)) * (W - M.left - M.right);
  const y = (v: number) => M.top + ((hi - v) / (hi - lo)) * (H - M.top - M.bottom);
  const xTicks = niceTicks(xlo, xhi)
    .map((t) => `<text x="${x(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${fmt(t)}</text>`)
    .join('\n');
  const lines = o.series
    .map((s, i) => {
      const d = s.xs
        .map((xv, k) => [xv, s.ys[k]!] as const)
        .filter(([, v]) => Number.isFinite(v))
        .map(([xv, v], k) => `${k === 0 ? 'M' : 'L'}${x(xv).toFixed(1)} ${y(v).toFixed(1)}`)
        .join('');
      return d ? `<path d="${d}" fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="1.8"/>` : '';
    })
    .join('\n');
  return frame(o.title, o.xLabel, o.yLabel, `${yAxis(lo, hi, y)}\n${xTicks}\n${lines}`, legendOf(o.series.map((s) => s.name)));
}
