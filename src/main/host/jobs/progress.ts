/**
 * Engine progress to job.progress events: at most one every `intervalMs` per job (phase changes,
 * phase ends and previews always go out), bounded to what the event schema accepts, with an ETA
 * estimated from the phase's pace when the engine gives none.
 */
import type { EvalProgressInfo } from '../../../shared/ipc/eval.js';
import type { JobProgress } from '../../../shared/ipc/jobs.js';
import { MAX_MESSAGE_TEXT_CHARS, MAX_PREVIEW_BYTES } from '../../../shared/ipc/limits.js';
import type { EngineProgress } from '../engine-adapter.js';

export function throttledProgress(intervalMs: number, send: (p: JobProgress) => void): (p: EngineProgress) => void {
  let lastSent = 0;
  let phase = '';
  let phaseStart = Date.now();
  return (p) => {
    const now = Date.now();
    if (p.phase !== phase) {
      phase = p.phase;
      phaseStart = now;
    } else if (now - lastSent < intervalMs && p.step < p.total && !p.previewPng) {
      return;
    }
    lastSent = now;
    const eta = p.etaSeconds ?? (p.step > 0 && p.total > p.step ? ((now - phaseStart) / 1000 / p.step) * (p.total - p.step) : undefined);
    send(toJobProgress(p, eta));
  };
}

/** The wire form of one progress report (integers where the schema wants them, previews as data URLs). */
export function toJobProgress(p: EngineProgress, etaSeconds?: number): JobProgress {
  const progress: JobProgress = {
    phase: p.phase.slice(0, 64),
    step: Math.max(0, Math.floor(p.step)),
    total: Math.max(0, Math.floor(p.total)),
  };
  if (Number.isFinite(p.loss)) progress.loss = p.loss!;
  if (Number.isFinite(p.lr)) progress.lr = p.lr!;
  if (etaSeconds !== undefined && Number.isFinite(etaSeconds) && etaSeconds >= 0) progress.etaSeconds = etaSeconds;
  if (p.previewPng && p.previewPng.byteLength <= MAX_PREVIEW_BYTES) {
    progress.previewPng = `data:image/png;base64,${Buffer.from(p.previewPng).toString('base64')}`;
  }
  for (const k of ['bytes', 'totalBytes'] as const)
    if (p[k] !== undefined && Number.isFinite(p[k])) progress[k] = Math.max(0, Math.floor(p[k]!));
  if (p.bytesPerSecond !== undefined && Number.isFinite(p.bytesPerSecond)) progress.bytesPerSecond = Math.max(0, p.bytesPerSecond);
  if (p.message) progress.message = p.message.slice(0, MAX_MESSAGE_TEXT_CHARS);
  if (p.evaluation) progress.evaluation = boundedEvaluation(p.evaluation);
  return progress;
}

/** An evaluation's progress within the schema's bounds (item names are dataset paths: cut to their end). */
function boundedEvaluation(e: EvalProgressInfo): EvalProgressInfo {
  const int = (v: number) => Math.max(0, Math.floor(Number.isFinite(v) ? v : 0));
  const cut = (v: string, n: number) => (v.length > n ? v.slice(-n) : v);
  return {
    ...(e.runId ? { runId: e.runId } : {}),
    stage: e.stage,
    done: int(e.done),
    total: int(e.total),
    resumed: int(e.resumed),
    ...(e.item ? { item: cut(e.item, 256) } : {}),
    ...(e.method ? { method: e.method } : {}),
    ...(e.seed !== undefined ? { seed: e.seed } : {}),
    ...(e.setting ? { setting: { name: cut(e.setting.name, 64), value: cut(e.setting.value, 64) } } : {}),
    ...(e.inner ? { inner: { phase: e.inner.phase.slice(0, 64) || '?', step: int(e.inner.step), total: int(e.inner.total) } } : {}),
  };
}
