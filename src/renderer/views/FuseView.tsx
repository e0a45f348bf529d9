/**
 * Fuse view (docs/fusion-evolution.md, "Studio"): two or more parents — Library images (fused by
 * the prompt they record, or inverted on the fly) and typed prompts — fused in one of five modes,
 * with a weight slider for two parents, a triangle pad for three, numbers for more; or a grid of
 * modes × weights in one job. The result (saved in the Library with its parents) is shown with the
 * text it was made from: for blend, the fused embedding decoded back to a prompt.
 */
import { useEffect, useId, useMemo, useState } from 'react';
import { studioErrorMessage } from '../../shared/api.js';
import { FUSE_MODES, FUSE_REGIONS, type FuseMode, type FuseRegion, type ItemFusion } from '../../shared/ipc/fusion-record.js';
import type { FuseParent, FuseRequest, FuseResult } from '../../shared/ipc/fusion.js';
import type { LibraryItem } from '../../shared/ipc/library.js';
import { MAX_FUSE_PARENTS } from '../../shared/ipc/limits.js';
import { useEngine, useJob, useStudio } from '../api/context.js';
import { isTerminal } from '../api/store.js';
import { ParentPicker, parentLetter, type ParentDraft } from '../components/fusion/ParentPicker.js';
import { WeightPad } from '../components/fusion/WeightPad.js';
import { equalWeights, roundWeights, sliderWeights, weightsLabel } from '../components/fusion/weights.js';
import { ImageFrame } from '../components/ImageFrame.js';
import { ProgressBar } from '../components/ProgressBar.js';
import { formatDuration, formatNumber } from '../lib/format.js';
import { navigate } from '../nav.js';
import '../styles/fusion-evolution.css';

export const MODE_HINTS: Record<FuseMode, { label: string; hint: string }> = {
  concat: { label: 'Concat', hint: '"A and B": the prompts joined, fitted to the token window by dropping the least important words' },
  blend: { label: 'Blend', hint: "the parents' text embeddings interpolated (slerp), decoded back to a readable prompt" },
  compose: { label: 'Compose (AND)', hint: "A1111 AND: the parents' noise predictions combined at every step" },
  alternate: { label: 'Alternate [A|B]', hint: 'the parents take turns, one per sampler step' },
  regions: { label: 'Regions', hint: 'each parent steers its own region of the image' },
};
const SIZES = [64, 128, 256, 512];

function weightsFor(n: number, t: number, pad: readonly number[], many: readonly number[]): number[] {
  if (n === 2) return sliderWeights(t);
  if (n === 3) return [...pad];
  return many.length === n ? [...many] : equalWeights(n);
}

