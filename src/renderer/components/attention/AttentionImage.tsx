/**
 * An image with its cross-attention overlay (docs/segmentation.md, "Studio"): "Attention" opens
 * it (asking the engine for the maps with a segment job when they are not at hand); hovering or
 * clicking a word of the prompt shows its heat map over the image (the payload's uint8 grid,
 * upsampled on a canvas and colour-mapped), hovering the image ranks the words by attention at
 * that pixel; sliders set the opacity and the mask threshold; "Export masks" has the engine write
 * the full-resolution masks into a folder on its machine.
 */
import { useEffect, useId, useMemo, useRef, useState, type MouseEvent } from 'react';
import { studioErrorCode, studioErrorMessage } from '../../../shared/api.js';
import type { AttentionMaps } from '../../../shared/ipc/attention.js';
import type { ParamsOf } from '../../../shared/ipc/requests.js';
import { useAttention, useEngine, useJob, useStudio } from '../../api/context.js';
import { ImageFrame, type ImageFrameProps } from '../ImageFrame.js';
import { canvasSize, colourise, containedPoint, decodeGrid, rankWordsAt, upsample } from './heatmap.js';

export interface AttentionTarget {
  /** Names the image and the prompt (maps are kept per key for the session). */
  key: string;
  /** Maps already at hand (a generation's result). */
  maps?: AttentionMaps | undefined;
  /** How to ask for them otherwise; absent: the overlay is offered only with `maps`. */
  request?: ParamsOf<'segment'> | undefined;
}

/**
 * The overlay of a library image: the item's own image, or another of its files (an inversion's
 * target, a candidate's regeneration), segmented by the prompt the engine picks for it.
 */
export function libraryAttention(id: string, file?: string, maps?: AttentionMaps): AttentionTarget {
  return { key: `library:${id}:${file ?? ''}`, maps, request: { image: { source: 'library', id, ...(file ? { file } : {}) } } };
}

interface Props extends ImageFrameProps {
  attention?: AttentionTarget | undefined;
}

const SOURCE_LABEL: Record<AttentionMaps['source'], string> = {
  generation: 'captured while the image was sampled',
  noising: 'from noising this image (DAAM on an existing image)',
};

export function AttentionImage({ attention, ...frame }: Props) {
  const engine = useEngine();
  const cache = useAttention();
  const { attention: store } = useStudio();
  const [open, setOpen] = useState(false);
  // Maps handed in whose full-resolution copy the engine no longer has (it restarted): ask again.
  const [expired, setExpired] = useState<AttentionMaps | undefined>();
  const given = attention?.maps && attention.maps !== expired ? attention.maps : undefined;
  const entry = attention ? cache.get(attention.key) : undefined;
  const maps = given ?? entry?.maps;
  const canCompute = !!attention?.request && engine.capabilities.includes('segment');
  const offered = !!frame.src && !!attention && (!!maps || canCompute);

  useEffect(() => {
    if (attention && given) store.put(attention.key, given);
  }, [attention, given, store]);
  useEffect(() => {
    if (open && attention && !maps && attention.request && canCompute && !entry?.error)
      void store.request(attention.key, attention.request);
  }, [open, attention, maps, canCompute, entry?.error, store]);

  if (!offered) return <ImageFrame {...frame} />;
  const base = frame.testId ?? 'image';
  return (
    <OverlayBody
      frame={frame}
      base={base}
      open={open}
      setOpen={setOpen}
      maps={maps}
      entry={entry}
      retry={() => {
        if (!attention) return;
        if (maps && maps === attention.maps) setExpired(maps);
        store.forget(attention.key);
      }}
    />
  );
}

