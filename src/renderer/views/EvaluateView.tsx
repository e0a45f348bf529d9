import { useCallback, useEffect, useId, useState } from 'react';
import { studioErrorMessage } from '../../shared/api.js';
import {
  datasetLabel,
  EVAL_ABLATION_SETTINGS,
  type EvalAblation,
  type EvalSpec,
  type EvalState,
  type Evaluation,
  type EvaluationSummary,
} from '../../shared/ipc/eval.js';
import { METHOD_LABELS, type InversionMethod } from '../../shared/ipc/methods.js';
import { useJobs, useStudio } from '../api/context.js';
import { isTerminal, type JobView } from '../api/store.js';
import { useMethods } from '../api/use-methods.js';
import { EvalFigures } from '../components/eval/EvalFigures.js';
import { MethodChoice } from '../components/eval/MethodChoice.js';
import { ReportTable } from '../components/eval/ReportTable.js';
import { ModelSelect } from '../components/ModelSelect.js';
import { ProgressBar } from '../components/ProgressBar.js';
import { specFromForm, unitsText, type EvalForm } from '../lib/evaluation.js';
import { formatDate, formatDuration } from '../lib/format.js';

const INITIAL_FORM: EvalForm = {
  datasetKind: 'shapes',
  shapesN: '10',
  folder: '',
  methods: new Set<InversionMethod>(['editor', 'caption']),
  limit: '',
  iterations: '',
  seeds: '',
  preset: 'fast',
  regenSteps: '',
  ablationSetting: '',
  ablationValues: '',
};

const STATE_TONE: Record<EvalState, string> = { done: 'ok', running: 'busy', cancelled: 'warn', interrupted: 'warn', failed: 'bad' };

const methodList = (spec: EvalSpec): string => spec.methods.map((m) => METHOD_LABELS[m]).join(', ');

