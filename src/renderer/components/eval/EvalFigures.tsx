import type { EvalFigure } from '../../../shared/ipc/eval.js';
import { svgDataUrl } from '../../lib/evaluation.js';

/** The report's figures, each drawn as an image (an SVG in <img> runs no script and loads nothing). */
export function EvalFigures({ figures }: { figures: readonly EvalFigure[] }) {
  const shown = figures.map((f) => ({ f, src: svgDataUrl(f.svg) })).filter((x): x is { f: EvalFigure; src: string } => x.src !== undefined);
  if (shown.length === 0) return null;
  return (
    <ul className="eval-figures" data-testid="eval-figures">
      {shown.map(({ f, src }) => (
        <li key={f.name}>
          <figure>
            <img src={src} alt={f.title} data-figure={f.name} />
            <figcaption className="muted small">{f.title}</figcaption>
          </figure>
        </li>
      ))}
    </ul>
  );
}