function OverlayBody({
  frame,
  base,
  open,
  setOpen,
  maps,
  entry,
  retry,
}: {
  frame: ImageFrameProps;
  base: string;
  open: boolean;
  setOpen: (v: boolean) => void;
  maps: AttentionMaps | undefined;
  entry: ReturnType<ReturnType<typeof useAttention>['get']>;
  retry: () => void;
}) {
  const job = useJob(entry?.jobId);
  const [hovered, setHovered] = useState<number | undefined>();
  const [pinned, setPinned] = useState<number | undefined>();
  const [opacity, setOpacity] = useState(0.65);
  const [threshold, setThreshold] = useState<number | undefined>();
  const [ranking, setRanking] = useState<{ word: string; heat: number }[] | undefined>();
  const ids = { opacity: useId(), threshold: useId() };
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [maskPixels, setMaskPixels] = useState(0);

  // A new set of maps (another image or prompt): start over.
  useEffect(() => {
    setHovered(undefined);
    setPinned(undefined);
    setThreshold(undefined);
    setRanking(undefined);
  }, [maps]);

  const grids = useMemo(() => (maps ? maps.words.map((_, k) => decodeGrid(maps, k)) : []), [maps]);
  const size = useMemo(() => (maps ? canvasSize(maps.imageWidth, maps.imageHeight) : { width: 1, height: 1 }), [maps]);
  const heats = useRef(new Map<number, Float32Array>());
  useEffect(() => heats.current.clear(), [grids, size]);

  const shown = open && maps ? (hovered ?? pinned) : undefined;
  const tau = threshold ?? maps?.threshold ?? 0.4;
  useEffect(() => {
    const canvas = canvasRef.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx || !maps) return;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (shown === undefined || !grids[shown]?.length) {
      setMaskPixels(0);
      return;
    }
    let heat = heats.current.get(shown);
    if (!heat) {
      heat = upsample(grids[shown]!, maps.width, maps.height, size.width, size.height);
      heats.current.set(shown, heat);
    }
    const { rgba, maskPixels: n } = colourise(heat, tau, opacity);
    ctx.putImageData(new ImageData(rgba, size.width, size.height), 0, 0);
    setMaskPixels(n);
  }, [shown, tau, opacity, grids, maps, size]);

  const onMove = (e: MouseEvent<HTMLCanvasElement>): void => {
    if (!maps) return;
    const p = containedPoint(e.currentTarget.getBoundingClientRect(), size.width, size.height, e.clientX, e.clientY);
    setRanking(p ? rankWordsAt(maps, grids, p.u, p.v).slice(0, 5) : undefined);
  };

  const canvas =
    open && maps ? (
      <canvas
        ref={canvasRef}
        className="attention-canvas"
        width={size.width}
        height={size.height}
        data-testid={`${base}-attention-canvas`}
        data-word={shown !== undefined ? (maps.words[shown]?.word ?? '') : ''}
        data-mask-pixels={maskPixels}
        data-threshold={tau}
        onMouseMove={onMove}
        onMouseLeave={() => setRanking(undefined)}
        aria-label={shown !== undefined ? `Attention of "${maps.words[shown]?.word}" over the image` : 'Attention overlay (pick a word)'}
        role="img"
      />
    ) : undefined;

  const status = !maps
    ? entry?.error
      ? `Could not compute the attention maps: ${entry.error}`
      : job?.progress
        ? `Computing attention maps… ${job.progress.phase} ${job.progress.step}/${job.progress.total}`
        : job?.state === 'queued'
          ? 'Attention maps: waiting for the engine (queued)…'
          : 'Computing attention maps…'
    : undefined;

  return (
    <ImageFrame {...frame} overlay={canvas}>
      <div className="attention" data-testid={`${base}-attention`} data-open={open ? 'true' : 'false'} data-ready={maps ? 'true' : 'false'}>
        <button
          type="button"
          className={`secondary small-btn${open ? ' active' : ''}`}
          aria-pressed={open}
          onClick={() => setOpen(!open)}
          data-testid={`${base}-attention-toggle`}
          title="Cross-attention: where the model looks for each word of the prompt"
        >
          {open ? 'Hide attention' : 'Attention'}
        </button>
        {open && status && (
          <p className={`small ${entry?.error ? 'error-text' : 'muted'}`} data-testid="attention-status" role="status">
            {status}
            {entry?.error && (
              <button type="button" className="btn-ghost" onClick={retry}>
                Try again
              </button>
            )}
          </p>
        )}
        {open && maps && (
          <div className="attention-panel">
            {maps.words.length === 0 ? (
              <p className="muted small">The prompt has no words to segment (only stop words such as a, the, of).</p>
            ) : (
              <ul className="attention-words" aria-label="Words of the prompt">
                {maps.words.map((w, k) => (
                  <li key={`${w.word}-${k}`}>
                    <button
                      type="button"
                      className={`chip${pinned === k ? ' pinned' : ''}${shown === k ? ' shown' : ''}`}
                      aria-pressed={pinned === k}
                      onMouseEnter={() => setHovered(k)}
                      onMouseLeave={() => setHovered(undefined)}
                      onFocus={() => setHovered(k)}
                      onBlur={() => setHovered(undefined)}
                      onClick={() => setPinned(pinned === k ? undefined : k)}
                      data-testid="attention-word"
                      data-word={w.word}
                      title={`tokens: ${w.tokens.join(' ')} · mask ${(w.area * 100).toFixed(0)}% of the image at τ = ${maps.threshold}`}
                    >
                      {w.word}
                    </button>
                  </li>
                ))}
              </ul>
            )}
            <div className="field-row attention-sliders">
              <label className="field" htmlFor={ids.opacity}>
                <span>Opacity {Math.round(opacity * 100)}%</span>
                <input
                  id={ids.opacity}
                  type="range"
                  min={0}
                  max={1}
                  step={0.05}
                  value={opacity}
                  onChange={(e) => setOpacity(Number(e.target.value))}
                  data-testid="attention-opacity"
                />
              </label>
              <label className="field" htmlFor={ids.threshold}>
                <span>Threshold τ {tau.toFixed(2)}</span>
                <input
                  id={ids.threshold}
                  type="range"
                  min={0}
                  max={1}
                  step={0.05}
                  value={tau}
                  onChange={(e) => setThreshold(Number(e.target.value))}
                  data-testid="attention-threshold"
                />
              </label>
            </div>
            <div className="attention-ranking small" data-testid="attention-ranking" aria-live="polite">
              {ranking ? (
                <ol>
                  {ranking.map((r) => (
                    <li key={r.word}>
                      <span className="bar" style={{ width: `${Math.round(r.heat * 100)}%` }} aria-hidden="true" />
                      <span>{r.word}</span> <span className="muted">{r.heat.toFixed(2)}</span>
                    </li>
                  ))}
                </ol>
              ) : (
                <span className="muted">
                  {shown === undefined
                    ? 'Hover or click a word to see where the model attends to it; hover the image to rank the words at a pixel.'
                    : 'Hover the image to rank the words at a pixel.'}
                </span>
              )}
            </div>
            <p className="muted small">
              {maps.imageWidth}×{maps.imageHeight}, {SOURCE_LABEL[maps.source]}.
            </p>
            <ExportMasks maps={maps} threshold={tau} onExpired={retry} />
          </div>
        )}
      </div>
    </ImageFrame>
  );
}

