import { useEngine, useJobs, useStudio } from '../api/context.js';

const PHASE_VERB: Record<string, string> = {
  generate: 'Generating',
  invert: 'Inverting',
  downloadModel: 'Downloading',
  importModel: 'Importing',
};

/** Sidebar indicator: ready / busy (with what) / starting / crashed. */
export function EngineStatus() {
  const engine = useEngine();
  const jobs = useJobs();
  let running = undefined as undefined | { kind?: string; label?: string; phase?: string };
  let queued = 0;
  for (const j of jobs.values()) {
    if (j.state === 'running')
      running = {
        ...(j.kind ? { kind: j.kind } : {}),
        ...(j.label ? { label: j.label } : {}),
        ...(j.progress ? { phase: j.progress.phase } : {}),
      };
    if (j.state === 'queued') queued += 1;
  }
  let tone: 'ok' | 'busy' | 'warn' | 'bad';
  let text: string;
  if (engine.state === 'connecting') [tone, text] = ['warn', 'Connecting…'];
  else if (engine.state === 'starting') [tone, text] = ['warn', 'Engine starting…'];
  else if (engine.state === 'crashed') [tone, text] = ['bad', 'Engine crashed – restarting'];
  else if (engine.state === 'stopped') [tone, text] = ['bad', 'Engine offline'];
  else if (running) [tone, text] = ['busy', `${PHASE_VERB[running.kind ?? ''] ?? 'Working'}${running.phase ? ` · ${running.phase}` : ''}`];
  else [tone, text] = ['ok', engine.restarts > 0 ? `Engine ready (restarted ${engine.restarts}×)` : 'Engine ready'];
  return (
    <div
      className={`engine-status tone-${tone}`}
      data-testid="engine-status"
      data-state={running ? 'busy' : engine.state}
      data-capabilities={engine.capabilities.join(' ')}
      role="status"
      aria-live="polite"
    >
      <span className="dot" aria-hidden="true" />
      <span className="engine-text">{text}</span>
      {queued > 0 && <span className="engine-queue">{queued} queued</span>}
    </div>
  );
}

/** Full-width notice after a crash/restart or a lost connection; dismissable. */
export function EngineBanner() {
  const engine = useEngine();
  const studio = useStudio();
  if (!engine.banner) return null;
  return (
    <div
      className={`banner ${engine.state === 'crashed' || engine.state === 'stopped' ? 'banner-bad' : 'banner-warn'}`}
      role="alert"
      data-testid="engine-banner"
    >
      <span>{engine.banner}</span>
      <button type="button" className="btn-ghost" onClick={() => studio.engine.dismiss()} aria-label="Dismiss notice">
        ✕
      </button>
    </div>
  );
}
