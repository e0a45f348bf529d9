/**
 * The edit job through EngineService with the fake engine: which prompt, settings and model set
 * each source gives (editSource), what is stored in the library (the edit linked to its source,
 * the before image with it), the result on the wire, refusals and cancellation. The real engine's
 * path is in edit.real.test.ts.
 */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { imageToPng } from '../../../../src/main/engine/image/image-io.js';
import { EngineService } from '../../../../src/main/host/engine-service.js';
import { editSource } from '../../../../src/main/host/jobs/edit.js';
import { JobResultSchema, type EditResult, type GenerateResult, type InvertResult } from '../../../../src/shared/ipc/jobs.js';
import type { LibraryItem } from '../../../../src/shared/ipc/library.js';
import { DEFAULT_SETTINGS } from '../../../../src/shared/ipc/settings.js';
import { Collector } from '../collector.js';
import { createFakeEngine } from '../fake-engine.js';

function setup(stepMs = 2) {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'svc-edit-')), 'library');
  const out = new Collector();
  const engine = createFakeEngine({ stepMs });
  const service = new EngineService({ engine, settings: DEFAULT_SETTINGS, libraryDir: dir, send: out.send, progressIntervalMs: 0 });
  let n = 0;
  const ask = async (request: unknown) => {
    const id = `q${++n}`;
    await service.handle({ kind: 'request', id, request });
    return out.waitResponse(id);
  };
  const start = async (request: unknown): Promise<string> => {
    const r = await ask(request);
    if (!r.ok) throw new Error(`refused: ${r.error.message}`);
    return (r.result as { jobId: string }).jobId;
  };
  const end = async (jobId: string) => {
    const done = await out.wait(
      (m) => m.kind === 'event' && 'jobId' in m.event && m.event.jobId === jobId && /result|failed|cancelled/.test(m.event.type),
    );
    return (done as { event: { type: string; result?: unknown; code?: string; message?: string } }).event;
  };
  const job = async <R>(request: unknown): Promise<R> => {
    const e = await end(await start(request));
    if (e.type !== 'job.result') throw new Error(`job ${e.type}: ${e.message}`);
    return e.result as R;
  };
  return { dir, out, engine, service, ask, start, end, job };
}

const generation: LibraryItem = {
  kind: 'generation',
  id: 'g1',
  createdAt: '2025-01-01T00:00:00Z',
  file: 'g1.png',
  width: 64,
  height: 64,
  params: {
    prompt: 'a red ball and a blue cube',
    negativePrompt: 'blurry',
    seed: 3,
    steps: 4,
    scheduler: 'ddim',
    guidance: 7,
    width: 64,
    height: 64,
    model: 'shapes',
  },
};
const inversion: LibraryItem = {
  kind: 'inversion',
  id: 'i1',
  createdAt: '2025-01-01T00:00:00Z',
  file: 'i1.png',
  width: 64,
  height: 64,
  inversion: {
    prompt: 'answer words',
    initialPrompt: 'start',
    candidates: [
      { prompt: 'best candidate', score: 2, file: 'i1-c0.png' },
      { prompt: 'second candidate', score: 1, file: 'i1-c1.png' },
    ],
    loss: [],
    iterations: 1,
    seconds: 1,
    preset: 'fast',
    objective: 'latent',
    model: 'demo',
    targetFile: 'i1-target.png',
    partial: false,
  },
};