function ExportMasks({ maps, threshold, onExpired }: { maps: AttentionMaps; threshold: number; onExpired: () => void }) {
  const { api } = useStudio();
  const [asking, setAsking] = useState(false);
  const [dir, setDir] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string } | undefined>();
  const id = useId();
  if (maps.words.length === 0) return null;
  const run = async (): Promise<void> => {
    setBusy(true);
    setResult(undefined);
    try {
      const r = await api.exportSegmentation({ id: maps.id, threshold, ...(dir.trim() ? { dir: dir.trim() } : {}) });
      setResult({ ok: true, text: `Wrote ${r.files.length} files (masks at τ = ${r.threshold.toFixed(2)}) to ${r.dir}` });
    } catch (e) {
      setResult({ ok: false, text: studioErrorMessage(e) });
      if (studioErrorCode(e) === 'MAPS_EXPIRED') onExpired();
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="attention-export">
      {!asking ? (
        <button type="button" className="secondary small-btn" onClick={() => setAsking(true)} data-testid="attention-export">
          Export masks
        </button>
      ) : (
        <div className="field-row">
          <label className="field grow" htmlFor={id}>
            <span>Folder on the engine&apos;s machine (created if needed)</span>
            <input
              id={id}
              type="text"
              value={dir}
              onChange={(e) => setDir(e.target.value)}
              placeholder="default: a new folder in exports/ next to the library"
              data-testid="attention-export-dir"
            />
          </label>
          <button type="button" className="primary small-btn" onClick={() => void run()} disabled={busy} data-testid="attention-export-go">
            {busy ? 'Writing…' : 'Export'}
          </button>
        </div>
      )}
      {result && (
        <p className={`small ${result.ok ? 'muted' : 'error-text'}`} data-testid="attention-export-result" role="status">
          {result.text}
        </p>
      )}
    </div>
  );
}
