/**
 * The `eval` job through the engine service (validated request -> queue -> job -> run folder ->
 * report as data), on a stand-in harness (fake-eval.ts) that writes the run folder as runEval
 * does: progress, the result's tables and figures, studio.json, listing and reopening past runs,
 * cancelling and continuing a run, options that may not change, failures, method availability.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EngineAdapter } from '../../../../src/main/host/engine-adapter.js';
import { EngineService } from '../../../../src/main/host/engine-service.js';
import { checkLibraryFolder } from '../../../../src/main/host/library.js';
import { EvalResultSchema, EvaluationSchema, type Evaluation } from '../../../../src/shared/ipc/eval.js';
import type { StudioEvent } from '../../../../src/shared/ipc/events.js';
import { DEFAULT_SETTINGS } from '../../../../src/shared/ipc/settings.js';
import { Collector } from '../collector.js';
import { createFakeEngine } from '../fake-engine.js';
import { createFakeEval, PEZ_MISSING } from '../fake-eval.js';

function setup(engineExtras: (base: EngineAdapter) => Partial<EngineAdapter> = () => ({})) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eval-job-'));
  const out = new Collector();
  const fakeEval = createFakeEval();
  const base = createFakeEngine({ stepMs: 2 });
  const engine: EngineAdapter = { ...base, evaluate: fakeEval.evaluate, ...engineExtras(base) };
  const service = new EngineService({ engine, settings: DEFAULT_SETTINGS, libraryDir: dir, send: out.send, progressIntervalMs: 0 });
  let n = 0;
  const ask = async (request: unknown) => {
    const id = `q${++n}`;
    await service.handle({ kind: 'request', id, request });
    return out.waitResponse(id);
  };
  const start = async (request: object): Promise<string> => {
    const r = await ask({ type: 'eval', ...request });
    expect(r.ok, JSON.stringify(r)).toBe(true);
    return (r as { result: { jobId: string } }).result.jobId;
  };
  const end = (jobId: string) =>
    out.wait(
      (m) => m.kind === 'event' && 'jobId' in m.event && m.event.jobId === jobId && /^job\.(result|failed|cancelled)$/.test(m.event.type),
    );
  return { dir, out, ask, start, end, fakeEval, service };
}

const spec = { dataset: { kind: 'shapes', n: 3 }, methods: ['editor', 'pez', 'caption'], seeds: [0, 1], iterations: 2 };

describe('the eval job', () => {
  it('runs an evaluation in a run folder under the library: progress, the report as data, the run listed and reopened', async () => {
    const { dir, out, ask, start, end, service } = setup();
    const jobId = await start(spec);
    const last = (await end(jobId)) as { event: StudioEvent };
    expect(last.event.type).toBe('job.result');
    const result = EvalResultSchema.parse((last.event as { result: unknown }).result).evaluation;

    // Progress: the run, units done of all, the unit at work.
    const progress = out.jobEvents(jobId).flatMap((e) => (e.type === 'job.progress' ? [e.progress] : []));
    const units = progress.filter((p) => p.evaluation?.item);
    expect(units.length).toBe(12); // 3 items × editor, caption × 2 seeds (pez is not installed)
    expect(units[0]!.evaluation).toMatchObject({
      runId: result.id,
      stage: 'inverting',
      done: 0,
      total: 12,
      item: 'item-0',
      method: 'editor',
      seed: 0,
    });
    expect(units[0]!.phase).toBe('evaluating');
    expect(units[0]!.message).toBe('item-0 · editor · seed 0 · refining 1/2');
    expect(units.at(-1)!.evaluation!.done).toBe(11);

    // The result: the report's tables as data, its figures, what did not run.
    expect(result.id).toMatch(/^eval-\d{8}-\d{6}-[0-9a-f]{6}$/);
    expect(result.dir).toBe(path.join(dir, 'evaluations', result.id));
    expect(result).toMatchObject({
      state: 'done',
      done: 12,
      total: 12,
      failed: 0,
      dataset: 'shapes:3',
      models: 'shapes',
      profile: 'paper',
    });
    expect(result.spec).toEqual({ ...spec, modelSet: 'shapes' });
    const table = result.tables.find((t) => t.id === 'results')!;
    expect(table.columns.map((c) => c.key)).toEqual(['clip', 'wordF1']);
    expect(table.rows.map((r) => [r.method, r.n])).toEqual([
      ['editor', 6],
      ['caption', 6],
    ]);
    // clip of editor: 0.80, 0.81, 0.82 for each of two seeds.
    expect(table.rows[0]!.cells[0]!.mean).toBeCloseTo(0.81, 12);
    expect(table.rows[0]!.cells[0]!.best).toBe(true);
    expect(result.tables.map((t) => t.id)).toEqual(['results', 'paired', 'per-seed']);
    expect(result.figures.map((f) => f.name)).toEqual(expect.arrayContaining(['fig-clip.svg', 'fig-wordF1.svg', 'fig-loss.svg']));
    expect(result.skippedMethods).toEqual([{ method: 'pez', reason: PEZ_MISSING }]);
    expect(result.skippedMetrics[0]!.metric).toBe('lpips');
    for (const f of ['results.jsonl', 'run.json', 'report.md', 'studio.json']) expect(existsSync(path.join(result.dir, f))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(result.dir, 'studio.json'), 'utf8'))).toMatchObject({ state: 'done', done: 12, total: 12 });

    // Reopening: the list, and the same report.
    const list = (await ask({ type: 'listEvaluations' })) as { ok: true; result: { evaluations: { id: string; state: string }[] } };
    expect(list.result.evaluations.map((e) => [e.id, e.state])).toEqual([[result.id, 'done']]);
    const again = (await ask({ type: 'getEvaluation', id: result.id })) as { ok: true; result: Evaluation };
    expect(EvaluationSchema.parse(again.result).tables).toEqual(result.tables);
    expect(again.result.figures).toEqual(result.figures);
    const missing = await ask({ type: 'getEvaluation', id: 'eval-nope' });
    expect(missing).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    // The library folder with its evaluations/ is still a library.
    await expect(checkLibraryFolder(dir)).resolves.toBeUndefined();
    await service.dispose();
  });

  it('cancels keeping the units done, and continues the run where it stopped (same options only)', async () => {
    const { out, ask, start, end, fakeEval, service } = setup();
    let jobId = '';
    fakeEval.stopAfter = { units: 5, abort: () => void ask({ type: 'cancel', jobId }) };
    jobId = await start(spec);
    const cancelled = (await end(jobId)) as { event: StudioEvent };
    expect(cancelled.event.type).toBe('job.cancelled');
    const partial = EvalResultSchema.parse((cancelled.event as { partial?: unknown }).partial).evaluation;
    expect(partial.state).toBe('cancelled');
    expect(partial.done).toBeGreaterThanOrEqual(5);
    expect(partial.done).toBeLessThan(12);
    const ranFirst = fakeEval.calls.length;
    expect(ranFirst).toBe(partial.done);

    const listed = (await ask({ type: 'listEvaluations' })) as { ok: true; result: { evaluations: { id: string; state: string }[] } };
    expect(listed.result.evaluations[0]).toMatchObject({ id: partial.id, state: 'cancelled' });

    // Other options: refused, the run is untouched.
    const changed = await start({ ...spec, iterations: 50, runId: partial.id });
    const refused = (await end(changed)) as { event: StudioEvent };
    expect(refused.event).toMatchObject({ type: 'job.failed', code: 'INVALID_ARGUMENT' });
    expect((refused.event as { message: string }).message).toMatch(/options it was started with/);
    const unknown = await start({ ...spec, runId: 'eval-unknown' });
    expect(((await end(unknown)) as { event: StudioEvent }).event).toMatchObject({ type: 'job.failed', code: 'INVALID_ARGUMENT' });

    // The same options (modelSet as resolved or left out): only the rest runs.
    const cont = await start({ ...spec, runId: partial.id });
    const done = (await end(cont)) as { event: StudioEvent };
    expect(done.event.type).toBe('job.result');
    const full = EvalResultSchema.parse((done.event as { result: unknown }).result).evaluation;
    expect(full).toMatchObject({ id: partial.id, state: 'done', done: 12, total: 12, createdAt: partial.createdAt });
    expect(fakeEval.calls.length).toBe(12);
    expect(new Set(fakeEval.calls).size).toBe(12);
    const resumedProgress = out
      .jobEvents(cont)
      .flatMap((e) => (e.type === 'job.progress' && e.progress.evaluation?.item ? [e.progress] : []));
    expect(resumedProgress[0]!.evaluation!.resumed).toBe(ranFirst);
    // This run's units only, so the ETA the queue estimates is not skewed by the earlier ones.
    expect(resumedProgress[0]!.total).toBe(12 - ranFirst);
    await service.dispose();
  });

  it('records a failed run with its error, and lists a run the engine stopped during as interrupted', async () => {
    const { dir, ask, start, end, service } = setup();
    const jobId = await start({ dataset: { kind: 'folder', path: '/data/missing' }, methods: ['editor'] });
    expect(((await end(jobId)) as { event: StudioEvent }).event).toMatchObject({ type: 'job.failed', code: 'INVALID_ARGUMENT' });
    // A run left 'running' by a worker that died (no job runs it now).
    const stale = path.join(dir, 'evaluations', 'eval-20250101-000000-abcdef');
    mkdirSync(stale, { recursive: true });
    writeFileSync(
      path.join(stale, 'studio.json'),
      JSON.stringify({
        format: 'inversion-studio-evaluation',
        version: 1,
        id: 'eval-20250101-000000-abcdef',
        createdAt: '2025-01-01T00:00:00.000Z',
        updatedAt: '2025-01-01T00:05:00.000Z',
        spec: { dataset: { kind: 'shapes', n: 2 }, methods: ['editor'], modelSet: 'shapes' },
        state: 'running',
        done: 1,
        total: 2,
        failed: 0,
      }),
    );
    // Not ours: ignored.
    mkdirSync(path.join(dir, 'evaluations', 'notes'), { recursive: true });
    writeFileSync(path.join(dir, 'evaluations', 'notes', 'studio.json'), '{"hello": 1}');
    const list = (await ask({ type: 'listEvaluations' })) as {
      ok: true;
      result: { evaluations: { id: string; state: string; error?: { code: string; message: string } }[] };
    };
    const states = list.result.evaluations.map((e) => e.state);
    expect(states).toEqual(['failed', 'interrupted']);
    expect(list.result.evaluations[0]!.error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/does not exist/) });
    // Reopening a run without run.json: its summary, no tables.
    const r = (await ask({ type: 'getEvaluation', id: 'eval-20250101-000000-abcdef' })) as { ok: true; result: Evaluation };
    expect(r.result).toMatchObject({ state: 'interrupted', done: 1, total: 2, tables: [], dataset: 'shapes:2' });
    await service.dispose();
  });

  it('says which methods a model set can run (the engine decides; an engine without baselines runs EDITOR only)', async () => {
    const plain = setup();
    const r = (await plain.ask({ type: 'listMethods' })) as {
      ok: true;
      result: { modelSet: string; methods: { method: string; available: boolean }[] };
    };
    expect(r.result.modelSet).toBe(DEFAULT_SETTINGS.modelSet);
    expect(r.result.methods.map((m) => [m.method, m.available])).toEqual([
      ['editor', true],
      ['ph2p', false],
      ['pez', false],
      ['caption', false],
    ]);
    await plain.service.dispose();
    const asked: string[] = [];
    const withMethods = setup(() => ({
      methods: async (ref: string) => {
        asked.push(ref);
        return [
          { method: 'editor', available: true },
          { method: 'ph2p', available: true },
          { method: 'pez', available: false, reason: 'install CLIP' },
          { method: 'caption', available: true },
        ];
      },
    }));
    const m = (await withMethods.ask({ type: 'listMethods', modelSet: 'sd15' })) as {
      ok: true;
      result: { methods: { reason?: string }[] };
    };
    expect(asked).toEqual(['sd15']);
    expect(m.result.methods[2]!.reason).toBe('install CLIP');
    await withMethods.service.dispose();
  });

  it('fails with NOT_AVAILABLE on an engine without the harness', async () => {
    const { start, end, service } = setup(() => ({ evaluate: undefined }));
    const jobId = await start(spec);
    expect(((await end(jobId)) as { event: StudioEvent }).event).toMatchObject({ type: 'job.failed', code: 'NOT_AVAILABLE' });
    await service.dispose();
  });
});