export function EvaluateView() {
  const { api } = useStudio();
  const jobs = useJobs();
  const ids = {
    shapesN: useId(),
    folder: useId(),
    limit: useId(),
    iterations: useId(),
    seeds: useId(),
    preset: useId(),
    regen: useId(),
    ablation: useId(),
    values: useId(),
  };
  const [form, setForm] = useState<EvalForm>(INITIAL_FORM);
  const set = <K extends keyof EvalForm>(key: K, value: EvalForm[K]): void => setForm((f) => ({ ...f, [key]: value }));
  // A shapes dataset is evaluated on the shapes set unless another is chosen (the engine's default too).
  const methodsSet = form.modelSet ?? (form.datasetKind === 'shapes' ? 'shapes' : undefined);
  const methods = useMethods(methodsSet);

  const [runs, setRuns] = useState<EvaluationSummary[] | undefined>();
  const [listError, setListError] = useState<string | undefined>();
  const [selectedId, setSelectedId] = useState<string | undefined>();
  const [report, setReport] = useState<Evaluation | undefined>();
  const [reportError, setReportError] = useState<string | undefined>();
  const [jobId, setJobId] = useState<string | undefined>();
  const [submitting, setSubmitting] = useState(false);
  const [notice, setNotice] = useState<string | undefined>();

  // The job to follow: the one started here, else a queued or running evaluation (after a reload).
  const evalJobs = [...jobs.values()].filter((j) => j.kind === 'eval');
  const job: JobView | undefined = (jobId ? jobs.get(jobId) : undefined) ?? evalJobs.find((j) => !isTerminal(j.state));
  const live = job && !isTerminal(job.state) ? job : undefined;
  const progress = live?.progress?.evaluation;
  const final = job?.result ?? job?.partial;
  const jobRunId = progress?.runId ?? (final?.kind === 'eval' ? final.evaluation.id : undefined);

  const refreshRuns = useCallback(async (): Promise<void> => {
    try {
      setRuns((await api.listEvaluations()).evaluations);
      setListError(undefined);
    } catch (e) {
      setListError(studioErrorMessage(e));
    }
  }, [api]);

  useEffect(() => {
    void refreshRuns();
  }, [refreshRuns, job?.state, jobRunId]);

  // Show the run the job works on as soon as it is known.
  useEffect(() => {
    if (jobRunId) setSelectedId(jobRunId);
  }, [jobRunId]);

  // The selected run's report; read again each time the running job finishes a unit of it.
  const unitsDone = progress?.runId === selectedId ? progress?.done : undefined;
  useEffect(() => {
    if (!selectedId) return;
    let current = true;
    api
      .getEvaluation(selectedId)
      .then((r) => {
        if (!current) return;
        setReport(r);
        setReportError(undefined);
      })
      .catch((e: unknown) => current && setReportError(studioErrorMessage(e)));
    return () => {
      current = false;
    };
  }, [api, selectedId, unitsDone, job?.state]);

  // The job's result is the final report of its run.
  useEffect(() => {
    if (final?.kind === 'eval' && final.evaluation.id === selectedId) setReport(final.evaluation);
  }, [final, selectedId]);

  const start = async (spec: EvalSpec, runId?: string): Promise<void> => {
    setSubmitting(true);
    setNotice(undefined);
    try {
      const { jobId: id } = await api.eval({ ...spec, ...(runId ? { runId } : {}) });
      setJobId(id);
    } catch (e) {
      setNotice(studioErrorMessage(e));
    } finally {
      setSubmitting(false);
    }
  };
  const cancel = async (): Promise<void> => {
    if (!live) return;
    try {
      await api.cancel(live.jobId);
    } catch (e) {
      setNotice(`Cancel failed: ${studioErrorMessage(e)}`);
    }
  };

  const { spec, problem } = specFromForm(form, methods.methods);
  const noneAvailable = methods.loaded && !methods.methods.some((m) => m.available);
  const elapsed = live?.startedAt ? (Date.now() - live.startedAt) / 1000 : undefined;
  const shown = report && report.id === selectedId ? report : undefined;

  return (
    <div className="evaluate-view" data-testid="view-evaluate">
      <div className="view-head">
        <h1>Evaluate</h1>
        <span className="muted">
          Compare EDITOR with the baselines (PH2P, PEZ, the caption alone) on images with known prompts: the paper&apos;s tables, on your
          data.
        </span>
      </div>
      <div className="eval-layout">
        <div className="eval-side">
          <div className="panel">
            <h3>New evaluation</h3>
            <fieldset className="eval-dataset">
              <legend>Dataset</legend>
              <label className="check">
                <input
                  type="radio"
                  name="eval-dataset"
                  checked={form.datasetKind === 'shapes'}
                  onChange={() => set('datasetKind', 'shapes')}
                  data-testid="eval-dataset-shapes"
                />
                Shapes world scenes
              </label>
              <label className="field" htmlFor={ids.shapesN}>
                <span className="small muted">Scenes (shapes:N, on the shapes model set)</span>
                <input
                  id={ids.shapesN}
                  type="number"
                  min={1}
                  max={10000}
                  value={form.shapesN}
                  disabled={form.datasetKind !== 'shapes'}
                  onChange={(e) => set('shapesN', e.target.value)}
                  data-testid="eval-shapes-n"
                />
              </label>
              <label className="check">
                <input
                  type="radio"
                  name="eval-dataset"
                  checked={form.datasetKind === 'folder'}
                  onChange={() => set('datasetKind', 'folder')}
                  data-testid="eval-dataset-folder"
                />
                A folder of images
              </label>
              <label className="field" htmlFor={ids.folder}>
                <span className="small muted">On the engine&apos;s machine, with prompts.jsonl or prompts.csv (image, prompt)</span>
                <input
                  id={ids.folder}
                  type="text"
                  placeholder="/path/to/dataset"
                  value={form.folder}
                  disabled={form.datasetKind !== 'folder'}
                  onChange={(e) => set('folder', e.target.value)}
                  data-testid="eval-folder"
                />
              </label>
            </fieldset>
            <MethodChoice methods={methods.methods} chosen={form.methods} onChange={(m) => set('methods', m)} loaded={methods.loaded} />
            {methods.error && <p className="error-text small">{methods.error}</p>}
            <div className="field-row" style={{ marginTop: 8 }}>
              <ModelSelect value={form.modelSet} onChange={(m) => set('modelSet', m)} testId="eval-model" />
              <label className="field" htmlFor={ids.limit}>
                <span>Limit</span>
                <input
                  id={ids.limit}
                  type="number"
                  min={1}
                  placeholder="all"
                  value={form.limit}
                  onChange={(e) => set('limit', e.target.value)}
                  data-testid="eval-limit"
                />
              </label>
              <label className="field" htmlFor={ids.iterations}>
                <span>Iterations</span>
                <input
                  id={ids.iterations}
                  type="number"
                  min={1}
                  max={10000}
                  placeholder="preset"
                  value={form.iterations}
                  onChange={(e) => set('iterations', e.target.value)}
                  data-testid="eval-iterations"
                />
              </label>
            </div>
            <details style={{ marginTop: 8 }} data-testid="eval-advanced">
              <summary>Advanced</summary>
              <div className="field-row" style={{ marginTop: 8 }}>
                <label className="field" htmlFor={ids.preset}>
                  <span>Preset</span>
                  <select id={ids.preset} value={form.preset} onChange={(e) => set('preset', e.target.value as EvalForm['preset'])}>
                    <option value="fast">Fast</option>
                    <option value="paper">Paper (the references&apos; iterations)</option>
                  </select>
                </label>
                <label className="field" htmlFor={ids.seeds}>
                  <span>Seeds</span>
                  <input
                    id={ids.seeds}
                    type="text"
                    placeholder="0"
                    value={form.seeds}
                    onChange={(e) => set('seeds', e.target.value)}
                    data-testid="eval-seeds"
                  />
                </label>
                <label className="field" htmlFor={ids.regen}>
                  <span>Regeneration steps</span>
                  <input
                    id={ids.regen}
                    type="number"
                    min={1}
                    max={150}
                    placeholder="model set's"
                    value={form.regenSteps}
                    onChange={(e) => set('regenSteps', e.target.value)}
                    data-testid="eval-regen-steps"
                  />
                </label>
              </div>
              <div className="field-row" style={{ marginTop: 8 }}>
                <label className="field" htmlFor={ids.ablation}>
                  <span>Ablation</span>
                  <select
                    id={ids.ablation}
                    value={form.ablationSetting}
                    onChange={(e) => set('ablationSetting', e.target.value as EvalForm['ablationSetting'])}
                  >
                    <option value="">None</option>
                    {EVAL_ABLATION_SETTINGS.map((s: EvalAblation['setting']) => (
                      <option key={s} value={s}>
                        {s}
                      </option>
                    ))}
                  </select>
                </label>
                <label className="field" htmlFor={ids.values}>
                  <span>Values</span>
                  <input
                    id={ids.values}
                    type="text"
                    placeholder="e.g. 10, 50, 100"
                    value={form.ablationValues}
                    disabled={!form.ablationSetting}
                    onChange={(e) => set('ablationValues', e.target.value)}
                  />
                </label>
              </div>
            </details>
            <div className="btn-row" style={{ marginTop: 12 }}>
              <button
                type="button"
                className="primary"
                disabled={!spec || submitting || noneAvailable}
                title={problem}
                onClick={() => spec && void start(spec)}
                data-testid="eval-run"
              >
                Run
              </button>
              <button type="button" className="secondary" disabled={!live} onClick={() => void cancel()} data-testid="eval-cancel">
                Cancel
              </button>
            </div>
            {problem && methods.loaded && <p className="muted small">{problem}</p>}
            {notice && (
              <p className="error-text small" role="alert" data-testid="eval-notice">
                {notice}
              </p>
            )}
          </div>

          {job && (
            <div className="panel" data-testid="eval-job" data-state={job.state}>
              <div className="view-head" style={{ marginBottom: 4 }}>
                <h3 style={{ margin: 0 }}>{live ? 'Running' : 'Last run'}</h3>
                <span className={`badge ${job.state === 'done' ? 'ok' : job.state === 'failed' ? 'bad' : live ? 'busy' : 'warn'}`}>
                  {job.state}
                </span>
              </div>
              {live && (
                <>
                  <ProgressBar
                    value={progress?.done ?? 0}
                    max={progress?.total ?? 0}
                    label="Evaluation progress (units)"
                    testId="eval-progress"
                  />
                  <div className="stat-row" aria-live="polite">
                    <span>
                      <strong data-testid="eval-units">{unitsText(progress?.done ?? 0, progress?.total ?? 0, progress?.resumed)}</strong>
                    </span>
                    <span>
                      ETA <strong data-testid="eval-eta">{formatDuration(live.progress?.etaSeconds)}</strong>
                    </span>
                    <span>
                      Elapsed <strong>{formatDuration(elapsed)}</strong>
                    </span>
                  </div>
                  <p className="muted small" data-testid="eval-current">
                    {progress?.item
                      ? `${progress.item} · ${progress.method ? METHOD_LABELS[progress.method] : ''}${progress.seed !== undefined ? ` · seed ${progress.seed}` : ''}${
                          progress.setting ? ` · ${progress.setting.name}=${progress.setting.value}` : ''
                        }${progress.inner ? ` · ${progress.inner.phase}${progress.inner.total ? ` ${progress.inner.step}/${progress.inner.total}` : ''}` : ''}`
                      : (live.progress?.message ?? live.progress?.phase ?? 'waiting')}
                  </p>
                  {live.preview && <img className="eval-preview" src={live.preview} alt="Current inversion preview" />}
                </>
              )}
              {!live && final?.kind === 'eval' && (
                <p className="muted small">
                  {unitsText(final.evaluation.done, final.evaluation.total)}
                  {job.startedAt && job.endedAt ? ` in ${formatDuration((job.endedAt - job.startedAt) / 1000)}` : ''} ·{' '}
                  {datasetLabel(final.evaluation.spec.dataset)}
                </p>
              )}
              {job.error && (
                <p className="error-text small" role="alert" data-testid="eval-error">
                  {job.error.message} <span className="muted">({job.error.code})</span>
                </p>
              )}
            </div>
          )}

          <div className="panel">
            <h3>Past evaluations</h3>
            {listError && <p className="error-text small">{listError}</p>}
            {runs && runs.length === 0 && <p className="muted small">None yet in this library.</p>}
            {runs && runs.length > 0 && (
              <ul className="eval-runs" data-testid="eval-runs">
                {runs.map((r) => {
                  const retry = r.state === 'done' ? r.failed > 0 : r.state !== 'running';
                  return (
                    <li key={r.id}>
                      <button
                        type="button"
                        className={`eval-run${r.id === selectedId ? ' selected' : ''}`}
                        aria-pressed={r.id === selectedId}
                        onClick={() => setSelectedId(r.id)}
                        data-testid="eval-run-item"
                        data-id={r.id}
                        data-state={r.state}
                      >
                        <span className="eval-run-name">{datasetLabel(r.spec.dataset)}</span>
                        <span className="muted small">
                          {methodList(r.spec)} · {formatDate(r.createdAt)} · {unitsText(r.done, r.total)}
                        </span>
                        <span className={`badge ${STATE_TONE[r.state]}`}>{r.state}</span>
                      </button>
                      {retry && (
                        <button
                          type="button"
                          className="secondary small-btn"
                          disabled={submitting || Boolean(live)}
                          onClick={() => void start(r.spec, r.id)}
                          title="Run the units not finished yet (the finished ones are kept)"
                          data-testid="eval-continue"
                        >
                          {r.state === 'done' ? 'Retry failed' : 'Continue'}
                        </button>
                      )}
                    </li>
                  );
                })}
              </ul>
            )}
          </div>
        </div>

        <div className="eval-main">
          {reportError && selectedId && (
            <p className="error-text" role="alert">
              {reportError}
            </p>
          )}
          {shown ? (
            <EvaluationReport report={shown} />
          ) : (
            <div className="panel muted" data-testid="eval-empty">
              Choose a dataset and methods, then Run. Every image is inverted by each method, its answer regenerated and scored against the
              image and its true prompt; the tables fill as units finish. Past runs stay listed; continuing one keeps what it finished.
            </div>
          )}
        </div>
      </div>
    </div>
  );
}

