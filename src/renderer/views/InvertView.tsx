import { useEffect, useId, useRef, useState } from 'react';
import { studioErrorMessage } from '../../shared/api.js';
import type { InvertResult } from '../../shared/ipc/jobs.js';
import type { Candidate } from '../../shared/ipc/library.js';
import type { ImageInput } from '../../shared/ipc/requests.js';
import type { InversionObjective, InversionPreset } from '../../shared/ipc/common.js';
import { METHOD_LABELS, type InversionMethod } from '../../shared/ipc/methods.js';
import { useEngine, useJobs, useSettings, useStudio } from '../api/context.js';
import { isTerminal, type JobView } from '../api/store.js';
import { useMethods } from '../api/use-methods.js';
import { AttentionImage, libraryAttention } from '../components/attention/AttentionImage.js';
import { DropZone } from '../components/DropZone.js';
import { LossChart } from '../components/LossChart.js';
import { MethodSelect } from '../components/MethodSelect.js';
import { ModelSelect } from '../components/ModelSelect.js';
import { ProgressBar } from '../components/ProgressBar.js';
import { copyText, readAsDataUrl } from '../lib/files.js';
import { formatDuration, formatNumber } from '../lib/format.js';
import { navigate, useNav } from '../nav.js';

/** One image waiting for, running or done with its inversion. */
interface QueueEntry {
  key: string;
  name: string;
  /** Shown as the target: a data URL (picked file) or a library image URL. */
  src: string;
  input: ImageInput;
  jobId?: string;
  submitError?: string;
}

const PRESETS: { value: InversionPreset; label: string; hint: string }[] = [
  { value: 'fast', label: 'Fast', hint: 'fewer iterations, quick look' },
  { value: 'paper', label: 'Paper', hint: 'EDITOR settings: 1000 iterations, 5-step LMS, pixel MSE' },
];
const OBJECTIVES: { value: InversionObjective; label: string }[] = [
  { value: 'pixel', label: 'Pixel MSE (EDITOR)' },
  { value: 'latent', label: 'Latent MSE' },
  { value: 'denoise', label: 'Noise prediction (PH2P-style)' },
];

let keyCounter = 0;
let handledIntent = 0;

