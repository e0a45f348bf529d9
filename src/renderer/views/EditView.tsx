/**
 * Edit view (docs/editing.md, "Studio"): edit an image by editing its prompt. The source image
 * and its prompt; the prompt in the editor, with inserted, replaced and reweighted words marked
 * and removed ones shown struck through where they were, as you type (the engine's own word diff,
 * shared/prompt-diff.ts); mode and attention-step sliders; Generate runs an `edit` job and shows
 * before/after with a compare slider, a difference view, the mask and the report. The edit is
 * saved in the Library, linked to its source. Opened from Invert, Prompt or Library (an intent)
 * or from the sidebar (pick a library image or drop a PNG that carries its parameters).
 */
import { useCallback, useDeferredValue, useEffect, useId, useMemo, useState } from 'react';
import { studioErrorMessage } from '../../shared/api.js';
import type { EditModeChoice } from '../../shared/ipc/edit.js';
import type { EditResult } from '../../shared/ipc/jobs.js';
import type { LibraryItem } from '../../shared/ipc/library.js';
import { diffPrompts } from '../../shared/prompt-diff.js';
import { useEngine, useJob, useLibrary, useStudio } from '../api/context.js';
import { isTerminal } from '../api/store.js';
import { DropZone } from '../components/DropZone.js';
import { CompareView } from '../components/edit/CompareView.js';
import { editCounts, editMarks, segments, sourceHighlights } from '../components/edit/edit-diff.js';
import { describeEditReport } from '../components/edit/edit-report.js';
import { sourceFromItem, sourceFromPng, type EditSourceView } from '../components/edit/edit-source.js';
import { ImageFrame } from '../components/ImageFrame.js';
import { ProgressBar } from '../components/ProgressBar.js';
import { readAsDataUrl } from '../lib/files.js';
import { formatDuration } from '../lib/format.js';
import { navigate, useNav } from '../nav.js';
import { PromptEditor } from '../prompt/PromptEditor.js';
import '../styles/edit.css';

const MODES: { value: EditModeChoice; label: string; hint: string }[] = [
  { value: 'auto', label: 'Auto', hint: 'blend for removals and replacements, attention for insertions and reweights' },
  { value: 'blend', label: 'Attention + local blend', hint: "outside the edited words' mask every step keeps the source" },
  {
    value: 'attention',
    label: 'Attention (prompt-to-prompt)',
    hint: "the edit is sampled with the source's attention for the words they share",
  },
  { value: 'regenerate', label: 'Regenerate', hint: 'the edited prompt alone, same seed and settings (the baseline)' },
];
const DEFAULTS = { crossSteps: 0.8, selfSteps: 0.4, threshold: 0.3 };
/** Library images offered when the view is opened without a source. */
const PICK_LIMIT = 24;

let handledIntent = 0;

