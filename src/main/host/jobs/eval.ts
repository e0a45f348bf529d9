/**
 * The `eval` job: the evaluation harness on a dataset (docs/evaluation.md § Studio), in a run
 * folder under the library (`<library>/evaluations/<id>/`, evaluations.ts). With `runId` it
 * continues that run: the finished units are kept, failed and cancelled ones are redone, and the
 * options must be the ones the run was started with. studio.json follows the run (state, units
 * done), so the Evaluate page lists it, interrupted or not. The result is the report as data; a
 * cancelled run reports what it finished.
 */
import { CancelledError, EngineError } from '../../engine/errors.js';
import { EvalRequestSchema, type EvalSpec } from '../../../shared/ipc/eval.js';
import type { RequestOf } from '../../../shared/ipc/requests.js';
import type { Settings } from '../../../shared/ipc/settings.js';
import { NotAvailableError, type EngineProgress } from '../engine-adapter.js';
import {
  activeRuns,
  newEvaluationId,
  newRunRecord,
  readEvaluation,
  readRunRecord,
  runDirOf,
  sameSpec,
  writeRunRecord,
  type RunRecord,
} from '../evaluations.js';
import { toErrorInfo } from '../host-common.js';
import type { JobKind } from './job-kind.js';

/** The run's options with the defaults that depend on the settings resolved (stored, and compared when continuing). */
export function evalSpecOf(req: RequestOf<'eval'>, settings: Settings): EvalSpec {
  const { type: _type, runId: _runId, ...spec } = req;
  return { ...spec, modelSet: req.modelSet ?? (req.dataset.kind === 'shapes' ? 'shapes' : settings.modelSet) };
}

interface EvalRun {
  id: string;
  dir: string;
}

export const evalJob: JobKind<'eval', EvalRun> = {
  type: 'eval',
  schema: EvalRequestSchema,
  // A cancelled evaluation still reports the units it finished.
  keepsPartial: true,

  async run(req, opts, { engine, library, settings }) {
    if (!engine.evaluate) throw new NotAvailableError('evaluation');
    const spec = evalSpecOf(req, settings);
    const id = req.runId ?? newEvaluationId();
    const dir = runDirOf(library.dir, id);
    let record: RunRecord;
    if (req.runId) {
      const found = await readRunRecord(dir);
      if (!found) throw new EngineError('INVALID_ARGUMENT', `this library has no evaluation '${id}' to continue`);
      if (!sameSpec(found.spec, spec))
        throw new EngineError(
          'INVALID_ARGUMENT',
          `evaluation '${id}' continues with the options it was started with; start a new evaluation to change them`,
        );
      record = { ...found, spec: found.spec, state: 'running', updatedAt: new Date().toISOString() };
      delete record.error;
    } else record = newRunRecord(id, spec);
    await writeRunRecord(dir, record);
    activeRuns.add(id);
    opts.onProgress({
      phase: 'loading',
      step: 0,
      total: 0,
      evaluation: { runId: id, stage: 'loading', done: record.done, total: record.total, resumed: 0 },
    });

    // studio.json follows the units done (one write at a time, the latest state last).
    let writing = Promise.resolve();
    const save = (patch: Partial<RunRecord>): Promise<void> => {
      record = { ...record, ...patch, updatedAt: new Date().toISOString() };
      const snapshot = record;
      writing = writing.then(() => writeRunRecord(dir, snapshot).catch((e) => console.error('eval job: could not update studio.json', e)));
      return writing;
    };
    const onProgress = (p: EngineProgress): void => {
      const e = p.evaluation;
      if (e && (e.done !== record.done || e.total !== record.total)) void save({ done: e.done, total: e.total });
      opts.onProgress(e ? { ...p, evaluation: { ...e, runId: id } } : p);
    };
    try {
      const out = await engine.evaluate({ ...spec, modelSet: spec.modelSet!, runDir: dir }, { signal: opts.signal, onProgress });
      await save({ state: out.cancelled ? 'cancelled' : 'done', done: out.done, total: out.total, failed: out.failed });
      if (out.cancelled) throw new CancelledError('evaluation cancelled; the units it finished are kept', { id, dir } satisfies EvalRun);
      opts.onProgress({
        phase: 'saving',
        step: 1,
        total: 1,
        evaluation: { runId: id, stage: 'done', done: out.done, total: out.total, resumed: 0 },
      });
      return { id, dir };
    } catch (e) {
      if (e instanceof CancelledError || opts.signal.aborted) {
        if (record.state === 'running') await save({ state: 'cancelled' });
        if (e instanceof CancelledError && e.partial) throw e;
        throw new CancelledError('evaluation cancelled', { id, dir } satisfies EvalRun);
      }
      await save({ state: 'failed', error: toErrorInfo(e) });
      throw e;
    } finally {
      await writing;
      activeRuns.delete(id);
    }
  },

  async finish(_req, run, { library }) {
    return { kind: 'eval', evaluation: await readEvaluation(library.dir, run.id) };
  },
};