describe('editSource: the prompt, settings and model set of each source', () => {
  const bytes = Buffer.alloc(4);
  it('a library generation: its own prompt, seed and settings, on its model set, linked to it', () => {
    const plan = editSource({ bytes, item: generation, file: 'g1.png' }, DEFAULT_SETTINGS);
    expect(plan).toMatchObject({
      modelSet: 'shapes',
      kind: 'generation',
      editOf: 'g1',
      notes: [],
      source: { prompt: 'a red ball and a blue cube', negativePrompt: 'blurry', seed: 3, steps: 4, scheduler: 'ddim', guidance: 7 },
    });
    expect(plan.source.image).toBe(bytes);
  });

  it("an edit's before image is that edit's source; the edit itself is a source that is itself an edit", () => {
    const edited: LibraryItem = {
      ...generation,
      id: 'e1',
      file: 'e1.png',
      params: { ...generation.params, prompt: 'a red ball' },
      editOf: 'g1',
      edit: {
        source: { ...generation.params, kind: 'generation' },
        mode: 'blend',
        requestedMode: 'auto',
        modeReason: 'r',
        diff: { summary: 'removal of "and a blue cube"', edits: [{ kind: 'removal', source: 'and a blue cube', edited: '' }] },
        crossSteps: 0.8,
        selfSteps: 0.4,
        report: {
          maskArea: 0.5,
          outside: { pixels: 1, changed: 0, psnr: null },
          inside: { pixels: 1, changed: 1, psnr: 3 },
          whole: { pixels: 2, changed: 0.5, psnr: 6 },
          tolerance: 12,
        },
        sourceFile: 'e1-source.png',
      },
    };
    expect(editSource({ bytes, item: edited, file: 'e1-source.png' }, DEFAULT_SETTINGS)).toMatchObject({
      editOf: 'g1',
      source: { prompt: 'a red ball and a blue cube' },
      notes: [],
    });
    const again = editSource({ bytes, item: edited, file: 'e1.png' }, DEFAULT_SETTINGS);
    expect(again).toMatchObject({ editOf: 'e1', source: { prompt: 'a red ball' } });
    expect(again.notes[0]).toMatch(/itself an edit/);
  });

  it("an inversion: the shown image's prompt rendered as the ranking did (preset steps, LMS, guidance 7.5, seed 0); its target is refused", () => {
    expect(editSource({ bytes, item: inversion, file: 'i1.png' }, DEFAULT_SETTINGS)).toMatchObject({
      modelSet: 'demo',
      kind: 'inversion',
      editOf: 'i1',
      source: { prompt: 'best candidate', negativePrompt: '', seed: 0, steps: 5, scheduler: 'lms', guidance: 7.5, width: 64, height: 64 },
    });
    expect(editSource({ bytes, item: inversion, file: 'i1-c1.png' }, DEFAULT_SETTINGS).source.prompt).toBe('second candidate');
    expect(() => editSource({ bytes, item: inversion, file: 'i1-target.png' }, DEFAULT_SETTINGS)).toThrow(/the image that was inverted/);
  });

  it('an upload: the parameters its PNG carries; without a prompt and seed, a clear error', async () => {
    const chw = new Float32Array(3 * 64 * 64);
    const record = {
      app: 'inversion-studio',
      prompt: 'a green tree',
      negativePrompt: '',
      seed: 11,
      steps: 6,
      scheduler: 'euler',
      guidance: 5,
      width: 64,
      height: 64,
      model: 'demo',
    };
    const ours = await imageToPng(chw, 64, 64, { json: record });
    expect(editSource({ bytes: ours }, DEFAULT_SETTINGS)).toMatchObject({
      kind: 'upload',
      modelSet: 'demo',
      source: { prompt: 'a green tree', seed: 11, steps: 6, scheduler: 'euler', guidance: 5, width: 64, height: 64 },
    });
    const a1111 = await imageToPng(chw, 64, 64, { parameters: { prompt: 'a blue lake', seed: 4, steps: 3, width: 64, height: 64 } });
    const fromText = editSource({ bytes: a1111 }, { ...DEFAULT_SETTINGS, modelSet: 'sd15' });
    expect(fromText).toMatchObject({ kind: 'upload', modelSet: 'sd15', source: { prompt: 'a blue lake', seed: 4, steps: 3 } });
    const bare = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    expect(() => editSource({ bytes: bare }, DEFAULT_SETTINGS)).toThrow(/carries no generation parameters/);
  });
});

