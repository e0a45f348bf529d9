/**
 * The fuse job through EngineService with the fake engine and a fake `fuse`: which prompt each
 * library parent is fused by (recordedPrompt), the spec the engine gets (settings defaults, the
 * model set), what is stored in the library (a generation with its fusion record naming the
 * parents' items), grids, refusals and an engine without fusion. The real engine's path is in
 * test/main/host/fuse-engine.real.test.ts.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageToPng } from '../../../../src/main/engine/image/image-io.js';
import type { FuseOutput, FuseSpec } from '../../../../src/main/host/engine-adapter.js';
import { EngineService } from '../../../../src/main/host/engine-service.js';
import { recordedPrompt } from '../../../../src/main/host/jobs/fuse.js';
import { Library } from '../../../../src/main/host/library.js';
import type { FuseResult } from '../../../../src/shared/ipc/fusion.js';
import { JobResultSchema, type GenerateResult } from '../../../../src/shared/ipc/jobs.js';
import type { LibraryItem } from '../../../../src/shared/ipc/library.js';
import { DEFAULT_SETTINGS, type Settings } from '../../../../src/shared/ipc/settings.js';
import { Collector } from '../collector.js';
import { createFakeEngine } from '../fake-engine.js';

async function fakeFuse(spec: FuseSpec): Promise<FuseOutput> {
  const parents = spec.parents.map((p, i) => ({
    label: p.label ?? String.fromCharCode(65 + i),
    prompt: p.kind === 'prompt' ? p.text : p.recorded && !p.reinvert ? p.recorded.prompt : 'an inverted image',
    source: p.kind === 'prompt' ? ('prompt' as const) : p.recorded && !p.reinvert ? ('recorded' as const) : ('inverted' as const),
  }));
  const w = 16;
  const png = await imageToPng(new Float32Array(3 * w * w), w, w);
  const params = {
    steps: spec.steps ?? 20,
    scheduler: spec.scheduler ?? 'ddim',
    guidance: spec.guidance ?? 7.5,
    width: 64,
    height: 64,
    model: spec.modelSet,
  };
  if (spec.grid) {
    const modes = spec.grid.modes ?? ['concat', 'blend'];
    const weightSets = spec.grid.weightSets ?? [
      [0.75, 0.25],
      [0.25, 0.75],
    ];
    return {
      png,
      width: w,
      height: w,
      params,
      fusion: {
        mode: 'grid',
        parents,
        prompt: parents.map((p) => p.prompt).join(' × '),
        grid: {
          modes,
          weightSets,
          cells: modes.map((mode) => weightSets.map((weights) => ({ mode, weights, prompt: `${mode} cell` }))),
          gap: 4,
        },
      },
      warnings: [],
    };
  }
  const prompt = parents.map((p) => p.prompt).join(' and ');
  return {
    png,
    width: w,
    height: w,
    params,
    fusion: {
      mode: spec.mode!,
      weights: spec.weights ?? parents.map(() => 1 / parents.length),
      parents,
      prompt: spec.mode === 'blend' ? 'decoded words' : prompt,
      ...(spec.mode === 'blend'
        ? { decoded: { text: 'decoded words', distance: 0.3, decoder: 'search' as const }, interpolation: 'slerp' as const }
        : {}),
    },
    warnings: ['a fake warning'],
  };
}

function setup(settings: Settings = DEFAULT_SETTINGS, withFuse = true) {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'svc-fuse-')), 'library');
  const out = new Collector();
  const specs: FuseSpec[] = [];
  const base = createFakeEngine({ stepMs: 1 });
  const engine = withFuse
    ? {
        ...base,
        async fuse(spec: FuseSpec) {
          specs.push(spec);
          return fakeFuse(spec);
        },
      }
    : base;
  const service = new EngineService({ engine, settings, libraryDir: dir, send: out.send, progressIntervalMs: 0 });
  let n = 0;
  const ask = async (request: unknown) => {
    const id = `q${++n}`;
    await service.handle({ kind: 'request', id, request });
    return out.waitResponse(id);
  };
  const end = async (request: unknown) => {
    const r = await ask(request);
    if (!r.ok) throw new Error(`refused: [${r.error.code}] ${r.error.message}`);
    const jobId = (r.result as { jobId: string }).jobId;
    const m = await out.wait(
      (x) => x.kind === 'event' && 'jobId' in x.event && x.event.jobId === jobId && /result|failed|cancelled/.test(x.event.type),
    );
    return (m as { event: { type: string; result?: unknown; code?: string; message?: string } }).event;
  };
  const job = async <R>(request: unknown): Promise<R> => {
    const e = await end(request);
    if (e.type !== 'job.result') throw new Error(`job ${e.type}: [${e.code}] ${e.message}`);
    expect(JobResultSchema.safeParse(e.result).success).toBe(true);
    return e.result as R;
  };
  return { dir, out, ask, end, job, specs };
}

const inversion: LibraryItem = {
  kind: 'inversion',
  id: 'i1',
  createdAt: '2025-01-01T00:00:00Z',
  file: 'i1.png',
  width: 64,
  height: 64,
  inversion: {
    prompt: 'the answer',
    initialPrompt: 'start',
    candidates: [
      { prompt: 'the answer', score: 0.9, file: 'i1-c0.png' },
      { prompt: 'runner up', score: 0.8, file: 'i1-c1.png' },
    ],
    loss: [1],
    iterations: 1,
    seconds: 1,
    preset: 'fast',
    objective: 'pixel',
    model: 'demo',
    targetFile: 'i1-target.png',
    partial: false,
  },
};

describe('recordedPrompt', () => {
  it("reads a generation's prompt, an edit's before image's, an inversion's answer and a candidate's", () => {
    const gen: LibraryItem = {
      kind: 'generation',
      id: 'g1',
      createdAt: '2025-01-01T00:00:00Z',
      file: 'g1.png',
      width: 64,
      height: 64,
      params: {
        prompt: 'a red ball',
        negativePrompt: '',
        seed: 1,
        steps: 4,
        scheduler: 'ddim',
        guidance: 7,
        width: 64,
        height: 64,
        model: 'demo',
      },
    };
    expect(recordedPrompt(gen, 'g1.png')).toEqual({ prompt: 'a red ball', model: 'demo' });
    expect(recordedPrompt({ ...gen, params: { ...gen.params, prompt: ' ' } }, 'g1.png')).toBeUndefined();
    expect(recordedPrompt(inversion, 'i1.png')).toEqual({ prompt: 'the answer', model: 'demo' });
    expect(recordedPrompt(inversion, 'i1-target.png')).toEqual({ prompt: 'the answer', model: 'demo' });
    expect(recordedPrompt(inversion, 'i1-c1.png')).toEqual({ prompt: 'runner up', model: 'demo' });
  });
});

describe('fuse job', () => {
  it('fuses two library items by their recorded prompts and saves the result with its parents', async () => {
    const { job, specs, out } = setup();
    const a = await job<GenerateResult>({ type: 'generate', prompt: 'a red apple', modelSet: 'demo', steps: 1 });
    const b = await job<GenerateResult>({ type: 'generate', prompt: 'a blue ball', modelSet: 'demo', steps: 1 });
    const r = await job<FuseResult>({
      type: 'fuse',
      parents: [
        { kind: 'library', id: a.item.id },
        { kind: 'library', id: b.item.id },
      ],
      mode: 'blend',
      weights: [0.3, 0.7],
      steps: 4,
      seed: 5,
    });
    const spec = specs[0]!;
    expect(spec).toMatchObject({
      modelSet: DEFAULT_SETTINGS.modelSet,
      mode: 'blend',
      weights: [0.3, 0.7],
      steps: 4,
      seed: 5,
      negativePrompt: '',
    });
    expect(spec.parents.map((p) => (p.kind === 'image' ? p.recorded : p))).toEqual([
      { prompt: 'a red apple', model: 'demo' },
      { prompt: 'a blue ball', model: 'demo' },
    ]);
    expect(r.item.kind).toBe('generation');
    if (r.item.kind !== 'generation') return;
    expect(r.item.params).toMatchObject({ prompt: 'decoded words', seed: 5, steps: 4, model: DEFAULT_SETTINGS.modelSet });
    expect(r.item.fusion).toMatchObject({
      mode: 'blend',
      weights: [0.3, 0.7],
      decoded: { text: 'decoded words', decoder: 'search' },
      parents: [
        { prompt: 'a red apple', source: 'recorded', item: a.item.id },
        { prompt: 'a blue ball', source: 'recorded', item: b.item.id },
      ],
    });
    expect(r.warnings).toEqual(['a fake warning']);
    expect(out.events('library.changed').some((e) => e.type === 'library.changed' && e.item.id === r.item.id)).toBe(true);
  });

  it("takes a candidate's image, a typed prompt and the settings' defaults; inverts when asked", async () => {
    const settings: Settings = {
      ...DEFAULT_SETTINGS,
      modelSet: 'sd15',
      defaults: {
        ...DEFAULT_SETTINGS.defaults,
        generate: { ...DEFAULT_SETTINGS.defaults.generate, seed: 42, steps: 9, negativePrompt: 'blurry' },
      },
    };
    const { dir, job, specs } = setup(settings);
    const lib = new Library(dir);
    const png = await imageToPng(new Float32Array(3 * 64 * 64), 64, 64);
    for (const f of ['i1-c0.png', 'i1-c1.png', 'i1-target.png']) await lib.writeFile(f.replace('.png', ''), 'png', png);
    await lib.add(inversion, png);
    const r = await job<FuseResult>({
      type: 'fuse',
      parents: [
        { kind: 'library', id: 'i1', file: 'i1-c1.png', reinvert: true },
        { kind: 'prompt', text: 'a green cube' },
      ],
      mode: 'concat',
    });
    expect(specs[0]).toMatchObject({ modelSet: 'sd15', seed: 42, steps: 9, negativePrompt: 'blurry' });
    expect(specs[0]!.parents[0]).toMatchObject({ kind: 'image', recorded: { prompt: 'runner up', model: 'demo' }, reinvert: true });
    if (r.item.kind !== 'generation') throw new Error('expected a generation');
    expect(r.item.fusion!.parents).toEqual([
      { label: 'A', prompt: 'an inverted image', source: 'inverted', item: 'i1' },
      { label: 'B', prompt: 'a green cube', source: 'prompt' },
    ]);
  });

  it('a grid is saved as one item with its rows, columns and cells', async () => {
    const { job } = setup();
    const r = await job<FuseResult>({
      type: 'fuse',
      parents: [
        { kind: 'prompt', text: 'a red apple' },
        { kind: 'prompt', text: 'a blue ball' },
      ],
      grid: { modes: ['concat', 'compose'] },
    });
    if (r.item.kind !== 'generation') throw new Error('expected a generation');
    expect(r.item.fusion).toMatchObject({ mode: 'grid', prompt: 'a red apple × a blue ball', grid: { modes: ['concat', 'compose'] } });
    expect(r.item.fusion!.grid!.cells).toHaveLength(2);
  });

  it('refuses one parent, a missing mode, wrong weight counts and unknown items; says when the engine cannot fuse', async () => {
    const { ask, end } = setup();
    const two = [
      { kind: 'prompt', text: 'a' },
      { kind: 'prompt', text: 'b' },
    ];
    for (const [r, message] of [
      [{ type: 'fuse', parents: [{ kind: 'prompt', text: 'a' }], mode: 'blend' }, /at least two parents/],
      [{ type: 'fuse', parents: two }, /choose a fusion mode/],
      [{ type: 'fuse', parents: two, mode: 'blend', weights: [1, 1, 1] }, /one weight per parent/],
      [{ type: 'fuse', parents: two, mode: 'regions', regions: ['left'] }, /one region per parent/],
      [{ type: 'fuse', parents: two, mode: 'blend', weights: [-1, 1] }, /weights/],
      [{ type: 'fuse', parents: [{ kind: 'prompt', text: ' ' }, two[1]], mode: 'blend' }, /prompt parent is empty/],
      [{ type: 'fuse', parents: [{ kind: 'library', id: '../x' }, two[1]], mode: 'blend' }, /id/],
    ] as const) {
      const res = await ask(r);
      expect(res.ok, JSON.stringify(r)).toBe(false);
      if (!res.ok) expect(res.error.message).toMatch(message);
    }
    const unknown = await end({ type: 'fuse', parents: [{ kind: 'library', id: 'nope' }, two[1]], mode: 'blend' });
    expect(unknown).toMatchObject({ type: 'job.failed', code: 'INVALID_ARGUMENT' });
    expect(unknown.message).toMatch(/no library item 'nope'/);

    const none = setup(DEFAULT_SETTINGS, false);
    expect(await none.end({ type: 'fuse', parents: two, mode: 'blend' })).toMatchObject({ type: 'job.failed', code: 'NOT_AVAILABLE' });
  });
});
