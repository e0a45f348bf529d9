/**
 * The `eval` job's engine call: the harness (`runEval`, src/main/engine/eval/runner.ts) on the
 * request's dataset and methods, in the run folder the job chose, with its progress as job
 * progress: the phase stays `evaluating` while units run (step / total: the units of this run),
 * and `evaluation` says which item, method and seed is at work and how far the whole run is.
 */
import path from 'node:path';
import { parseAblation } from '../engine/eval/ablation.js';
import { runEval, type EvalOptions, type EvalProgress } from '../engine/eval/runner.js';
import type { ProviderChoice } from '../engine/runtime/providers.js';
import type { EngineProgress, EvalRunOutput, EvalRunSpec, RunOptions } from './engine-adapter.js';

/** One progress report of the runner as job progress. */
export function evalProgress(e: EvalProgress): EngineProgress {
  const inner = e.inner && e.inner.phase !== 'done' ? e.inner : undefined;
  const unit = e.item
    ? [e.item, e.method, e.seed !== undefined ? `seed ${e.seed}` : '', e.setting ? `${e.setting.name}=${e.setting.value}` : '']
    : [];
  const innerText = inner
    ? `${inner.phase}${inner.iteration !== undefined && inner.total ? ` ${inner.iteration}/${inner.total}` : ''}`
    : e.phase;
  return {
    phase: e.phase === 'loading' ? 'loading' : e.phase === 'report' || e.phase === 'done' ? 'saving' : 'evaluating',
    // This run's units: the ETA the queue estimates from them is not skewed by units an earlier run did.
    step: Math.max(0, e.done - e.resumed),
    total: Math.max(0, e.total - e.resumed),
    ...(e.etaSeconds !== undefined ? { etaSeconds: e.etaSeconds } : {}),
    ...(inner?.previewPng ? { previewPng: inner.previewPng } : {}),
    message: e.message ?? [...unit.filter(Boolean), innerText].join(' · '),
    evaluation: {
      stage: e.phase,
      done: e.done,
      total: e.total,
      resumed: e.resumed,
      ...(e.item ? { item: e.item } : {}),
      ...(e.method ? { method: e.method } : {}),
      ...(e.seed !== undefined ? { seed: e.seed } : {}),
      ...(e.setting ? { setting: e.setting } : {}),
      ...(inner ? { inner: { phase: inner.phase, step: inner.iteration ?? 0, total: inner.total ?? 0 } } : {}),
    },
  };
}

/** The harness's options for a job's spec. @throws EngineError('INVALID_ARGUMENT') for an ablation value the harness does not take */
export function evalOptions(spec: EvalRunSpec, env: { cacheDir: string; provider?: ProviderChoice }): EvalOptions {
  const ablation = spec.ablation ? parseAblation(`${spec.ablation.setting}=${spec.ablation.values.join(',')}`) : undefined;
  return {
    dataset:
      spec.dataset.kind === 'shapes'
        ? { kind: 'shapes', n: spec.dataset.n, seed: spec.dataset.seed ?? 0 }
        : { kind: 'folder', dir: path.resolve(spec.dataset.path) },
    methods: spec.methods,
    models: spec.modelSet,
    cacheDir: env.cacheDir,
    runDir: spec.runDir,
    ...(spec.limit !== undefined ? { limit: spec.limit } : {}),
    ...(spec.seeds?.length ? { seeds: spec.seeds } : {}),
    ...(spec.iterations !== undefined ? { iterations: spec.iterations } : {}),
    ...(spec.preset ? { preset: spec.preset } : {}),
    ...(spec.regenSteps !== undefined ? { regenSteps: spec.regenSteps } : {}),
    ...(spec.size !== undefined ? { size: spec.size } : {}),
    ...(ablation ? { ablation } : {}),
    ...(env.provider ? { provider: env.provider } : {}),
  };
}

/** Run (or continue) the evaluation; a cancelled run returns `cancelled` with the report of what is done written. */
export async function evaluateWithEngine(
  spec: EvalRunSpec,
  opts: RunOptions,
  env: { cacheDir: string; provider?: ProviderChoice; hooks?: EvalOptions['hooks'] },
): Promise<EvalRunOutput> {
  let last: EvalProgress | undefined;
  const r = await runEval(
    { ...evalOptions(spec, env), ...(env.hooks ? { hooks: env.hooks } : {}) },
    {
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: (e) => {
        last = e;
        opts.onProgress?.(evalProgress(e));
      },
    },
  );
  const done = r.records.filter((x) => x.error === undefined && x.stopped !== 'cancelled').length;
  return {
    runDir: r.runDir,
    cancelled: r.cancelled,
    skippedMethods: r.skippedMethods,
    done,
    total: Math.max(last?.total ?? 0, r.records.length),
    failed: r.failed.length,
  };
}
