/**
 * Evolve view (docs/fusion-evolution.md, "Studio"): evolutionary sessions with readable genomes.
 * Start a session from Library images and prompts; the current generation is a grid (image,
 * prompt, seed, fitness): pick favourites and Breed, click words of a prompt to lock them, Re-invert
 * an image into the gene pool. The lineage tree shows the whole session (generations as rows,
 * edges to parents, operators and seeds on hover); select any ancestor and Branch from it. The
 * session lives in the library's evolution/ folder and reopens after a reload (the last one open
 * is remembered); the sessions list reopens any other.
 */
import { useCallback, useEffect, useId, useMemo, useRef, useState } from 'react';
import { studioErrorMessage } from '../../shared/api.js';
import type { EvolutionInit, EvolutionSessionView, EvolutionSummary } from '../../shared/ipc/evolution.js';
import { MAX_EVOLUTION_INIT } from '../../shared/ipc/limits.js';
import type { ParamsOf } from '../../shared/ipc/requests.js';
import { useEngine, useJob, useStudio } from '../api/context.js';
import { isTerminal } from '../api/store.js';
import { IndividualCard, OPERATOR_LABELS } from '../components/evolution/IndividualCard.js';
import { LineageTree } from '../components/evolution/LineageTree.js';
import { ParentPicker, type ParentDraft } from '../components/fusion/ParentPicker.js';
import { ProgressBar } from '../components/ProgressBar.js';
import { formatDuration } from '../lib/format.js';
import '../styles/fusion-evolution.css';

type CreateParams = ParamsOf<'createEvolution'>;

/** Where the view remembers the session it had open (reopened after a reload). */
export const SESSION_STORAGE_KEY = 'inversion-studio:evolve-session';
const SIZES = [64, 128, 256, 512];