export function FuseView() {
  const { api } = useStudio();
  const engine = useEngine();
  const ids = { mode: useId(), weight: useId(), seed: useId(), steps: useId(), size: useId(), grid: useId() };
  const [parents, setParents] = useState<ParentDraft[]>([]);
  const [mode, setMode] = useState<FuseMode>('blend');
  const [t, setT] = useState(0.5);
  const [pad, setPad] = useState<[number, number, number]>([1 / 3, 1 / 3, 1 / 3]);
  const [many, setMany] = useState<number[]>([]);
  const [regions, setRegions] = useState<FuseRegion[]>(['left', 'right']);
  const [grid, setGrid] = useState(false);
  const [gridModes, setGridModes] = useState<FuseMode[]>([...FUSE_MODES]);
  const [seed, setSeed] = useState(0);
  const [steps, setSteps] = useState<number | ''>('');
  const [size, setSize] = useState<number | ''>('');
  const [jobId, setJobId] = useState<string | undefined>();
  const [submitError, setSubmitError] = useState<string | undefined>();
  const job = useJob(jobId);
  const n = parents.length;

  // Keep per-parent weights and regions the length of the parents.
  useEffect(() => {
    setMany((m) => (m.length === n ? m : equalWeights(n)));
    setRegions((r) =>
      r.length === n
        ? r
        : n === 2
          ? ['left', 'right']
          : Array.from({ length: n }, (_, i) => (i === 0 ? 'left' : i === n - 1 ? 'right' : 'full')),
    );
  }, [n]);

  const weights = useMemo(() => roundWeights(weightsFor(n, t, pad, many)), [n, t, pad, many]);
  const running = !!job && !isTerminal(job.state);
  const result = job?.result?.kind === 'fuse' ? (job.result as FuseResult) : undefined;
  const fuseMissing = engine.capabilities.length > 0 && !engine.capabilities.includes('fuse');
  const emptyPrompt = parents.some((p) => p.kind === 'prompt' && !p.text.trim());
  const problem =
    n < 2
      ? 'Add at least two parents: Library images or prompts.'
      : emptyPrompt
        ? 'A prompt parent is empty.'
        : grid && gridModes.length === 0
          ? 'Choose at least one mode for the grid.'
          : undefined;

  const fuse = async (): Promise<void> => {
    setSubmitError(undefined);
    if (problem) {
      setSubmitError(problem);
      return;
    }
    const list: FuseParent[] = parents.map((p) =>
      p.kind === 'library' ? { kind: 'library', id: p.item.id } : { kind: 'prompt', text: p.text },
    );
    const req: Omit<FuseRequest, 'type'> = {
      parents: list,
      seed,
      ...(steps !== '' ? { steps } : {}),
      ...(size !== '' ? { width: size, height: size } : {}),
      ...(grid
        ? { grid: { modes: FUSE_MODES.filter((m) => gridModes.includes(m)) } }
        : { mode, weights, ...(mode === 'regions' ? { regions } : {}) }),
    };
    try {
      const { jobId: id } = await api.fuse(req);
      setJobId(id);
    } catch (e) {
      setSubmitError(studioErrorMessage(e));
    }
  };

  const p = job?.progress;
  return (
    <div data-testid="view-fuse">
      <div className="view-head">
        <h1>Fuse</h1>
        <span className="muted">Two or more images or prompts into one image; the result lands in the Library.</span>
      </div>
      {fuseMissing && (
        <p className="warn-text" role="status">
          This engine build cannot fuse images (no &quot;fuse&quot; capability).
        </p>
      )}
      <div className="fuse-layout">
        <div>
          <div className="panel">
            <h2>Parents</h2>
            <ParentPicker parents={parents} onChange={setParents} max={MAX_FUSE_PARENTS} testId="fuse" disabled={running} label="Parents" />
            <p className="muted small">
              A Library image is fused by the prompt it was made from (an inversion: its answer); an image without one is inverted on the
              fly.
            </p>
          </div>
          <div className="panel">
            <div className="field-row">
              <label className="field" htmlFor={ids.mode}>
                <span>Mode</span>
                <select
                  id={ids.mode}
                  value={mode}
                  onChange={(e) => setMode(e.target.value as FuseMode)}
                  disabled={grid}
                  data-testid="fuse-mode"
                >
                  {FUSE_MODES.map((m) => (
                    <option key={m} value={m} title={MODE_HINTS[m].hint}>
                      {MODE_HINTS[m].label}
                    </option>
                  ))}
                </select>
              </label>
              <label className="field" htmlFor={ids.seed}>
                <span>Seed</span>
                <input
                  id={ids.seed}
                  type="number"
                  min={0}
                  value={seed}
                  onChange={(e) => setSeed(Math.max(0, Math.floor(Number(e.target.value) || 0)))}
                  data-testid="fuse-seed"
                />
              </label>
              <label className="field" htmlFor={ids.steps}>
                <span>Steps</span>
                <input
                  id={ids.steps}
                  type="number"
                  min={1}
                  max={150}
                  placeholder="default"
                  value={steps}
                  onChange={(e) => setSteps(e.target.value === '' ? '' : Math.min(150, Math.max(1, Math.floor(Number(e.target.value)))))}
                  data-testid="fuse-steps"
                />
              </label>
              <label className="field" htmlFor={ids.size}>
                <span>Size</span>
                <select
                  id={ids.size}
                  value={size}
                  onChange={(e) => setSize(e.target.value === '' ? '' : Number(e.target.value))}
                  data-testid="fuse-size"
                >
                  <option value="">default</option>
                  {SIZES.map((s) => (
                    <option key={s} value={s}>
                      {s}×{s}
                    </option>
                  ))}
                </select>
              </label>
            </div>
            <p className="muted small">
              {grid ? 'Grid: every checked mode (rows) × weights 3:1, 1:1, 1:3 (columns).' : MODE_HINTS[mode].hint}
            </p>

            {!grid && n >= 2 && (
              <div className="fuse-weights" data-testid="fuse-weights" data-weights={weightsLabel(weights)}>
                <span className="field-label">Weights {mode === 'compose' ? '(AND weights)' : ''}</span>
                {n === 2 && (
                  <label className="fuse-slider" htmlFor={ids.weight}>
                    <span className="mono">A {weights[0]!.toFixed(2)}</span>
                    <input
                      id={ids.weight}
                      type="range"
                      min={0}
                      max={1}
                      step={0.05}
                      value={t}
                      onChange={(e) => setT(Number(e.target.value))}
                      aria-label="Weight of B (A gets the rest)"
                      data-testid="fuse-weight"
                    />
                    <span className="mono">B {weights[1]!.toFixed(2)}</span>
                  </label>
                )}
                {n === 3 && <WeightPad weights={pad} onChange={setPad} labels={['A', 'B', 'C']} disabled={running} testId="fuse-pad" />}
                {n > 3 && (
                  <div className="field-row">
                    {parents.map((q, i) => (
                      <label key={q.key} className="field">
                        <span>{parentLetter(i)}</span>
                        <input
                          type="number"
                          min={0}
                          max={100}
                          step={0.1}
                          value={Number((many[i] ?? 1 / n).toFixed(3))}
                          onChange={(e) => setMany((m) => m.map((x, k) => (k === i ? Math.max(0, Number(e.target.value) || 0) : x)))}
                          data-testid="fuse-weight-input"
                        />
                      </label>
                    ))}
                  </div>
                )}
              </div>
            )}
            {!grid && mode === 'regions' && n >= 2 && (
              <div className="field-row" data-testid="fuse-regions">
                {parents.map((q, i) => (
                  <label key={q.key} className="field">
                    <span>Region of {parentLetter(i)}</span>
                    <select
                      value={regions[i] ?? 'full'}
                      onChange={(e) => setRegions((r) => r.map((x, k) => (k === i ? (e.target.value as FuseRegion) : x)))}
                    >
                      {FUSE_REGIONS.map((r) => (
                        <option key={r} value={r}>
                          {r === 'attention' ? 'its own attention mask' : r}
                        </option>
                      ))}
                    </select>
                  </label>
                ))}
              </div>
            )}

            <label className="check" htmlFor={ids.grid} style={{ marginTop: 10 }}>
              <input id={ids.grid} type="checkbox" checked={grid} onChange={(e) => setGrid(e.target.checked)} data-testid="fuse-grid" />{' '}
              Grid of modes × weights
            </label>
            {grid && (
              <div className="field-row fuse-grid-modes" role="group" aria-label="Modes of the grid">
                {FUSE_MODES.map((m) => (
                  <label key={m} className="check small">
                    <input
                      type="checkbox"
                      checked={gridModes.includes(m)}
                      onChange={(e) => setGridModes((g) => (e.target.checked ? [...g, m] : g.filter((x) => x !== m)))}
                      data-testid={`fuse-grid-mode-${m}`}
                    />{' '}
                    {MODE_HINTS[m].label}
                  </label>
                ))}
              </div>
            )}
            <div className="btn-row" style={{ marginTop: 12 }}>
              <button
                type="button"
                className="primary"
                onClick={() => void fuse()}
                disabled={running || fuseMissing || !!problem}
                data-testid="fuse-run"
                title={problem}
              >
                {grid ? 'Fuse grid' : 'Fuse'}
              </button>
              <button
                type="button"
                className="secondary"
                onClick={() => jobId && void api.cancel(jobId)}
                disabled={!running}
                data-testid="fuse-cancel"
              >
                Cancel
              </button>
              {problem && n < 2 && <span className="muted small">{problem}</span>}
            </div>
            {submitError && (
              <p className="error-text" role="alert" data-testid="fuse-error">
                {submitError}
              </p>
            )}
          </div>
        </div>

        <div className="panel" data-testid="fuse-panel" data-state={job?.state ?? (jobId ? 'queued' : 'idle')} data-job={jobId ?? ''}>
          {job && job.state !== 'done' && (
            <>
              <div className="stat-row" aria-live="polite">
                <span>
                  <strong data-testid="fuse-phase">
                    {job.state === 'queued' ? 'queued' : isTerminal(job.state) ? job.state : (p?.phase ?? 'starting')}
                  </strong>
                </span>
                {p?.message && running && <span>{p.message}</span>}
                {running && (
                  <span>
                    ETA <strong>{formatDuration(p?.etaSeconds)}</strong>
                  </span>
                )}
              </div>
              {running && <ProgressBar value={p?.step ?? 0} max={p?.total ?? 0} label="Fusion progress" testId="fuse-progress" />}
              {job.error && (
                <p className="error-text" role="alert" data-testid="fuse-error">
                  {job.error.message} <span className="muted">({job.error.code})</span>
                </p>
              )}
              {job.state === 'cancelled' && <p className="warn-text">Cancelled; nothing was saved.</p>}
            </>
          )}
          {result ? <FuseResultPanel result={result} /> : !running && <ImageFrame alt="" placeholder="The fused image appears here" />}
        </div>
      </div>
    </div>
  );
}

