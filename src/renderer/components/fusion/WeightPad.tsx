/**
 * The 2-D weight pad of a three-parent fusion: a triangle whose corners are the parents; the
 * point's barycentric coordinates are their weights (drag, click, or arrow keys).
 */
import { useRef, type KeyboardEvent, type PointerEvent } from 'react';
import { barycentric, pointOf, TRIANGLE, weightsLabel } from './weights.js';

interface Props {
  weights: readonly [number, number, number] | readonly number[];
  onChange: (w: [number, number, number]) => void;
  labels: readonly [string, string, string];
  disabled?: boolean;
  testId?: string;
}

const STEP = 0.03;

export function WeightPad({ weights, onChange, labels, disabled = false, testId }: Props) {
  const ref = useRef<SVGSVGElement>(null);
  const p = pointOf(weights);
  const at = (e: PointerEvent<SVGSVGElement>): void => {
    const r = ref.current?.getBoundingClientRect();
    if (!r || r.width === 0 || r.height === 0) return;
    onChange(barycentric({ x: (e.clientX - r.left) / r.width, y: (e.clientY - r.top) / r.height }));
  };
  const onKey = (e: KeyboardEvent<SVGSVGElement>): void => {
    const d = { ArrowLeft: [-STEP, 0], ArrowRight: [STEP, 0], ArrowUp: [0, -STEP], ArrowDown: [0, STEP] }[e.key];
    if (!d) return;
    e.preventDefault();
    onChange(barycentric({ x: p.x + d[0]!, y: p.y + d[1]! }));
  };
  const [a, b, c] = TRIANGLE;
  const text = `${labels.map((l, i) => `${l} ${Number((weights[i] ?? 0).toFixed(2))}`).join(', ')}`;
  return (
    <div className="weight-pad">
      <svg
        ref={ref}
        viewBox="0 0 1 1"
        role="slider"
        aria-label="Weights of the three parents: move the point towards a corner to give that parent more weight"
        aria-valuetext={text}
        aria-valuenow={Number((weights[0] ?? 0).toFixed(2))}
        aria-valuemin={0}
        aria-valuemax={1}
        aria-disabled={disabled}
        tabIndex={disabled ? -1 : 0}
        data-testid={testId}
        data-weights={weightsLabel(weights)}
        onPointerDown={(e) => {
          if (disabled) return;
          e.currentTarget.setPointerCapture(e.pointerId);
          at(e);
        }}
        onPointerMove={(e) => {
          if (!disabled && e.currentTarget.hasPointerCapture(e.pointerId)) at(e);
        }}
        onKeyDown={disabled ? undefined : onKey}
      >
        <polygon className="pad-triangle" points={`${a.x},${a.y} ${b.x},${b.y} ${c.x},${c.y}`} />
        {[a, b, c].map((v, i) => (
          <line key={i} className="pad-spoke" x1={p.x} y1={p.y} x2={v.x} y2={v.y} strokeWidth={0.004 + 0.012 * (weights[i] ?? 0)} />
        ))}
        <circle className="pad-point" cx={p.x} cy={p.y} r={0.035} />
        <text className="pad-label" x={a.x} y={a.y - 0.01} textAnchor="middle" dominantBaseline="text-after-edge">
          {labels[0]}
        </text>
        <text className="pad-label" x={b.x} y={b.y + 0.06} textAnchor="start">
          {labels[1]}
        </text>
        <text className="pad-label" x={c.x} y={c.y + 0.06} textAnchor="end">
          {labels[2]}
        </text>
      </svg>
      <div className="small mono" aria-hidden="true">
        {text}
      </div>
    </div>
  );
}