describe('the edit job (EngineService, fake engine)', () => {
  it('edits a library generation: saved linked to its source with the before image, the result on the wire', async () => {
    const { job, engine, dir, out } = setup();
    const gen = await job<GenerateResult>({ type: 'generate', prompt: 'a red ball and a blue cube', steps: 2, seed: 5 });
    const r = await job<EditResult>({
      type: 'edit',
      source: { source: 'library', id: gen.item.id },
      prompt: 'a red ball',
      crossSteps: 0.6,
    });
    expect(JobResultSchema.parse(r)).toEqual(r);
    expect(engine.calls.at(-1)).toBe('edit:a red ball and a blue cube->a red ball');
    expect(r).toMatchObject({
      kind: 'edit',
      mode: 'blend',
      diff: { summary: 'removal of "and a blue cube"', edits: [{ kind: 'removal', source: 'and a blue cube', edited: '' }] },
      mask: { width: 8, height: 8 },
      report: { maskArea: 0.5, outside: { changed: 0, psnr: null } },
    });
    expect([...Buffer.from(r.mask.data, 'base64')].slice(0, 8)).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);
    const item = r.item;
    expect(item.kind).toBe('generation');
    if (item.kind !== 'generation') return;
    expect(item.editOf).toBe(gen.item.id);
    expect(item.params).toMatchObject({ prompt: 'a red ball', seed: 5, steps: 2, model: 'demo' });
    expect(item.edit).toMatchObject({
      source: { kind: 'generation', prompt: 'a red ball and a blue cube', seed: 5, model: 'demo' },
      mode: 'blend',
      requestedMode: 'auto',
      crossSteps: 0.6,
      sourceFile: r.sourceFile,
      sourceReproduced: true,
    });
    expect(r.sourceFile).toBe(`${item.id}-source.png`);
    expect(existsSync(path.join(dir, r.sourceFile))).toBe(true);
    expect(existsSync(path.join(dir, item.file))).toBe(true);
    expect(out.events('library.changed').some((e) => e.type === 'library.changed' && e.item.id === item.id)).toBe(true);
    const phases = new Set(out.events('job.progress').flatMap((e) => (e.type === 'job.progress' ? [e.progress.phase] : [])));
    expect(phases).toContain('saving');
  });

  it("edits an inversion's result and an upload; the before image can be edited again; deleting the edit removes its files", async () => {
    const { job, ask, engine, dir } = setup();
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#335577' } })
      .png()
      .toBuffer();
    const inv = await job<InvertResult>({
      type: 'invert',
      image: { source: 'data', dataUrl: `data:image/png;base64,${png.toString('base64')}`, name: 't.png' },
      iterations: 2,
      init: 'a blue lake',
    });
    const fromInv = await job<EditResult>({ type: 'edit', source: { source: 'library', id: inv.item.id }, prompt: 'a blue lake' });
    expect(engine.calls.at(-1)).toBe('edit:a blue lake refined->a blue lake');
    expect(fromInv.item).toMatchObject({ editOf: inv.item.id, edit: { source: { kind: 'inversion', seed: 0, scheduler: 'lms' } } });

    const ours = await imageToPng(new Float32Array(3 * 64 * 64), 64, 64, {
      json: {
        app: 'inversion-studio',
        prompt: 'a green tree',
        seed: 2,
        steps: 3,
        scheduler: 'ddim',
        guidance: 7,
        width: 64,
        height: 64,
        model: 'demo',
      },
    });
    const up = await job<EditResult>({
      type: 'edit',
      source: { source: 'data', dataUrl: `data:image/png;base64,${ours.toString('base64')}`, name: 'tree.png' },
      prompt: 'a green (tree:1.4)',
      mode: 'attention',
    });
    expect(up.item).toMatchObject({ params: { prompt: 'a green (tree:1.4)', seed: 2 }, edit: { source: { kind: 'upload' } } });
    expect('editOf' in up.item).toBe(false);
    expect(up.diff.edits).toEqual([{ kind: 'reweight', source: 'tree', edited: 'tree', weight: { source: 1, edited: 1.4 } }]);

    const again = await job<EditResult>({
      type: 'edit',
      source: { source: 'library', id: up.item.id, file: up.sourceFile },
      prompt: 'a green bush',
    });
    expect(engine.calls.at(-1)).toBe('edit:a green tree->a green bush');
    expect(again.item).toMatchObject({ edit: { source: { kind: 'upload', prompt: 'a green tree' } } });

    expect(await ask({ type: 'deleteLibraryItem', id: up.item.id })).toMatchObject({ ok: true, result: { deleted: true } });
    expect(readdirSync(dir).filter((f) => f.startsWith(up.item.id))).toEqual([]);
  });

  it('refuses what cannot be edited, with messages that say what to do; keeps nothing', async () => {
    const { job, ask, start, end, dir } = setup();
    const gen = await job<GenerateResult>({ type: 'generate', prompt: 'a red ball', steps: 1 });
    const same = await end(await start({ type: 'edit', source: { source: 'library', id: gen.item.id }, prompt: '  a RED ball ' }));
    expect(same).toMatchObject({ type: 'job.failed', code: 'INVALID_ARGUMENT', message: expect.stringMatching(/nothing to edit/) });
    const bare = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    const upload = await end(
      await start({ type: 'edit', source: { source: 'data', dataUrl: `data:image/png;base64,${bare.toString('base64')}` }, prompt: 'x' }),
    );
    expect(upload).toMatchObject({
      type: 'job.failed',
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/no generation parameters/),
    });
    // Schema: an empty prompt, a fraction out of range, unknown fields.
    for (const bad of [
      { prompt: '  ' },
      { prompt: 'a ball', crossSteps: 1.5 },
      { prompt: 'a ball', mode: 'magic' },
      { prompt: 'a ball', extra: 1 },
    ])
      expect(await ask({ type: 'edit', source: { source: 'library', id: gen.item.id }, ...bad })).toMatchObject({
        ok: false,
        error: { code: 'INVALID_MESSAGE' },
      });
    expect(readdirSync(dir).filter((f) => f.endsWith('-source.png'))).toEqual([]);
  });

  it('is cancelled mid-run: job.cancelled, nothing stored', async () => {
    const { job, start, end, service, dir } = setup(40);
    const gen = await job<GenerateResult>({ type: 'generate', prompt: 'a red ball and a tree', steps: 8 });
    const id = await start({ type: 'edit', source: { source: 'library', id: gen.item.id }, prompt: 'a red ball' });
    await new Promise((r) => setTimeout(r, 60));
    await service.request({ type: 'cancel', jobId: id });
    expect((await end(id)).type).toBe('job.cancelled');
    const files = readdirSync(dir).filter((f) => f.endsWith('.png'));
    expect(files).toEqual([gen.item.file]);
  });
});
