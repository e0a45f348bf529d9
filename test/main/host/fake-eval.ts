/**
 * A stand-in for the engine's evaluation harness, for the `eval` job's plumbing tests: it writes
 * the run folder the way runEval does (run.json, results.jsonl through the real ResultsLog, the
 * report through the real writeReport), skips the units a previous run finished, reports progress
 * through the real mapping (real-eval.ts), and stops at the signal. PEZ is "not installed".
 * Metric values are a function of the item and method, so tables are predictable.
 */
import path from 'node:path';
import { CancelledError, EngineError } from '../../../src/main/engine/errors.js';
import { metricColumn } from '../../../src/main/engine/eval/metric-suite.js';
import { writeReport, type RunMeta } from '../../../src/main/engine/eval/report.js';
import { ResultsLog, type EvalRecord } from '../../../src/main/engine/eval/results-log.js';
import { safeWriteFile } from '../../../src/main/engine/io/safe-write.js';
import type { EvalRunOutput, EvalRunSpec, RunOptions } from '../../../src/main/host/engine-adapter.js';
import { evalProgress } from '../../../src/main/host/real-eval.js';
import { datasetLabel } from '../../../src/shared/ipc/eval.js';

export const PEZ_MISSING = 'PEZ needs a CLIP with a text tower (fake)';

export interface FakeEval {
  evaluate(spec: EvalRunSpec, opts: RunOptions): Promise<EvalRunOutput>;
  /** Unit keys run, in order, over all calls. */
  calls: string[];
  /** Abort after this many units of the next call (the test's cancel). */
  stopAfter?: { units: number; abort: () => void };
}

export function createFakeEval(o: { unitMs?: number } = {}): FakeEval {
  const fake: FakeEval = {
    calls: [],
    async evaluate(spec, { signal, onProgress }) {
      if (spec.dataset.kind === 'folder' && spec.dataset.path.includes('missing'))
        throw new EngineError('INVALID_ARGUMENT', `the dataset folder ${spec.dataset.path} does not exist (or give shapes:N)`);
      const { log } = await ResultsLog.open(path.join(spec.runDir, 'results.jsonl'));
      const n = spec.dataset.kind === 'shapes' ? spec.dataset.n : 2;
      const items = Array.from({ length: Math.min(n, spec.limit ?? n) }, (_, i) => `item-${i}`);
      const seeds = spec.seeds ?? [0];
      const methods = spec.methods.filter((m) => m !== 'pez');
      const skippedMethods = spec.methods.includes('pez') ? [{ method: 'pez' as const, reason: PEZ_MISSING }] : [];
      const units = items.flatMap((item) =>
        methods.flatMap((method) => seeds.map((seed) => ({ key: `${item}|${method}|seed=${seed}`, item, method, seed }))),
      );
      const meta: RunMeta = {
        dataset: datasetLabel(spec.dataset),
        models: spec.modelSet,
        profile: 'paper',
        methods: spec.methods,
        seeds,
        preset: spec.preset ?? 'fast',
        size: 64,
        regenSteps: spec.regenSteps ?? 1,
        columns: ['clip', 'wordF1'].map((k) => metricColumn(k)!),
        metricSources: {},
        skippedMetrics: [{ metric: 'lpips', reason: 'LPIPS is not installed (fake)' }],
        skippedMethods,
        warnings: [],
        models_used: {},
      };
      await safeWriteFile(path.join(spec.runDir, 'run.json'), JSON.stringify({ ...meta, startedAt: new Date().toISOString() }), {
        mkdir: true,
      });
      const resumed = units.filter((u) => log.done(u.key)).length;
      let done = resumed;
      let ranHere = 0;
      let cancelled = false;
      onProgress?.(evalProgress({ phase: 'loading', done: 0, total: 0, resumed: 0, message: 'loading models' }));
      for (const u of units) {
        if (log.done(u.key)) continue;
        if (signal?.aborted) {
          cancelled = true;
          break;
        }
        const base = { done, total: units.length, resumed, item: u.item, method: u.method, seed: u.seed };
        onProgress?.(evalProgress({ ...base, phase: 'inverting', inner: { phase: 'refining', iteration: 1, total: 2 } }));
        await new Promise((r) => setTimeout(r, o.unitMs ?? 5));
        fake.calls.push(u.key);
        const i = Number(u.item.split('-')[1]);
        const record: EvalRecord = {
          key: u.key,
          item: u.item,
          method: u.method,
          seed: u.seed,
          reference: 'a red cat',
          prompt: u.method === 'editor' ? 'a red cat' : 'a cat',
          initialPrompt: 'a cat',
          metrics: { clip: (u.method === 'editor' ? 0.8 : 0.6) + i / 100, clipInitial: 0.5, wordF1: u.method === 'editor' ? 1 : 0.8 },
          loss: [1, 0.5],
          lossStride: 1,
          iterations: 2,
          seconds: 1,
          finishedAt: new Date().toISOString(),
        };
        await log.append(record);
        done++;
        ranHere++;
        if (fake.stopAfter && ranHere === fake.stopAfter.units) {
          fake.stopAfter.abort();
          fake.stopAfter = undefined;
        }
      }
      if (signal?.aborted && !cancelled && done < units.length) cancelled = true;
      onProgress?.(evalProgress({ phase: 'report', done, total: units.length, resumed }));
      const keys = new Set(units.map((u) => u.key));
      await writeReport(
        spec.runDir,
        log.all().filter((r) => keys.has(r.key)),
        meta,
      );
      if (signal?.aborted && done === resumed && ranHere === 0 && units.length > resumed)
        throw new CancelledError('cancelled before any unit');
      return { runDir: spec.runDir, cancelled, skippedMethods, done, total: units.length, failed: 0 };
    },
  };
  return fake;
}