function EvaluationReport({ report }: { report: Evaluation }) {
  const results = report.tables.find((t) => t.id === 'results');
  return (
    <div className="panel" data-testid="eval-report" data-id={report.id} data-state={report.state}>
      <div className="view-head" style={{ marginBottom: 4 }}>
        <h2 style={{ margin: 0 }}>
          {datasetLabel(report.spec.dataset)} <span className="muted">on {report.models}</span>
        </h2>
        <span className={`badge ${STATE_TONE[report.state]}`}>{report.state}</span>
        <span className="muted small">
          {unitsText(report.done, report.total)}
          {report.failed > 0 ? ` · ${report.failed} failed` : ''} · {formatDate(report.createdAt)}
        </span>
      </div>
      <p className="muted small">
        {methodList(report.spec)} · preset {report.spec.preset ?? 'fast'}
        {report.spec.iterations !== undefined ? ` · ${report.spec.iterations} iterations` : ''}
        {report.spec.seeds ? ` · seeds ${report.spec.seeds.join(', ')}` : ''}
        {report.spec.ablation ? ` · ablation of ${report.spec.ablation.setting} over ${report.spec.ablation.values.join(', ')}` : ''}
      </p>
      {report.profileNote && (
        <p className={report.profile === 'shapes' ? 'banner banner-warn small' : 'muted small'} data-testid="eval-profile">
          {report.profileNote}
        </p>
      )}
      {results && results.rows.length === 0 && <p className="muted">No results yet.</p>}
      {report.tables
        .filter((t) => t.rows.length > 0)
        .map((t) => (
          <ReportTable key={t.id} table={t} />
        ))}
      <p className="muted small">
        Means ± 95% confidence intervals (Student t over the items × seeds scored); bold: the best mean of a column.
      </p>
      <EvalFigures figures={report.figures} />
      {report.skippedMethods.length > 0 && (
        <div data-testid="eval-skipped-methods">
          <h3>Methods not run</h3>
          <ul className="small">
            {report.skippedMethods.map((s) => (
              <li key={s.method}>
                <strong>{METHOD_LABELS[s.method]}</strong>: {s.reason}
              </li>
            ))}
          </ul>
        </div>
      )}
      {report.skippedMetrics.length > 0 && (
        <details className="small">
          <summary>Metrics not computed ({report.skippedMetrics.length})</summary>
          <ul>
            {report.skippedMetrics.map((s) => (
              <li key={s.metric}>
                <strong>{s.metric}</strong>: {s.reason}
              </li>
            ))}
          </ul>
        </details>
      )}
      {report.failures.length > 0 && (
        <details className="small" data-testid="eval-failures">
          <summary className="error-text">Failed units ({report.failed}; continuing the run retries them)</summary>
          <ul>
            {report.failures.map((f) => (
              <li key={f.key}>
                <span className="mono">{f.key}</span>: {f.error}
              </li>
            ))}
          </ul>
        </details>
      )}
      {report.warnings.length > 0 && (
        <details className="small">
          <summary className="warn-text">Warnings ({report.warnings.length})</summary>
          <ul>
            {report.warnings.map((w, i) => (
              <li key={i}>{w}</li>
            ))}
          </ul>
        </details>
      )}
      {report.error && (
        <p className="error-text small">
          {report.error.message} ({report.error.code})
        </p>
      )}
      <p className="muted small">
        Run folder:{' '}
        <span className="mono" data-testid="eval-dir">
          {report.dir}
        </span>{' '}
        (report.md, results.csv, summary.csv, figures, images/)
      </p>
    </div>
  );
}