export function InvertView() {
  const studio = useStudio();
  const { api } = studio;
  const jobs = useJobs();
  const settings = useSettings();
  const engine = useEngine();
  const nav = useNav();
  const ids = { preset: useId(), objective: useId(), iterations: useId(), seed: useId(), init: useId() };

  const [queue, setQueue] = useState<QueueEntry[]>([]);
  const [selected, setSelected] = useState<string | undefined>();
  const [preset, setPreset] = useState<InversionPreset | undefined>();
  const [objective, setObjective] = useState<InversionObjective | ''>('');
  const [modelSet, setModelSet] = useState<string | undefined>();
  const [chosenMethod, setMethod] = useState<InversionMethod>('editor');
  const methods = useMethods(modelSet);
  // A method the chosen model set cannot run falls back to EDITOR (the choice comes back when it can).
  const method = methods.methods.find((m) => m.method === chosenMethod)?.available ? chosenMethod : 'editor';
  const [iterations, setIterations] = useState('');
  const [seed, setSeed] = useState('');
  const [init, setInit] = useState('');
  const [submitting, setSubmitting] = useState(false);
  const [notice, setNotice] = useState<string | undefined>();

  const effectivePreset = preset ?? settings?.defaults.invert.preset ?? 'fast';

  // "Invert this image" from the Library.
  useEffect(() => {
    const intent = nav.intent;
    if (!intent || intent.view !== 'invert' || intent.seq === handledIntent) return;
    handledIntent = intent.seq;
    const key = `q${++keyCounter}`;
    setQueue((q) => [
      ...q,
      { key, name: intent.image.title, src: api.imageUrl(intent.image.file), input: { source: 'library', id: intent.image.libraryId } },
    ]);
    setSelected(key);
  }, [nav.intent, api]);

  const addFiles = async (files: File[]): Promise<void> => {
    const added: QueueEntry[] = [];
    for (const f of files) {
      try {
        const dataUrl = await readAsDataUrl(f);
        added.push({
          key: `q${++keyCounter}`,
          name: f.name,
          src: dataUrl,
          input: { source: 'data', dataUrl, name: f.name.slice(0, 256) || 'image' },
        });
      } catch (e) {
        setNotice(`Could not read ${f.name}: ${studioErrorMessage(e)}`);
      }
    }
    if (added.length === 0) return;
    setQueue((q) => [...q, ...added]);
    setSelected((s) => s ?? added[0]!.key);
  };

  const jobOf = (e: QueueEntry): JobView | undefined => (e.jobId ? jobs.get(e.jobId) : undefined);
  const pending = queue.filter((e) => !e.jobId);
  const active = queue.filter((e) => {
    const j = jobOf(e);
    return e.jobId && (!j || !isTerminal(j.state));
  });

  const run = async (): Promise<void> => {
    setSubmitting(true);
    setNotice(undefined);
    const iters = Number.parseInt(iterations, 10);
    const seedN = Number.parseInt(seed, 10);
    try {
      for (const entry of pending) {
        try {
          const { jobId } = await api.invert({
            image: entry.input,
            preset: effectivePreset,
            ...(objective ? { objective } : {}),
            ...(modelSet ? { modelSet } : {}),
            ...(Number.isFinite(iters) && iters > 0 ? { iterations: iters } : {}),
            ...(Number.isFinite(seedN) && seedN >= 0 ? { seed: seedN } : {}),
            ...(init.trim() && method === 'editor' ? { init: init.trim() } : {}),
            ...(method !== 'editor' ? { method } : {}),
          });
          setQueue((q) => q.map((x) => (x.key === entry.key ? { ...x, jobId } : x)));
          setSelected((s) => s ?? entry.key);
        } catch (e) {
          setQueue((q) => q.map((x) => (x.key === entry.key ? { ...x, submitError: studioErrorMessage(e) } : x)));
        }
      }
    } finally {
      setSubmitting(false);
    }
  };

  const cancel = async (entries: QueueEntry[]): Promise<void> => {
    for (const e of entries) {
      if (!e.jobId) continue;
      try {
        await api.cancel(e.jobId);
      } catch (err) {
        setNotice(`Cancel failed: ${studioErrorMessage(err)}`);
      }
    }
  };

  const remove = (key: string): void => {
    setQueue((q) => q.filter((x) => x.key !== key));
    setSelected((s) => (s === key ? undefined : s));
  };

  // Follow the running job unless the user picked another entry.
  const followRunning = useRef(true);
  const running = queue.find((e) => jobOf(e)?.state === 'running');
  useEffect(() => {
    if (running && followRunning.current) setSelected(running.key);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- follow a newly started job, not every update of it
  }, [running?.key]);

  const current = queue.find((e) => e.key === selected) ?? queue[queue.length - 1];
  const job = current ? jobOf(current) : undefined;
  const invertMissing = engine.capabilities.length > 0 && !engine.capabilities.includes('invert');

  return (
    <div className="invert-view" data-testid="view-invert">
      <div className="view-head">
        <h1>Invert</h1>
        <span className="muted">Find the prompt behind an image (EDITOR: caption → refine the text embedding → decode to text).</span>
      </div>
      {invertMissing && (
        <p className="banner banner-warn" role="note" data-testid="invert-unavailable">
          The inversion engine is not available in this build; jobs will fail with NOT_AVAILABLE.
        </p>
      )}
      <div className="invert-layout">
        <div className="invert-side">
          <DropZone onFiles={(f) => void addFiles(f)} label="Drop images here or click to choose (several make a queue)" />
          {queue.length > 0 && (
            <ul className="queue" aria-label="Inversion queue" data-testid="invert-queue">
              {queue.map((e) => {
                const j = jobOf(e);
                const state = e.submitError ? 'failed' : (j?.state ?? (e.jobId ? 'queued' : 'waiting'));
                return (
                  <li key={e.key}>
                    <div className={`queue-item${current?.key === e.key ? ' selected' : ''}`} data-testid="queue-item" data-state={state}>
                      <img src={e.src} alt="" />
                      <button
                        type="button"
                        className="btn-ghost queue-name"
                        onClick={() => {
                          followRunning.current = false;
                          setSelected(e.key);
                        }}
                        aria-pressed={current?.key === e.key}
                        title={e.name}
                      >
                        {e.name}
                      </button>
                      <span className="btn-row">
                        <StateBadge state={state} progress={j} />
                        {!e.jobId && (
                          <button
                            type="button"
                            className="btn-ghost"
                            aria-label={`Remove ${e.name} from the queue`}
                            onClick={() => remove(e.key)}
                          >
                            ✕
                          </button>
                        )}
                      </span>
                    </div>
                  </li>
                );
              })}
            </ul>
          )}

          <div className="panel" style={{ marginTop: 12 }}>
            <h3>Settings</h3>
            <div className="field-row">
              <label className="field" htmlFor={ids.preset}>
                <span>Preset</span>
                <select
                  id={ids.preset}
                  value={effectivePreset}
                  onChange={(e) => setPreset(e.target.value as InversionPreset)}
                  data-testid="invert-preset"
                >
                  {PRESETS.map((p) => (
                    <option key={p.value} value={p.value} title={p.hint}>
                      {p.label}
                    </option>
                  ))}
                </select>
              </label>
              <label className="field" htmlFor={ids.objective}>
                <span>Objective</span>
                <select
                  id={ids.objective}
                  value={objective}
                  disabled={method !== 'editor'}
                  title={method !== 'editor' ? `${METHOD_LABELS[method]} has its own objective` : undefined}
                  onChange={(e) => setObjective(e.target.value as InversionObjective | '')}
                  data-testid="invert-objective"
                >
                  <option value="">Preset default</option>
                  {OBJECTIVES.map((o) => (
                    <option key={o.value} value={o.value}>
                      {o.label}
                    </option>
                  ))}
                </select>
              </label>
              <ModelSelect value={modelSet} onChange={setModelSet} testId="invert-model" />
            </div>
            <div className="field-row" style={{ marginTop: 8 }}>
              <MethodSelect value={method} methods={methods.methods} onChange={setMethod} testId="invert-method" />
            </div>
            <details style={{ marginTop: 8 }} data-testid="invert-advanced">
              <summary>Advanced</summary>
              <div className="field-row" style={{ marginTop: 8 }}>
                <label className="field" htmlFor={ids.iterations}>
                  <span>Iterations</span>
                  <input
                    id={ids.iterations}
                    type="number"
                    min={1}
                    max={10000}
                    placeholder="preset"
                    value={iterations}
                    onChange={(e) => setIterations(e.target.value)}
                    data-testid="invert-iterations"
                  />
                </label>
                <label className="field" htmlFor={ids.seed}>
                  <span>Noise seed</span>
                  <input id={ids.seed} type="number" min={0} placeholder="0" value={seed} onChange={(e) => setSeed(e.target.value)} />
                </label>
              </div>
              <label className="field" htmlFor={ids.init} style={{ marginTop: 8 }}>
                <span>Start from text (instead of a caption)</span>
                <input
                  id={ids.init}
                  type="text"
                  value={init}
                  onChange={(e) => setInit(e.target.value)}
                  placeholder={method === 'editor' ? 'optional' : 'EDITOR only'}
                  disabled={method !== 'editor'}
                />
              </label>
            </details>
            <div className="btn-row" style={{ marginTop: 12 }}>
              <button
                type="button"
                className="primary"
                onClick={() => void run()}
                disabled={pending.length === 0 || submitting}
                data-testid="invert-run"
              >
                {pending.length > 1 ? `Run ${pending.length} images` : 'Run'}
              </button>
              <button
                type="button"
                className="secondary"
                onClick={() => current && void cancel([current])}
                disabled={!current?.jobId || !job || isTerminal(job.state)}
                data-testid="invert-cancel"
              >
                Cancel
              </button>
              {active.length > 1 && (
                <button type="button" className="secondary" onClick={() => void cancel(active)}>
                  Cancel all
                </button>
              )}
            </div>
            {notice && (
              <p className="error-text small" role="alert">
                {notice}
              </p>
            )}
          </div>
        </div>

        <div className="invert-main">
          {current ? (
            <InversionPanel entry={current} job={job} />
          ) : (
            <div className="panel muted" data-testid="invert-empty">
              Add an image to start. The studio captions it, refines the text embedding until the model regenerates the image, then reads
              the embedding back as text. Candidates are snapshotted along the way; cancelling keeps the best one so far.
            </div>
          )}
        </div>
      </div>
    </div>
  );
}