export function EditView() {
  const { api } = useStudio();
  const nav = useNav();
  const library = useLibrary();
  const engine = useEngine();
  const ids = { mode: useId(), cross: useId(), self: useId(), threshold: useId() };

  const [source, setSource] = useState<EditSourceView | undefined>();
  const [sourceError, setSourceError] = useState<string | undefined>();
  const [picking, setPicking] = useState(false);
  const [text, setText] = useState('');
  const [replace, setReplace] = useState<{ text: string; seq: number } | undefined>();
  const [mode, setMode] = useState<EditModeChoice>('auto');
  const [crossSteps, setCrossSteps] = useState(DEFAULTS.crossSteps);
  const [selfSteps, setSelfSteps] = useState(DEFAULTS.selfSteps);
  const [threshold, setThreshold] = useState(DEFAULTS.threshold);
  const [suppress, setSuppress] = useState(false);
  const [jobId, setJobId] = useState<string | undefined>();
  const [submitError, setSubmitError] = useState<string | undefined>();
  const job = useJob(jobId);

  const open = useCallback((s: EditSourceView | { error: string }): void => {
    if ('error' in s) {
      setSourceError(s.error);
      return;
    }
    setSource(s);
    setSourceError(undefined);
    setPicking(false);
    setText(s.prompt);
    setReplace((r) => ({ text: s.prompt, seq: (r?.seq ?? 0) + 1 }));
    setJobId(undefined);
    setSubmitError(undefined);
  }, []);

  // "Edit this prompt" from Invert, Prompt or Library.
  useEffect(() => {
    const intent = nav.intent;
    if (!intent || intent.view !== 'edit' || intent.seq === handledIntent) return;
    handledIntent = intent.seq;
    open(sourceFromItem(intent.item, intent.file));
  }, [nav.intent, open]);

  const typed = useDeferredValue(text);
  const diff = useMemo(() => (source ? diffPrompts(source.prompt, typed) : undefined), [source, typed]);
  const marks = useMemo(() => (diff ? editMarks(diff) : []), [diff]);
  const sourceParts = useMemo(() => (source && diff ? segments(source.prompt, sourceHighlights(diff)) : []), [source, diff]);
  const hasRemoval = !!diff?.edits.some((e) => e.kind === 'removal' && !e.punctuation);

  const running = !!job && !isTerminal(job.state);
  const result = job?.result?.kind === 'edit' ? (job.result as EditResult) : undefined;
  const blendUsed = mode === 'auto' || mode === 'blend';
  const editMissing = engine.capabilities.length > 0 && !engine.capabilities.includes('edit');

  const generate = useCallback(async (): Promise<void> => {
    setSubmitError(undefined);
    if (!source) return;
    if (!text.trim()) {
      setSubmitError('Write the edited prompt first.');
      return;
    }
    try {
      const { jobId: id } = await api.edit({
        source: source.input,
        prompt: text,
        mode,
        crossSteps,
        selfSteps,
        ...(blendUsed && threshold !== DEFAULTS.threshold ? { blend: { threshold } } : {}),
        ...(suppress && hasRemoval ? { suppress: true } : {}),
      });
      setJobId(id);
    } catch (e) {
      setSubmitError(studioErrorMessage(e));
    }
  }, [api, source, text, mode, crossSteps, selfSteps, blendUsed, threshold, suppress, hasRemoval]);

  const onFiles = async (files: File[]): Promise<void> => {
    const f = files[0];
    if (!f) return;
    try {
      const [bytes, dataUrl] = await Promise.all([f.arrayBuffer().then((b) => new Uint8Array(b)), readAsDataUrl(f)]);
      open(sourceFromPng(bytes, dataUrl, f.name));
    } catch (e) {
      setSourceError(`could not read ${f.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  const pickable = useMemo(() => library.items.slice(0, PICK_LIMIT), [library.items]);
  const showPicker = picking || !source;
  const p = job?.progress;
  const identical = !!diff?.identical;

  return (
    <div data-testid="view-edit">
      <div className="view-head">
        <h1>Edit</h1>
        <span className="muted">Change the words; the image changes there. Ctrl+Enter generates.</span>
      </div>
      {editMissing && (
        <p className="warn-text" role="status">
          This engine build cannot edit images (no &quot;edit&quot; capability).
        </p>
      )}
      {sourceError && (
        <p className="error-text" role="alert" data-testid="edit-source-error">
          {sourceError}
        </p>
      )}
      {showPicker && (
        <SourcePicker
          items={pickable}
          onPick={(item) => open(sourceFromItem(item))}
          onFiles={(f) => void onFiles(f)}
          onClose={source ? () => setPicking(false) : undefined}
        />
      )}
      {source && (
        <div className="edit-layout">
          <div>
            <div className="panel edit-source" data-testid="edit-source" data-kind={source.kind}>
              <ImageFrame
                src={source.file ? api.imageUrl(source.file) : source.dataUrl}
                alt={`Source: ${source.prompt}`}
                testId="edit-source-image"
                pixelated
              />
              <div>
                <div className="view-head" style={{ marginBottom: 4 }}>
                  <h2 style={{ margin: 0 }}>Source</h2>
                  <span className="badge">{source.kind === 'before' ? 'before of an edit' : source.kind}</span>
                  <span className="spacer" />
                  <button type="button" className="small-btn secondary" onClick={() => setPicking(true)} data-testid="edit-change-source">
                    Change source
                  </button>
                </div>
                <div className="result-prompt edit-source-prompt" data-testid="edit-source-prompt" aria-label="Source prompt">
                  {sourceParts.map((s, i) =>
                    s.kind ? (
                      <mark key={i} className={`hl-${s.kind}`} title={s.title} data-kind={s.kind}>
                        {s.text}
                      </mark>
                    ) : (
                      <span key={i}>{s.text}</span>
                    ),
                  )}
                </div>
                <p className="muted small">{source.details}</p>
              </div>
            </div>

            <PromptEditor
              value={text}
              replace={replace}
              onChange={setText}
              marks={marks}
              onSubmit={() => void generate()}
              label="Edited prompt: remove, replace, insert or reweight words of the source prompt"
              testId="edit-editor"
              placeholder="The source prompt with your change"
            />
            <p className="small edit-diff" data-testid="edit-diff" data-identical={identical ? 'true' : 'false'} aria-live="polite">
              {!diff || identical ? (
                <span className="muted">Same as the source: remove, replace, insert or reweight a word.</span>
              ) : (
                <>
                  <strong>{editCounts(diff) || 'punctuation only'}</strong>
                  <span className="legend muted" aria-hidden="true">
                    <span className="tok-inserted">inserted</span> <span className="tok-replaced">replaced</span>{' '}
                    <span className="tok-removed">removed</span> <span className="tok-reweighted">reweighted</span>
                  </span>
                </>
              )}
            </p>

            <div className="panel">
              <div className="field-row edit-controls">
                <label className="field" htmlFor={ids.mode}>
                  <span>Mode</span>
                  <select id={ids.mode} value={mode} onChange={(e) => setMode(e.target.value as EditModeChoice)} data-testid="edit-mode">
                    {MODES.map((m) => (
                      <option key={m.value} value={m.value} title={m.hint}>
                        {m.label}
                      </option>
                    ))}
                  </select>
                </label>
                <Slider
                  id={ids.cross}
                  label="Cross-attention steps"
                  value={crossSteps}
                  onChange={setCrossSteps}
                  disabled={mode === 'regenerate'}
                  testId="edit-cross-steps"
                  title="Fraction of the steps that use the source's cross-attention for the words both prompts share"
                />
                <Slider
                  id={ids.self}
                  label="Self-attention steps"
                  value={selfSteps}
                  onChange={setSelfSteps}
                  disabled={mode === 'regenerate'}
                  testId="edit-self-steps"
                  title="Fraction of the steps that use the source's self-attention in the coarse layers (keeps the layout)"
                />
                <Slider
                  id={ids.threshold}
                  label="Mask threshold"
                  value={threshold}
                  onChange={setThreshold}
                  disabled={!blendUsed}
                  testId="edit-threshold"
                  title="Where the edited words' attention is above this (of its maximum), the edit may change the image"
                />
              </div>
              <p className="muted small">{MODES.find((m) => m.value === mode)?.hint}</p>
              <label
                className="check small"
                title="Guides the sampling away from the removed words (SEGA-style), where deleting them leaves traces"
              >
                <input
                  type="checkbox"
                  checked={suppress && hasRemoval}
                  disabled={!hasRemoval}
                  onChange={(e) => setSuppress(e.target.checked)}
                  data-testid="edit-suppress"
                />{' '}
                Suppress the removed words (negative guidance)
              </label>
              <div className="btn-row" style={{ marginTop: 12 }}>
                <button
                  type="button"
                  className="primary"
                  onClick={() => void generate()}
                  disabled={running || identical || editMissing}
                  data-testid="edit-generate"
                >
                  Generate
                </button>
                <button
                  type="button"
                  className="secondary"
                  onClick={() => jobId && void api.cancel(jobId)}
                  disabled={!running}
                  data-testid="edit-cancel"
                >
                  Cancel
                </button>
              </div>
              {submitError && (
                <p className="error-text" role="alert" data-testid="edit-error">
                  {submitError}
                </p>
              )}
            </div>
          </div>

          <div className="panel" data-testid="edit-panel" data-state={job?.state ?? (jobId ? 'queued' : 'idle')} data-job={jobId ?? ''}>
            {job && job.state !== 'done' && (
              <>
                <div className="stat-row" aria-live="polite">
                  <span>
                    <strong data-testid="edit-phase">
                      {job.state === 'queued' ? 'queued' : isTerminal(job.state) ? job.state : (p?.phase ?? 'starting')}
                    </strong>
                  </span>
                  {p && running && (
                    <span>
                      Step{' '}
                      <strong>
                        {p.step} / {p.total}
                      </strong>
                    </span>
                  )}
                  {running && (
                    <span>
                      ETA <strong>{formatDuration(p?.etaSeconds)}</strong>
                    </span>
                  )}
                </div>
                {running && <ProgressBar value={p?.step ?? 0} max={p?.total ?? 0} label="Edit progress" testId="edit-progress" />}
                {job.error && (
                  <p className="error-text" role="alert" data-testid="edit-error">
                    {job.error.message} <span className="muted">({job.error.code})</span>
                  </p>
                )}
                {job.state === 'cancelled' && (
                  <p className="warn-text" data-testid="edit-cancelled">
                    Cancelled; nothing was saved.
                  </p>
                )}
              </>
            )}
            {result ? (
              <EditResultPanel result={result} onContinue={(item) => open(sourceFromItem(item))} />
            ) : (
              !running && <CompareEmpty src={source.file ? api.imageUrl(source.file) : source.dataUrl} />
            )}
          </div>
        </div>
      )}
    </div>
  );
}

function CompareEmpty({ src }: { src: string | undefined }) {
  return (
    <ImageFrame src={src} alt="The source, until the edit is generated" caption="The edit appears here, beside its source" pixelated />
  );
}

function EditResultPanel({ result, onContinue }: { result: EditResult; onContinue: (item: LibraryItem) => void }) {
  const { api } = useStudio();
  const report = describeEditReport(result.report);
  return (
    <div data-testid="edit-result">
      <CompareView before={api.imageUrl(result.sourceFile)} after={api.imageUrl(result.item.file)} mask={result.mask} />
      <dl className="edit-facts">
        <dt>Edit</dt>
        <dd data-testid="edit-result-diff">{result.diff.summary}</dd>
        <dt>Mode</dt>
        <dd data-testid="edit-mode-used">
          <strong>{result.mode}</strong> <span className="muted">({result.modeReason})</span>
        </dd>
        <dt>Changed</dt>
        <dd data-testid="edit-report">
          <div data-testid="edit-report-outside">{report.outside}</div>
          <div className="muted">{report.inside}</div>
        </dd>
        {result.mask.words.source.length + result.mask.words.edited.length > 0 && (
          <>
            <dt>Mask from</dt>
            <dd>{[...new Set([...result.mask.words.source, ...result.mask.words.edited])].join(', ')}</dd>
          </>
        )}
      </dl>
      {result.warnings.map((w) => (
        <p key={w} className="warn-text small">
          {w}
        </p>
      ))}
      <p className="muted small">Edited in {formatDuration(result.seconds)}; saved in the Library, linked to its source.</p>
      <div className="btn-row">
        <button
          type="button"
          className="secondary"
          onClick={() => navigate('library', { view: 'library', select: result.item.id })}
          data-testid="edit-open-library"
        >
          Show in Library
        </button>
        <button type="button" className="secondary" onClick={() => onContinue(result.item)} data-testid="edit-continue">
          Edit this result
        </button>
      </div>
    </div>
  );
}

function Slider(props: {
  id: string;
  label: string;
  value: number;
  onChange: (v: number) => void;
  disabled?: boolean;
  testId: string;
  title: string;
}) {
  return (
    <label className="field edit-slider" htmlFor={props.id} title={props.title}>
      <span>
        {props.label} <strong className="mono">{props.value.toFixed(2)}</strong>
      </span>
      <input
        id={props.id}
        type="range"
        min={0}
        max={1}
        step={0.05}
        value={props.value}
        disabled={props.disabled}
        onChange={(e) => props.onChange(Number(e.target.value))}
        data-testid={props.testId}
      />
    </label>
  );
}

function SourcePicker({
  items,
  onPick,
  onFiles,
  onClose,
}: {
  items: LibraryItem[];
  onPick: (item: LibraryItem) => void;
  onFiles: (files: File[]) => void;
  onClose: (() => void) | undefined;
}) {
  const { api } = useStudio();
  return (
    <div className="panel edit-picker" data-testid="edit-picker">
      <div className="view-head" style={{ marginBottom: 6 }}>
        <h2 style={{ margin: 0 }}>Choose the image to edit</h2>
        <span className="muted small">
          a generation, an edit or an inversion&apos;s result from the Library, or a PNG that carries its prompt and seed
        </span>
        <span className="spacer" />
        {onClose && (
          <button type="button" className="btn-ghost" onClick={onClose}>
            Keep the current source
          </button>
        )}
      </div>
      <DropZone onFiles={onFiles} label="Drop a PNG made by Inversion Studio or A1111, or click to choose" inputTestId="edit-image-input" />
      {items.length > 0 ? (
        <ul className="edit-pick-grid" aria-label="Library images">
          {items.map((item) => {
            const prompt = item.kind === 'generation' ? item.params.prompt : item.inversion.prompt;
            return (
              <li key={item.id}>
                <button
                  type="button"
                  className="tile"
                  onClick={() => onPick(item)}
                  data-testid="edit-pick-item"
                  data-id={item.id}
                  title={prompt}
                >
                  <img src={api.imageUrl(item.file)} alt={prompt} loading="lazy" />
                  <span className="tile-caption">{item.kind === 'generation' ? (item.edit ? 'edit' : 'generation') : 'inversion'}</span>
                </button>
              </li>
            );
          })}
        </ul>
      ) : (
        <p className="muted small">The Library is empty: generate or invert an image first.</p>
      )}
    </div>
  );
}
