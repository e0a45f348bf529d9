/**
 * The `eval` job on the real engine and harness (demo set, one 64×64 image, PH2P with one
 * iteration, one-step regenerations): the request path the Evaluate page uses, end to end; and
 * the mapping of the harness's progress onto job progress.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineService } from '../../../src/main/host/engine-service.js';
import { createRealEngine } from '../../../src/main/host/real-engine.js';
import { evalOptions, evalProgress } from '../../../src/main/host/real-eval.js';
import { EvalResultSchema } from '../../../src/shared/ipc/eval.js';
import { DEFAULT_SETTINGS } from '../../../src/shared/ipc/settings.js';
import { testCacheDir } from '../engine/models/demo/demo-cache.js';
import { Collector } from './collector.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'real-eval-'));
const out = new Collector();
const service = new EngineService({
  engine: createRealEngine(),
  settings: { ...DEFAULT_SETTINGS, cacheDir: testCacheDir(), provider: 'cpu' },
  libraryDir: path.join(root, 'library'),
  send: out.send,
});
afterAll(() => service.dispose());

describe('the eval job on the real engine', () => {
  it('maps the harness progress: this run’s units as step/total, the whole run and the unit in `evaluation`', () => {
    const p = evalProgress({
      phase: 'inverting',
      done: 7,
      total: 12,
      resumed: 4,
      etaSeconds: 30,
      item: 'a.png',
      method: 'pez',
      seed: 34,
      inner: { phase: 'refining', iteration: 5, total: 300 },
    });
    expect(p).toMatchObject({ phase: 'evaluating', step: 3, total: 8, etaSeconds: 30, message: 'a.png · pez · seed 34 · refining 5/300' });
    expect(p.evaluation).toEqual({
      stage: 'inverting',
      done: 7,
      total: 12,
      resumed: 4,
      item: 'a.png',
      method: 'pez',
      seed: 34,
      inner: { phase: 'refining', step: 5, total: 300 },
    });
    expect(evalProgress({ phase: 'report', done: 12, total: 12, resumed: 0 }).phase).toBe('saving');
    expect(() =>
      evalOptions(
        {
          dataset: { kind: 'shapes', n: 1 },
          methods: ['editor'],
          modelSet: 'shapes',
          runDir: '/r',
          ablation: { setting: 'steps', values: ['x'] },
        },
        { cacheDir: '/c' },
      ),
    ).toThrow(/not an integer/);
    expect(
      evalOptions(
        { dataset: { kind: 'shapes', n: 3 }, methods: ['pez'], modelSet: 'shapes', runDir: '/r', seeds: [1] },
        { cacheDir: '/c' },
      ),
    ).toEqual({
      dataset: { kind: 'shapes', n: 3, seed: 0 },
      methods: ['pez'],
      models: 'shapes',
      cacheDir: '/c',
      runDir: '/r',
      seeds: [1],
    });
  });

  it('evaluates a folder dataset with PH2P (the caption skipped: no captioner) and reports the table', async () => {
    const data = path.join(root, 'data');
    mkdirSync(data, { recursive: true });
    await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 30, g: 30, b: 200 } } })
      .png()
      .toFile(path.join(data, 'blue.png'));
    writeFileSync(path.join(data, 'prompts.jsonl'), `${JSON.stringify({ image: 'blue.png', prompt: 'a blue square' })}\n`);
    await service.handle({
      kind: 'request',
      id: 'r1',
      request: {
        type: 'eval',
        dataset: { kind: 'folder', path: data },
        methods: ['ph2p', 'caption'],
        modelSet: 'demo',
        iterations: 1,
        regenSteps: 1,
      },
    });
    const accepted = (await out.waitResponse('r1')) as { ok: true; result: { jobId: string } };
    const done = await out.waitEvent('job.result', (e) => e.jobId === accepted.result.jobId, 600_000);
    const ev = EvalResultSchema.parse(done.result).evaluation;
    expect(ev).toMatchObject({ state: 'done', done: 1, total: 1, failed: 0, models: 'demo', profile: 'paper' });
    expect(ev.skippedMethods.map((s) => s.method)).toEqual(['caption']);
    const results = ev.tables.find((t) => t.id === 'results')!;
    expect(results.rows.map((r) => [r.method, r.n])).toEqual([['ph2p', 1]]);
    expect(results.columns.map((c) => c.key)).toContain('wordF1');
    expect(ev.figures.length).toBeGreaterThan(0);
    expect(ev.dir.startsWith(path.join(root, 'library', 'evaluations'))).toBe(true);
  }, 600_000);
});
