/**
 * Before/after of an edit: a compare slider (swipe: the before image left of the handle, the
 * after image right of it; drag anywhere or use the arrow keys), a difference view (|after −
 * before|, brightened, by CSS blending: no pixel reads, so it works on any image URL) and the
 * edit's mask over either (the latent grid, one cell per 8×8 pixels).
 */
import { useEffect, useId, useMemo, useRef, useState } from 'react';
import type { EditMask } from '../../../shared/ipc/edit.js';
import { decodeMask, maskPixels } from './edit-report.js';

interface Props {
  before: string;
  after: string;
  mask?: Pick<EditMask, 'width' | 'height' | 'data'> | undefined;
  testId?: string;
  /** Small generated images look better with hard pixels. */
  pixelated?: boolean;
}

export function CompareView({ before, after, mask, testId = 'edit-compare', pixelated = true }: Props) {
  const [position, setPosition] = useState(50);
  const [view, setView] = useState<'swipe' | 'difference'>('swipe');
  const [showMask, setShowMask] = useState(false);
  const sliderId = useId();
  const hasMask = useMemo(() => !!mask && decodeMask(mask).length > 0, [mask]);

  return (
    <figure className="compare-figure">
      <div
        className={`compare img-frame${pixelated ? ' pixelated' : ''}`}
        data-testid={testId}
        data-view={view}
        data-position={position}
        data-mask={showMask && hasMask ? 'shown' : 'hidden'}
      >
        {view === 'swipe' ? (
          <>
            <img src={before} alt="Before the edit" className="compare-img" data-testid={`${testId}-before`} />
            <img
              src={after}
              alt="After the edit"
              className="compare-img compare-after"
              style={{ clipPath: `inset(0 0 0 ${position}%)` }}
              data-testid={`${testId}-after`}
            />
            <span className="compare-handle" style={{ left: `${position}%` }} aria-hidden="true" />
            <span className="compare-label left">Before</span>
            <span className="compare-label right">After</span>
          </>
        ) : (
          <div className="compare-difference" data-testid={`${testId}-difference`}>
            <img src={before} alt="" className="compare-img" />
            <img src={after} alt="Difference of the edit and its source" className="compare-img compare-blend" />
          </div>
        )}
        {showMask && hasMask && mask && <MaskCanvas mask={mask} testId={`${testId}-mask`} />}
        {view === 'swipe' && (
          <input
            id={sliderId}
            type="range"
            min={0}
            max={100}
            step={1}
            value={position}
            onChange={(e) => setPosition(Number(e.target.value))}
            className="compare-slider"
            aria-label="Compare: drag left to see more of the edit, right to see more of the source"
            data-testid={`${testId}-slider`}
          />
        )}
      </div>
      <figcaption className="compare-controls">
        <span className="btn-row">
          <button
            type="button"
            className={`small-btn secondary${view === 'swipe' ? ' active' : ''}`}
            aria-pressed={view === 'swipe'}
            onClick={() => setView('swipe')}
            data-testid={`${testId}-swipe-toggle`}
          >
            Before / after
          </button>
          <button
            type="button"
            className={`small-btn secondary${view === 'difference' ? ' active' : ''}`}
            aria-pressed={view === 'difference'}
            onClick={() => setView('difference')}
            data-testid={`${testId}-difference-toggle`}
            title="|after − before|, brightened ×4: black where nothing changed"
          >
            Difference
          </button>
          {hasMask && (
            <button
              type="button"
              className={`small-btn secondary${showMask ? ' active' : ''}`}
              aria-pressed={showMask}
              onClick={() => setShowMask((v) => !v)}
              data-testid={`${testId}-mask-toggle`}
              title="The edited words' region: outside it the edit keeps the source"
            >
              Mask
            </button>
          )}
        </span>
        <span className="muted">{view === 'swipe' ? `before ◂ ${position}% ▸ after` : 'difference ×4 (black: unchanged)'}</span>
      </figcaption>
    </figure>
  );
}

/** The mask's cells on a canvas over the image (object-fit: contain, like the image). */
function MaskCanvas({ mask, testId }: { mask: Pick<EditMask, 'width' | 'height' | 'data'>; testId: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const cells = useMemo(() => decodeMask(mask), [mask]);
  const inside = cells.reduce((a, v) => a + v, 0);
  useEffect(() => {
    const c = canvas.current;
    const ctx = c?.getContext('2d');
    if (!c || !ctx || cells.length === 0) return;
    ctx.putImageData(new ImageData(maskPixels(cells), mask.width, mask.height), 0, 0);
  }, [cells, mask.width, mask.height]);
  return (
    <canvas
      ref={canvas}
      width={mask.width}
      height={mask.height}
      className="compare-mask"
      data-testid={testId}
      data-cells={inside}
      aria-label={`Edit mask: ${inside} of ${cells.length} cells`}
    />
  );
}
