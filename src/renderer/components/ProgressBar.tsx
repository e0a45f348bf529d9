interface Props {
  value: number;
  max: number;
  label: string;
  testId?: string;
}

/** Accessible determinate progress bar. */
export function ProgressBar({ value, max, label, testId }: Props) {
  const pct = max > 0 ? Math.min(100, Math.max(0, (100 * value) / max)) : 0;
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={max}
      aria-valuenow={value}
      data-testid={testId}
    >
      <div className="progress-fill" style={{ width: `${pct}%` }} />
    </div>
  );
}