function StateBadge({ state, progress }: { state: string; progress?: JobView | undefined }) {
  const tone = state === 'done' ? 'ok' : state === 'failed' ? 'bad' : state === 'cancelled' ? 'warn' : state === 'running' ? 'busy' : '';
  const pct =
    state === 'running' && progress?.progress && progress.progress.total > 0
      ? ` ${Math.round((100 * progress.progress.step) / progress.progress.total)}%`
      : '';
  return (
    <span className={`badge ${tone}`}>
      {state}
      {pct}
    </span>
  );
}

function InversionPanel({ entry, job }: { entry: QueueEntry; job: JobView | undefined }) {
  const { api } = useStudio();
  const res = (job?.result ?? job?.partial) as InvertResult | undefined;
  const inversion = res && res.kind === 'invert' ? res : undefined;
  const [chosen, setChosen] = useState<string | undefined>();
  const [copied, setCopied] = useState(false);
  useEffect(() => setChosen(undefined), [entry.key, inversion]);

  const p = job?.progress;
  const state = entry.submitError ? 'failed' : (job?.state ?? (entry.jobId ? 'queued' : 'waiting'));
  const elapsed = job?.startedAt ? ((job.endedAt ?? Date.now()) - job.startedAt) / 1000 : undefined;
  const iters = p?.phase === 'refining' ? { step: p.step, total: p.total } : job?.iterations;
  const [logScale, setLogScale] = useState(false);
  // Best first, as the engine ranked them.
  const candidates: Candidate[] = inversion?.candidates ?? [];
  const prompt = chosen ?? inversion?.prompt;
  // A chosen candidate with its own regeneration is shown (with its overlay) instead of the best one.
  const chosenFile = chosen !== undefined ? candidates.find((c) => c.prompt === chosen && c.file)?.file : undefined;
  const item = inversion?.item;
  const preview = item ? api.imageUrl(chosenFile ?? item.file) : job?.preview;
  const targetFile = item?.kind === 'inversion' ? item.inversion.targetFile : undefined;

  return (
    <div data-testid="inversion-panel" data-state={state}>
      <div className="panel">
        <div className="view-head" style={{ marginBottom: 4 }}>
          <h2 style={{ margin: 0 }}>{entry.name}</h2>
          <StateBadge state={state} progress={job} />
          <span className="spacer" />
          {job?.state === 'queued' && job.position !== undefined && (
            <span className="muted small">{job.position === 0 ? 'next in line' : `${job.position} ahead`}</span>
          )}
        </div>
        {(p || state === 'running') && (
          <>
            <div className="stat-row" aria-live="polite">
              <span>
                Phase <strong data-testid="invert-phase">{job && isTerminal(job.state) ? job.state : (p?.phase ?? 'starting')}</strong>
              </span>
              <span>
                Iteration <strong data-testid="invert-iteration">{iters ? `${iters.step} / ${iters.total}` : '– / –'}</strong>
              </span>
              {p && p.phase !== 'refining' && !isTerminal(job?.state ?? 'queued') && (
                <span>
                  Step{' '}
                  <strong>
                    {p.step} / {p.total}
                  </strong>
                </span>
              )}
              {p?.loss !== undefined && (
                <span>
                  Loss <strong>{formatNumber(p.loss)}</strong>
                </span>
              )}
              {p?.lr !== undefined && (
                <span>
                  LR <strong>{formatNumber(p.lr)}</strong>
                </span>
              )}
              <span>
                ETA <strong data-testid="invert-eta">{isTerminal(job?.state ?? 'queued') ? '–' : formatDuration(p?.etaSeconds)}</strong>
              </span>
              <span>
                Elapsed <strong>{formatDuration(elapsed)}</strong>
              </span>
            </div>
            <ProgressBar
              value={iters?.step ?? 0}
              max={iters?.total ?? 0}
              label="Inversion progress (iterations)"
              testId="invert-progress"
            />
            {p?.message && <p className="muted small">{p.message}</p>}
          </>
        )}
        {job?.error && (
          <p className="error-text" role="alert" data-testid="invert-error">
            {job.error.code === 'ENGINE_CRASHED' ? 'The engine crashed during this inversion; it was restarted. ' : ''}
            {job.error.message} <span className="muted">({job.error.code})</span>
          </p>
        )}
        {entry.submitError && (
          <p className="error-text" role="alert" data-testid="invert-error">
            {entry.submitError}
          </p>
        )}
      </div>

      <div className="panel">
        <div className="pair">
          <AttentionImage
            src={entry.src}
            alt={`Target image ${entry.name}`}
            testId="invert-target"
            caption="Target"
            attention={item && targetFile ? libraryAttention(item.id, targetFile) : undefined}
          />
          <AttentionImage
            attention={item ? libraryAttention(item.id, chosenFile) : undefined}
            src={preview}
            alt="Current reconstruction"
            testId="invert-preview"
            placeholder={state === 'running' ? 'Waiting for the first preview…' : 'Reconstruction appears here'}
            caption={
              chosenFile
                ? 'Chosen candidate'
                : inversion
                  ? job?.state === 'cancelled'
                    ? 'Best so far'
                    : 'Best candidate'
                  : job?.preview
                    ? `Current (step ${p?.step ?? '?'})`
                    : 'Current'
            }
            pixelated
          />
        </div>
        <div style={{ marginTop: 12, maxWidth: 640 }}>
          <LossChart values={job?.loss ?? []} label="Objective" log={logScale} />
          <label className="check small muted">
            <input type="checkbox" checked={logScale} onChange={(e) => setLogScale(e.target.checked)} /> log scale
          </label>
        </div>
      </div>

      {inversion && (
        <div className="panel" data-testid="invert-result">
          <div className="view-head" style={{ marginBottom: 6 }}>
            <h2 style={{ margin: 0 }}>Prompt</h2>
            {inversion.method && inversion.method !== 'editor' && (
              <span className="badge" data-testid="invert-result-method">
                {METHOD_LABELS[inversion.method]}
              </span>
            )}
            {job?.state === 'cancelled' && (
              <span className="badge warn" data-testid="invert-cancelled">
                cancelled · best so far
              </span>
            )}
            <span className="muted small">
              {inversion.iterations} iterations in {formatDuration(inversion.seconds)}
            </span>
          </div>
          <div className="result-prompt" data-testid="result-prompt" aria-label="Recovered prompt">
            {prompt}
          </div>
          {inversion.initialPrompt && (
            <p className="muted small">
              Started from: <span className="mono">{inversion.initialPrompt}</span>
            </p>
          )}
          {inversion.warnings.map((w) => (
            <p key={w} className="warn-text small">
              {w}
            </p>
          ))}
          <div className="btn-row">
            <button
              type="button"
              className="secondary"
              data-testid="copy-prompt"
              onClick={() => {
                void copyText(prompt ?? '').then(() => {
                  setCopied(true);
                  setTimeout(() => setCopied(false), 1500);
                });
              }}
            >
              {copied ? 'Copied' : 'Copy'}
            </button>
            <button
              type="button"
              className="primary"
              data-testid="open-in-prompt"
              onClick={() => navigate('prompt', { view: 'prompt', prompt: prompt ?? '' })}
            >
              Open in Prompt editor
            </button>
            {item && (
              <button
                type="button"
                className="secondary"
                data-testid="edit-this-prompt"
                title="Edit the shown image by editing its prompt (the Edit view)"
                onClick={() => navigate('edit', { view: 'edit', item, ...(chosenFile ? { file: chosenFile } : {}) })}
              >
                Edit this prompt
              </button>
            )}
          </div>
        </div>
      )}

      {candidates.length > 0 && (
        <div className="panel">
          <h3>Candidates ({candidates.length})</h3>
          <ul className="candidates" data-testid="candidates">
            {candidates.map((c, i) => (
              <li key={`${c.iteration ?? i}-${i}`}>
                <button
                  type="button"
                  className={`candidate${prompt === c.prompt ? ' selected' : ''}`}
                  onClick={() => setChosen(c.prompt)}
                  aria-pressed={prompt === c.prompt}
                  data-testid="candidate"
                >
                  {c.file ? <img src={api.imageUrl(c.file)} alt="" /> : <span className="thumb-empty" aria-hidden="true" />}
                  <span>
                    <span className="candidate-prompt">{c.prompt}</span>
                    <span className="candidate-score">
                      score {formatNumber(c.score)}
                      {c.iteration !== undefined ? ` · it ${c.iteration}` : ''}
                      {i === 0 ? ' · best' : ''}
                    </span>
                  </span>
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