function ParentsRead({ fusion }: { fusion: ItemFusion }) {
  return (
    <ol className="fuse-parents-read" data-testid="fuse-parents-read">
      {fusion.parents.map((p, i) => (
        <li key={i} data-source={p.source}>
          <strong>{parentLetter(i)}</strong> <span className="badge">{p.source === 'recorded' ? 'its prompt' : p.source}</span>{' '}
          {fusion.weights?.[i] !== undefined && <span className="mono small">{formatNumber(fusion.weights[i])}</span>}{' '}
          <span>{p.prompt}</span>
        </li>
      ))}
    </ol>
  );
}

function FuseResultPanel({ result }: { result: FuseResult }) {
  const { api } = useStudio();
  const item: LibraryItem = result.item;
  const fusion = item.kind === 'generation' ? item.fusion : undefined;
  if (!fusion) return null;
  const isGrid = fusion.mode === 'grid';
  return (
    <div data-testid="fuse-result" data-mode={fusion.mode}>
      <div className={isGrid ? 'fuse-result grid' : 'fuse-result'}>
        <ImageFrame src={api.imageUrl(item.file)} alt={`Fused: ${fusion.prompt}`} testId="fuse-result-image" pixelated />
        {!isGrid && (
          <dl className="fuse-facts">
            <dt>Mode</dt>
            <dd data-testid="fuse-result-mode">{MODE_HINTS[fusion.mode as FuseMode]?.label ?? fusion.mode}</dd>
            {fusion.decoded ? (
              <>
                <dt>Decoded prompt</dt>
                <dd>
                  <div className="result-prompt" data-testid="fuse-decoded">
                    {fusion.decoded.text}
                  </div>
                  <span className="muted small">
                    the fused embedding read back as text ({fusion.decoded.decoder}, distance {formatNumber(fusion.decoded.distance)})
                  </span>
                </dd>
              </>
            ) : (
              <>
                <dt>Prompt</dt>
                <dd className="result-prompt" data-testid="fuse-result-prompt">
                  {fusion.prompt}
                </dd>
              </>
            )}
            {fusion.dropped && fusion.dropped.length > 0 && (
              <>
                <dt>Dropped</dt>
                <dd className="small">{fusion.dropped.map((d) => d.word).join(', ')} (to fit the token window)</dd>
              </>
            )}
            {fusion.regions && (
              <>
                <dt>Regions</dt>
                <dd className="small">
                  {fusion.regions.map((r) => `${parentLetter(r.parent)} ${r.region} ${Math.round(r.share * 100)}%`).join(' · ')}
                </dd>
              </>
            )}
            <dt>Parents</dt>
            <dd>
              <ParentsRead fusion={fusion} />
            </dd>
          </dl>
        )}
      </div>
      {isGrid && fusion.grid && (
        <div className="fuse-grid-table-wrap">
          <table className="fuse-grid-table" data-testid="fuse-grid-table">
            <thead>
              <tr>
                <th scope="col">mode \ weights</th>
                {fusion.grid.weightSets.map((w, k) => (
                  <th key={k} scope="col" className="mono">
                    {weightsLabel(w)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {fusion.grid.cells.map((row, r) => (
                <tr key={r}>
                  <th scope="row">{MODE_HINTS[fusion.grid!.modes[r]!].label}</th>
                  {row.map((c, k) => (
                    <td key={k} className="small">
                      {c.decoded?.text ?? c.prompt}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          <ParentsRead fusion={fusion} />
        </div>
      )}
      {result.warnings.map((w) => (
        <p key={w} className="warn-text small">
          {w}
        </p>
      ))}
      <p className="muted small">Fused in {formatDuration(result.seconds)}; saved in the Library with its parents.</p>
      <div className="btn-row">
        <button
          type="button"
          className="secondary"
          onClick={() => navigate('library', { view: 'library', select: item.id })}
          data-testid="fuse-open-library"
        >
          Show in Library
        </button>
        {!isGrid && (
          <button
            type="button"
            className="secondary"
            onClick={() => navigate('prompt', { view: 'prompt', prompt: fusion.decoded?.text ?? fusion.prompt })}
            data-testid="fuse-open-prompt"
          >
            Open the prompt in the editor
          </button>
        )}
      </div>
    </div>
  );
}
