/**
 * The segment job through EngineService with the fake engine: which prompt and which path each
 * image gets (segmentPlan), the maps on the wire, generate with attention maps, and the export of
 * the full-resolution masks. The real engine's path is in engine-service.real.test.ts.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { EngineService } from '../../../../src/main/host/engine-service.js';
import { segmentPlan } from '../../../../src/main/host/jobs/segment.js';
import type { LibraryItem } from '../../../../src/shared/ipc/library.js';
import { JobResultSchema, type GenerateResult, type SegmentResult } from '../../../../src/shared/ipc/jobs.js';
import { DEFAULT_SETTINGS } from '../../../../src/shared/ipc/settings.js';
import { Collector } from '../collector.js';
import { createFakeEngine } from '../fake-engine.js';

function setup() {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'svc-seg-')), 'library');
  const out = new Collector();
  const engine = createFakeEngine({ stepMs: 2 });
  const service = new EngineService({ engine, settings: DEFAULT_SETTINGS, libraryDir: dir, send: out.send, progressIntervalMs: 0 });
  let n = 0;
  const ask = async (request: unknown) => {
    const id = `q${++n}`;
    await service.handle({ kind: 'request', id, request });
    return out.waitResponse(id);
  };
  const job = async <R>(request: unknown): Promise<R> => {
    const r = await ask(request);
    if (!r.ok) throw new Error(`refused: ${r.error.message}`);
    const jobId = (r.result as { jobId: string }).jobId;
    const done = await out.wait(
      (m) => m.kind === 'event' && 'jobId' in m.event && m.event.jobId === jobId && /result|failed/.test(m.event.type),
    );
    const e = (done as { event: { type: string; result?: unknown; message?: string } }).event;
    if (e.type !== 'job.result') throw new Error(`job failed: ${e.message}`);
    return e.result as R;
  };
  return { dir, out, engine, service, ask, job };
}

const generation = (over: Partial<Extract<LibraryItem, { kind: 'generation' }>['params']> = {}): LibraryItem => ({
  kind: 'generation',
  id: 'g1',
  createdAt: '2025-01-01T00:00:00Z',
  file: 'g1.png',
  width: 64,
  height: 64,
  params: {
    prompt: 'a red ball',
    negativePrompt: '',
    seed: 3,
    steps: 4,
    scheduler: 'ddim',
    guidance: 7,
    width: 64,
    height: 64,
    model: 'demo',
    ...over,
  },
});
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
    objective: 'pixel',
    model: 'shapes',
    targetFile: 'i1-target.png',
    partial: false,
  },
};
const lib = (item: LibraryItem, file: string, prompt?: string) =>
  segmentPlan(
    { type: 'segment', image: { source: 'library', id: item.id, file }, ...(prompt ? { prompt } : {}) },
    { bytes: Buffer.alloc(0), item, file },
    DEFAULT_SETTINGS,
  );

describe('segmentPlan: the prompt and the path of each image', () => {
  it('a generation by its own prompt is sampled again with its settings; by another prompt or model set, noised', () => {
    expect(lib(generation(), 'g1.png')).toMatchObject({
      prompt: 'a red ball',
      modelSet: 'demo',
      generation: { seed: 3, steps: 4, scheduler: 'ddim', guidance: 7, width: 64, height: 64 },
    });
    expect(lib(generation(), 'g1.png', 'a blue ball').generation).toBeUndefined();
    const other = segmentPlan(
      { type: 'segment', image: { source: 'library', id: 'g1' }, modelSet: 'sd15' },
      { bytes: Buffer.alloc(0), item: generation(), file: 'g1.png' },
      DEFAULT_SETTINGS,
    );
    expect(other.generation).toBeUndefined();
  });

  it("an inversion's target and best image by the answer's best prompt, a candidate's image by its own, on the inversion's model set", () => {
    expect(lib(inversion, 'i1-target.png')).toEqual({ prompt: 'answer words', modelSet: 'shapes', label: 'i1-target' });
    expect(lib(inversion, 'i1.png').prompt).toBe('best candidate');
    expect(lib(inversion, 'i1-c1.png').prompt).toBe('second candidate');
    expect(lib(inversion, 'i1-c1.png', 'my words').prompt).toBe('my words');
  });

  it('an upload needs a prompt', () => {
    const upload = { source: 'data' as const, dataUrl: 'data:image/png;base64,AA==', name: 'photo.jpg' };
    expect(() => segmentPlan({ type: 'segment', image: upload }, { bytes: Buffer.alloc(1) }, DEFAULT_SETTINGS)).toThrow(
      /give the prompt to segment an uploaded image by/,
    );
    expect(segmentPlan({ type: 'segment', image: upload, prompt: 'a cat' }, { bytes: Buffer.alloc(1) }, DEFAULT_SETTINGS)).toEqual({
      prompt: 'a cat',
      modelSet: 'demo',
      label: 'photo',
    });
  });
});

describe('segment and generate with attention maps (EngineService, fake engine)', () => {
  it('generate with attentionMaps returns the maps; segmenting that generation re-samples it; the masks export', async () => {
    const { job, ask, engine, dir } = setup();
    const gen = await job<GenerateResult>({ type: 'generate', prompt: 'a red ball on grass', steps: 2, attentionMaps: true });
    expect(JobResultSchema.parse(gen)).toEqual(gen);
    expect(gen.attention).toMatchObject({ source: 'generation', prompt: 'a red ball on grass', imageWidth: 64 });
    expect(gen.attention!.words.map((w) => w.word)).toEqual(['red', 'ball', 'grass']);
    const plain = await job<GenerateResult>({ type: 'generate', prompt: 'a red ball on grass', steps: 2 });
    expect(plain.attention).toBeUndefined();

    const seg = await job<SegmentResult>({ type: 'segment', image: { source: 'library', id: gen.item.id } });
    expect(engine.calls.at(-1)).toBe('segment:a red ball on grass:generation');
    expect(seg).toMatchObject({ kind: 'segment', source: 'generation', maps: { prompt: 'a red ball on grass' } });
    expect(seg.maps.id).not.toBe(gen.attention!.id);

    const target = path.join(path.dirname(dir), 'my-masks');
    const r = await ask({ type: 'exportSegmentation', id: gen.attention!.id, dir: target, threshold: 0.3 });
    expect(r).toMatchObject({ ok: true, result: { dir: target, threshold: 0.3 } });
    expect(existsSync(path.join(target, 'summary.json'))).toBe(true);
    expect(existsSync(path.join(target, 'overlay.png'))).toBe(true);
    // Without a folder: a new one under exports/ next to the library.
    const d = (await ask({ type: 'exportSegmentation', id: seg.maps.id })) as { ok: true; result: { dir: string; files: string[] } };
    expect(path.dirname(d.result.dir)).toBe(path.join(path.dirname(dir), 'exports'));
    expect(d.result.files).toContain('mask-01-ball.png');
    expect(await ask({ type: 'exportSegmentation', id: 'seg-unknown' })).toMatchObject({ ok: false, error: { code: 'MAPS_EXPIRED' } });
  });

  it("segments an upload by the given prompt and another file of an item; refuses a file that is not the item's", async () => {
    const { job, ask, out, engine } = setup();
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#224466' } })
      .png()
      .toBuffer();
    const dataUrl = `data:image/png;base64,${png.toString('base64')}`;
    const up = await job<SegmentResult>({ type: 'segment', image: { source: 'data', dataUrl, name: 'x.png' }, prompt: 'blue sky' });
    expect(up).toMatchObject({ source: 'noising', maps: { imageWidth: 40, imageHeight: 30, words: [{ word: 'blue' }, { word: 'sky' }] } });
    expect(engine.calls.at(-1)).toBe('segment:blue sky');

    const gen = await job<GenerateResult>({ type: 'generate', prompt: 'green tree', steps: 1 });
    const bad = await ask({ type: 'segment', image: { source: 'library', id: gen.item.id, file: 'other.png' } });
    const jobId = (bad as { result: { jobId: string } }).result.jobId;
    const failed = await out.waitEvent('job.failed', (e) => e.jobId === jobId);
    expect(failed).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/'other.png' is not an image of library item/),
    });
    const word = await ask({ type: 'segment', image: { source: 'library', id: gen.item.id }, words: ['cat'] });
    const wordJob = (word as { result: { jobId: string } }).result.jobId;
    expect(await out.waitEvent('job.failed', (e) => e.jobId === wordJob)).toMatchObject({
      message: expect.stringMatching(/"cat" is not a word/),
    });
  });
});