function storedSession(): string | undefined {
  try {
    return localStorage.getItem(SESSION_STORAGE_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}
function storeSession(id: string | undefined): void {
  try {
    if (id) localStorage.setItem(SESSION_STORAGE_KEY, id);
    else localStorage.removeItem(SESSION_STORAGE_KEY);
  } catch {
    // private mode: the session just is not reopened after a reload
  }
}

const EVOLUTION_JOBS = new Set(['createEvolution', 'breedEvolution', 'reinvertEvolution']);

export function EvolveView() {
  const { api } = useStudio();
  const engine = useEngine();
  const [sessionId, setSessionId] = useState<string | undefined>(storedSession);
  const [session, setSession] = useState<EvolutionSessionView | undefined>();
  const [openError, setOpenError] = useState<{ id: string; message: string } | undefined>();
  const [sessions, setSessions] = useState<EvolutionSummary[]>([]);
  const [creating, setCreating] = useState(false);
  const [picks, setPicks] = useState<string[]>([]);
  const [selected, setSelected] = useState<string | undefined>();
  const [hovered, setHovered] = useState<string | undefined>();
  const [jobId, setJobId] = useState<string | undefined>();
  const [requesting, setRequesting] = useState(false);
  const [actionError, setActionError] = useState<string | undefined>();
  const job = useJob(jobId);
  const jobRef = useRef<string | undefined>(undefined);

  const refreshList = useCallback(async (): Promise<void> => {
    try {
      setSessions((await api.listEvolutions()).sessions);
    } catch {
      // an engine without evolution: the list stays empty
    }
  }, [api]);

  const open = useCallback((id: string | undefined): void => {
    storeSession(id);
    setSessionId(id);
    setPicks([]);
    setSelected(undefined);
    setActionError(undefined);
    if (id) setCreating(false);
  }, []);

  useEffect(() => {
    void refreshList();
  }, [refreshList]);

  // (Re)open the chosen session.
  useEffect(() => {
    if (!sessionId) return;
    let live = true;
    api
      .openEvolution(sessionId)
      .then((s) => {
        if (!live) return;
        setSession(s);
        setOpenError(undefined);
      })
      .catch((e: unknown) => live && setOpenError({ id: sessionId, message: studioErrorMessage(e) }));
    return () => {
      live = false;
    };
  }, [api, sessionId]);

  // The session after each of our jobs (the job's result carries it).
  useEffect(
    () =>
      api.onEvent((e) => {
        if (e.type !== 'job.result' || e.jobId !== jobRef.current || !EVOLUTION_JOBS.has(e.result.kind)) return;
        const r = e.result as Extract<typeof e.result, { kind: 'createEvolution' | 'breedEvolution' | 'reinvertEvolution' }>;
        setSession(r.session);
        if (r.kind === 'createEvolution') {
          storeSession(r.session.id);
          setSessionId(r.session.id);
          setCreating(false);
        }
        if (r.kind === 'breedEvolution') setPicks([]);
        void refreshList();
      }),
    [api, refreshList],
  );

  const start = async (submit: () => Promise<{ jobId: string }>): Promise<void> => {
    setActionError(undefined);
    try {
      const { jobId: id } = await submit();
      jobRef.current = id;
      setJobId(id);
    } catch (e) {
      setActionError(studioErrorMessage(e));
    }
  };
  const request = async (f: () => Promise<EvolutionSessionView>): Promise<void> => {
    setActionError(undefined);
    setRequesting(true);
    try {
      setSession(await f());
      void refreshList();
    } catch (e) {
      setActionError(studioErrorMessage(e));
    } finally {
      setRequesting(false);
    }
  };

  const current = session && session.id === sessionId ? session : undefined;
  const running = !!job && !isTerminal(job.state);
  const busy = running || requesting;
  const missing = engine.capabilities.length > 0 && !engine.capabilities.includes('evolve');
  const togglePick = (id: string) => setPicks((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p, id]));

  return (
    <div data-testid="view-evolve">
      <div className="view-head">
        <h1>Evolve</h1>
        <span className="muted">Breed images with readable prompts: pick favourites, lock words, branch from any ancestor.</span>
        <span className="spacer" />
        <button
          type="button"
          className="secondary"
          onClick={() => setCreating((c) => !c)}
          disabled={busy}
          data-testid="evolve-new"
          aria-expanded={creating}
        >
          {creating ? 'Close' : 'New session'}
        </button>
      </div>
      {missing && (
        <p className="warn-text" role="status">
          This engine build cannot run evolution sessions (no &quot;evolve&quot; capability).
        </p>
      )}
      {actionError && (
        <p className="error-text" role="alert" data-testid="evolve-error">
          {actionError}
        </p>
      )}
      {openError && openError.id === sessionId && !current && (
        <p className="error-text" role="alert" data-testid="evolve-open-error">
          Session {openError.id} could not be opened: {openError.message}
        </p>
      )}
      <div className="evolve-layout">
        <div className="evolve-main">
          {(creating || (!sessionId && !current)) && (
            <CreateSession busy={busy} onStart={(p) => void start(() => api.createEvolution(p))} />
          )}
          <JobStatus jobId={jobId} onCancel={() => jobId && void api.cancel(jobId)} />
          {current && (
            <SessionPanel
              session={current}
              picks={picks}
              busy={busy}
              onPick={togglePick}
              onClearPicks={() => setPicks([])}
              onSelect={setSelected}
              onBreed={() => void start(() => api.breedEvolution(current.id, picks.length ? picks : undefined))}
              onLock={(id, words) => void request(() => api.lockEvolution(current.id, id, words))}
              onReinvert={(id) => void start(() => api.reinvertEvolution(current.id, id))}
            />
          )}
          {current && (
            <div className="panel">
              <div className="view-head" style={{ marginBottom: 6 }}>
                <h2 style={{ margin: 0 }}>Lineage</h2>
                <span className="muted small">
                  every generation of the session; hover a node for its genome, select one to branch from it
                </span>
              </div>
              <LineageTree
                session={current}
                selected={selected}
                hovered={hovered}
                picks={picks}
                onSelect={setSelected}
                onHover={setHovered}
              />
            </div>
          )}
        </div>
        <aside className="evolve-side">
          {current && (
            <Details
              session={current}
              id={hovered ?? selected}
              selected={selected}
              picks={picks}
              busy={busy}
              onSelect={setSelected}
              onPick={togglePick}
              onBranch={(from) =>
                void request(async () => {
                  const s = await api.branchEvolution(current.id, from);
                  setPicks([]);
                  return s;
                })
              }
              onReinvert={(id) => void start(() => api.reinvertEvolution(current.id, id))}
            />
          )}
          {current && <ExportBox sessionId={current.id} />}
          <SessionList sessions={sessions} current={sessionId} onOpen={open} />
        </aside>
      </div>
    </div>
  );
}

function JobStatus({ jobId, onCancel }: { jobId: string | undefined; onCancel: () => void }) {
  const job = useJob(jobId);
  if (!job || job.state === 'done') return null;
  const running = !isTerminal(job.state);
  const p = job.progress;
  return (
    <div className="panel" data-testid="evolve-job" data-state={job.state}>
      <div className="stat-row" aria-live="polite">
        <strong data-testid="evolve-phase">
          {job.state === 'queued' ? 'queued' : isTerminal(job.state) ? job.state : (p?.phase ?? 'starting')}
        </strong>
        {running && p && (
          <span>
            <strong>
              {p.step} / {p.total}
            </strong>{' '}
            {p.message}
          </span>
        )}
        {running && (
          <span>
            ETA <strong>{formatDuration(p?.etaSeconds)}</strong>
          </span>
        )}
        <span className="spacer" />
        {running && (
          <button type="button" className="small-btn secondary" onClick={onCancel} data-testid="evolve-cancel">
            Cancel
          </button>
        )}
      </div>
      {running && <ProgressBar value={p?.step ?? 0} max={p?.total ?? 0} label="Evolution progress" />}
      {job.error && (
        <p className="error-text" role="alert" data-testid="evolve-job-error">
          {job.error.message} <span className="muted">({job.error.code})</span>
        </p>
      )}
      {job.state === 'cancelled' && <p className="warn-text">Cancelled; the session is as it was.</p>}
    </div>
  );
}

function CreateSession({ busy, onStart }: { busy: boolean; onStart: (p: CreateParams) => void }) {
  const ids = { pop: useId(), seed: useId(), size: useId(), steps: useId(), fitness: useId(), target: useId(), name: useId() };
  const [init, setInit] = useState<ParentDraft[]>([]);
  const [population, setPopulation] = useState(6);
  const [seed, setSeed] = useState(0);
  const [size, setSize] = useState<number | ''>('');
  const [steps, setSteps] = useState<number | ''>('');
  const [fitness, setFitness] = useState<'none' | 'checker' | 'text'>('none');
  const [target, setTarget] = useState('');
  const [name, setName] = useState('');
  const empty = init.some((p) => p.kind === 'prompt' && !p.text.trim());
  const problem =
    init.length === 0
      ? 'Add a Library image or a prompt to start from.'
      : empty
        ? 'A prompt is empty.'
        : fitness !== 'none' && !target.trim()
          ? 'Say what the fitness aims at.'
          : undefined;
  const submit = (): void => {
    if (problem) return;
    const list: EvolutionInit[] = init.map((p) =>
      p.kind === 'library' ? { kind: 'library', id: p.item.id } : { kind: 'prompt', text: p.text },
    );
    onStart({
      init: list,
      population,
      seed,
      ...(name.trim() ? { name: name.trim() } : {}),
      ...(size !== '' ? { width: size, height: size } : {}),
      ...(steps !== '' ? { steps } : {}),
      ...(fitness === 'checker'
        ? { fitness: { kind: 'checker', prompt: target.trim() } }
        : fitness === 'text'
          ? { fitness: { kind: 'text', text: target.trim() } }
          : {}),
    });
  };
  return (
    <div className="panel" data-testid="evolve-create">
      <h2>New session</h2>
      <ParentPicker
        parents={init}
        onChange={setInit}
        max={MAX_EVOLUTION_INIT}
        testId="evolve"
        disabled={busy}
        label="Starting individuals"
      />
      <p className="muted small">
        The population is filled up with word mutations of these. Library images start from the prompt they record (else they are inverted).
      </p>
      <div className="field-row">
        <label className="field" htmlFor={ids.pop}>
          <span>Population</span>
          <input
            id={ids.pop}
            type="number"
            min={2}
            max={64}
            value={population}
            onChange={(e) => setPopulation(Math.min(64, Math.max(2, Math.floor(Number(e.target.value) || 2))))}
            data-testid="evolve-population"
          />
        </label>
        <label className="field" htmlFor={ids.seed}>
          <span>Seed</span>
          <input
            id={ids.seed}
            type="number"
            min={0}
            value={seed}
            onChange={(e) => setSeed(Math.max(0, Math.floor(Number(e.target.value) || 0)))}
            data-testid="evolve-seed"
          />
        </label>
        <label className="field" htmlFor={ids.size}>
          <span>Size</span>
          <select
            id={ids.size}
            value={size}
            onChange={(e) => setSize(e.target.value === '' ? '' : Number(e.target.value))}
            data-testid="evolve-size"
          >
            <option value="">default</option>
            {SIZES.map((s) => (
              <option key={s} value={s}>
                {s}×{s}
              </option>
            ))}
          </select>
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
            data-testid="evolve-steps"
          />
        </label>
        <label className="field" htmlFor={ids.name}>
          <span>Name</span>
          <input
            id={ids.name}
            type="text"
            maxLength={200}
            value={name}
            placeholder="optional"
            onChange={(e) => setName(e.target.value)}
            data-testid="evolve-name"
          />
        </label>
      </div>
      <div className="field-row">
        <label className="field" htmlFor={ids.fitness}>
          <span>Fitness</span>
          <select
            id={ids.fitness}
            value={fitness}
            onChange={(e) => setFitness(e.target.value as typeof fitness)}
            data-testid="evolve-fitness"
          >
            <option value="none">none: breed from my picks</option>
            <option value="text">CLIP similarity to a text (needs CLIP ViT-L/14)</option>
            <option value="checker">shapes-world checker (a scene caption)</option>
          </select>
        </label>
        {fitness !== 'none' && (
          <label className="field grow" htmlFor={ids.target}>
            <span>{fitness === 'text' ? 'Text' : 'Target scene'}</span>
            <input
              id={ids.target}
              type="text"
              maxLength={2000}
              value={target}
              onChange={(e) => setTarget(e.target.value)}
              data-testid="evolve-fitness-target"
            />
          </label>
        )}
      </div>
      <div className="btn-row" style={{ marginTop: 10 }}>
        <button type="button" className="primary" onClick={submit} disabled={busy || !!problem} title={problem} data-testid="evolve-start">
          Start session
        </button>
        {problem && <span className="muted small">{problem}</span>}
      </div>
    </div>
  );
}

function SessionPanel(props: {
  session: EvolutionSessionView;
  picks: string[];
  busy: boolean;
  onPick: (id: string) => void;
  onClearPicks: () => void;
  onSelect: (id: string) => void;
  onBreed: () => void;
  onLock: (id: string, words: string[]) => void;
  onReinvert: (id: string) => void;
}) {
  const { session: s, picks, busy } = props;
  const byId = useMemo(() => new Map(s.individuals.map((i) => [i.id, i])), [s]);
  const head = s.generations.find((g) => g.id === s.head)!;
  const members = head.members.map((m) => byId.get(m)).filter((i) => i !== undefined);
  const canBreed = picks.length > 0 || !!s.fitness;
  return (
    <div className="panel" data-testid="evolve-session" data-session={s.id} data-head={s.head} data-generations={s.generations.length}>
      <div className="view-head" style={{ marginBottom: 6 }}>
        <h2 style={{ margin: 0 }}>{s.name ?? s.id}</h2>
        <span className="badge">{s.model}</span>
        <span className="muted small">
          generation <strong data-testid="evolve-head">{s.head}</strong> (
          {head.kind === 'branch' ? `branch of ${head.branchedFrom}` : head.kind}) · {s.generations.length} generation
          {s.generations.length === 1 ? '' : 's'} · {s.individuals.length} individuals · {s.settings.width}×{s.settings.height},{' '}
          {s.settings.steps} steps
          {s.fitness ? ` · fitness ${s.fitness.kind}` : ''}
        </span>
      </div>
      <p className="muted small" style={{ margin: '0 0 8px' }}>
        Click an image to pick it; click a word of a prompt to lock it (<span className="evolve-word locked">locked</span> words are kept by
        its children).
      </p>
      <ul className="evolve-grid" aria-label={`Generation ${s.head}`}>
        {members.map((i) => (
          <IndividualCard
            key={i.id}
            individual={i}
            picked={picks.includes(i.id)}
            carried={i.generation !== head.id}
            busy={busy}
            onPick={() => props.onPick(i.id)}
            onLock={(words) => props.onLock(i.id, words)}
            onReinvert={() => props.onReinvert(i.id)}
            onSelect={() => props.onSelect(i.id)}
          />
        ))}
      </ul>
      <div className="btn-row" style={{ marginTop: 10 }}>
        <button
          type="button"
          className="primary"
          onClick={props.onBreed}
          disabled={busy || !canBreed}
          data-testid="evolve-breed"
          title={canBreed ? undefined : 'Pick at least one favourite'}
        >
          {picks.length ? `Breed from ${picks.length} pick${picks.length === 1 ? '' : 's'}` : s.fitness ? 'Breed by fitness' : 'Breed'}
        </button>
        {picks.length > 0 && (
          <button type="button" className="btn-ghost" onClick={props.onClearPicks}>
            Clear picks
          </button>
        )}
        <span className="muted small" data-testid="evolve-picks" data-picks={picks.join(' ')}>
          {picks.length
            ? `picked: ${picks.join(', ')}`
            : s.fitness
              ? 'no picks: the fitness selects'
              : 'pick favourites (any individual, also from the lineage)'}
        </span>
      </div>
    </div>
  );
}

function Details(props: {
  session: EvolutionSessionView;
  id: string | undefined;
  selected: string | undefined;
  picks: string[];
  busy: boolean;
  onSelect: (id: string) => void;
  onPick: (id: string) => void;
  onBranch: (id: string) => void;
  onReinvert: (id: string) => void;
}) {
  const { api } = useStudio();
  const i = props.id ? props.session.individuals.find((x) => x.id === props.id) : undefined;
  if (!i)
    return (
      <div className="panel muted small" data-testid="evolve-details">
        Hover or select an individual in the lineage tree to see its genome.
      </div>
    );
  const inHead = props.session.generations.find((g) => g.id === props.session.head)?.members.includes(i.id);
  return (
    <div className="panel evolve-details" data-testid="evolve-details" data-id={i.id}>
      {i.image && <img src={api.imageUrl(i.image)} alt={i.prompt} className="evolve-details-image" />}
      <dl>
        <dt>Individual</dt>
        <dd className="mono">
          {i.id} <span className="muted">born in {i.generation}</span>
        </dd>
        <dt>Prompt</dt>
        <dd data-testid="evolve-details-prompt">{i.prompt}</dd>
        <dt>Seed</dt>
        <dd className="mono">{i.seed}</dd>
        <dt>Operator</dt>
        <dd>
          {OPERATOR_LABELS[i.operator]} {i.detail && <span className="muted small">({i.detail})</span>}
        </dd>
        <dt>Parents</dt>
        <dd>
          {i.parents.length === 0
            ? '–'
            : i.parents.map((p) => (
                <button key={p} type="button" className="btn-ghost mono" onClick={() => props.onSelect(p)}>
                  {p}
                </button>
              ))}
        </dd>
        {i.fitness !== undefined && (
          <>
            <dt>Fitness</dt>
            <dd className="mono">{i.fitness.toFixed(4)}</dd>
          </>
        )}
        {i.locks.length > 0 && (
          <>
            <dt>Locked</dt>
            <dd>{i.locks.join(', ')}</dd>
          </>
        )}
        {i.conditioning === 'embedding' && (
          <>
            <dt>Rendered from</dt>
            <dd className="small">
              its embedding (the prompt is its decoded text
              {i.decodedDistance !== undefined ? `, distance ${i.decodedDistance.toFixed(3)}` : ''})
            </dd>
          </>
        )}
      </dl>
      <div className="btn-row">
        <button type="button" className="small-btn secondary" onClick={() => props.onPick(i.id)} data-testid="evolve-details-pick">
          {props.picks.includes(i.id) ? '♥ Picked' : '♡ Pick'}
        </button>
        <button
          type="button"
          className="small-btn secondary"
          onClick={() => props.onBranch(i.id)}
          disabled={props.busy || props.selected !== i.id}
          title={props.selected === i.id ? `Continue from ${i.id}'s generation (a new branch)` : 'Select this individual first (click it)'}
          data-testid="evolve-branch"
        >
          Branch from here
        </button>
        <button
          type="button"
          className="small-btn secondary"
          onClick={() => props.onReinvert(i.id)}
          disabled={props.busy}
          data-testid="evolve-details-reinvert"
        >
          Re-invert
        </button>
      </div>
      {!inHead && <p className="muted small">Not in the current generation: pick it to breed with it, or branch from it.</p>}
    </div>
  );
}

function ExportBox({ sessionId }: { sessionId: string }) {
  const { api } = useStudio();
  const id = useId();
  const [dir, setDir] = useState('');
  const [state, setState] = useState<{ ok: boolean; text: string } | undefined>();
  const run = async (): Promise<void> => {
    setState(undefined);
    try {
      const r = await api.exportEvolution(sessionId, dir.trim() || undefined);
      setState({ ok: true, text: `${r.files} files written to ${r.dir}` });
    } catch (e) {
      setState({ ok: false, text: studioErrorMessage(e) });
    }
  };
  return (
    <details className="panel">
      <summary>Export the session</summary>
      <label className="field" htmlFor={id}>
        <span>Folder on the engine&apos;s machine (new or empty; empty: next to the library)</span>
        <input
          id={id}
          type="text"
          value={dir}
          placeholder="/path/to/folder"
          onChange={(e) => setDir(e.target.value)}
          data-testid="evolve-export-dir"
        />
      </label>
      <div className="btn-row" style={{ marginTop: 8 }}>
        <button type="button" className="small-btn secondary" onClick={() => void run()} data-testid="evolve-export">
          Export
        </button>
      </div>
      {state && (
        <p className={state.ok ? 'small' : 'error-text small'} role={state.ok ? 'status' : 'alert'} data-testid="evolve-export-result">
          {state.text}
        </p>
      )}
    </details>
  );
}

function SessionList({
  sessions,
  current,
  onOpen,
}: {
  sessions: EvolutionSummary[];
  current: string | undefined;
  onOpen: (id: string) => void;
}) {
  const { api } = useStudio();
  return (
    <div className="panel" data-testid="evolve-sessions">
      <h2>Sessions</h2>
      {sessions.length === 0 ? (
        <p className="muted small">No sessions yet.</p>
      ) : (
        <ul className="evolve-session-list">
          {sessions.map((s) => (
            <li key={s.id}>
              <button
                type="button"
                className={`evolve-session-item${s.id === current ? ' active' : ''}`}
                onClick={() => onOpen(s.id)}
                disabled={!!s.problem}
                title={s.problem ?? s.id}
                data-testid="evolve-session-item"
                data-id={s.id}
              >
                {s.thumbnail ? <img src={api.imageUrl(s.thumbnail)} alt="" /> : <span className="evolve-session-thumb" />}
                <span>
                  <strong>{s.name ?? s.id}</strong>
                  <span className="small muted">
                    {s.problem ? s.problem : `${s.generations} generations · ${s.individuals} individuals${s.model ? ` · ${s.model}` : ''}`}
                  </span>
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
