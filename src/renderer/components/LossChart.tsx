import { useId } from 'react';
import { linePath } from './chart.js';
import { formatNumber } from '../lib/format.js';

interface Props {
  values: readonly number[];
  width?: number;
  height?: number;
  log?: boolean;
  label?: string;
}

/** Small dependency-free SVG line chart of a loss curve. */
export function LossChart({ values, width = 360, height = 120, log = false, label = 'Loss' }: Props) {
  const titleId = useId();
  const g = linePath(values, width, height, { log, pad: 4 });
  const last = values.length > 0 ? values[values.length - 1] : undefined;
  const summary =
    g.count === 0
      ? `${label}: no values yet`
      : `${label} over ${values.length} iterations, latest ${formatNumber(last)}, min ${formatNumber(g.min)}, max ${formatNumber(g.max)}`;
  return (
    <figure className="loss-chart" data-testid="loss-chart" data-points={values.length}>
      <svg viewBox={`0 0 ${width} ${height}`} width="100%" role="img" aria-labelledby={titleId} preserveAspectRatio="none">
        <title id={titleId}>{summary}</title>
        <rect x="0" y="0" width={width} height={height} className="loss-chart-bg" />
        {[0.25, 0.5, 0.75].map((f) => (
          <line key={f} x1="0" x2={width} y1={height * f} y2={height * f} className="loss-chart-grid" />
        ))}
        {g.d && <path d={g.d} className="loss-chart-line" vectorEffect="non-scaling-stroke" />}
      </svg>
      <figcaption>
        <span>
          {label}
          {log ? ' (log)' : ''}
        </span>
        <span>max {formatNumber(g.max)}</span>
        <span>min {formatNumber(g.min)}</span>
        <span data-testid="loss-latest">latest {formatNumber(last)}</span>
      </figcaption>
    </figure>
  );
}
