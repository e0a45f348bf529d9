/**
 * EngineService on the real engine with the generated demo model set: the same request path the
 * UI uses (validated message -> queue -> engine -> library), no stand-ins.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { readPngText } from '../../../src/main/host/png-text.js';
import { DEFAULT_SETTINGS } from '../../../src/shared/ipc/settings.js';
import { EngineService } from '../../../src/main/host/engine-service.js';
import { createRealEngine } from '../../../src/main/host/real-engine.js';
import type { GenerateResult, SegmentResult } from '../../../src/shared/ipc/jobs.js';
import { Collector } from './collector.js';

const libraryDir = mkdtempSync(path.join(os.tmpdir(), 'svc-real-'));
const out = new Collector();
const service = new EngineService({ engine: createRealEngine(), settings: DEFAULT_SETTINGS, libraryDir, send: out.send });
let n = 0;
async function ask(request: unknown) {
  const id = `q${++n}`;
  await service.handle({ kind: 'request', id, request });
  return out.waitResponse(id, 600_000);
}

afterAll(async () => {
  await service.dispose();
});

describe('EngineService on the real engine (demo model set)', () => {
  it('tokenizes for the live token counter, reporting what CLIP drops past 75 tokens', async () => {
    const short = await ask({ type: 'tokenize', text: 'a red fox in the snow' });
    expect(short).toMatchObject({ ok: true, result: { count: 6, limit: 75, truncated: false, droppedFrom: null } });
    const words = Array.from({ length: 90 }, (_, i) => (i % 2 ? 'red' : 'fox'));
    const text = words.join(' ');
    const long = (await ask({ type: 'tokenize', text })) as {
      ok: true;
      result: { count: number; truncated: boolean; droppedFrom: number; droppedWords: string[] };
    };
    expect(long.result.count).toBe(90);
    expect(long.result.truncated).toBe(true);
    expect(long.result.droppedWords).toHaveLength(15);
    expect(text.slice(long.result.droppedFrom).split(' ')).toEqual(words.slice(75));
  }, 600_000);

  it('generates into the library (PNG with A1111 parameters), reproducibly, then inverts that image', async () => {
    const req = { type: 'generate', prompt: 'a red fox in the snow', seed: 7, steps: 3, width: 128, height: 128 };
    const a = (await ask(req)) as { ok: true; result: { jobId: string } };
    const b = (await ask(req)) as { ok: true; result: { jobId: string } };
    const ra = await out.waitEvent('job.result', (e) => e.jobId === a.result.jobId, 600_000);
    const rb = await out.waitEvent('job.result', (e) => e.jobId === b.result.jobId, 600_000);
    const phases = new Set(out.jobEvents(a.result.jobId).flatMap((e) => (e.type === 'job.progress' ? [e.progress.phase] : [])));
    expect([...phases]).toEqual(expect.arrayContaining(['denoising', 'decoding', 'saving']));
    const itemA = (ra.result as { item: { file: string; params: unknown } }).item;
    const itemB = (rb.result as { item: { file: string } }).item;
    expect(itemA.params).toMatchObject({ prompt: 'a red fox in the snow', seed: 7, steps: 3, width: 128, height: 128, model: 'demo' });
    const pngA = readFileSync(path.join(libraryDir, itemA.file));
    const pngB = readFileSync(path.join(libraryDir, itemB.file));
    expect((await sharp(pngA).raw().toBuffer()).equals(await sharp(pngB).raw().toBuffer())).toBe(true);
    expect(readPngText(pngA).get('parameters')).toMatch(/^a red fox in the snow\nSteps: 3, .*Seed: 7/);

    const inv = (await ask({
      type: 'invert',
      image: { source: 'library', id: (ra.result as { item: { id: string } }).item.id },
      preset: 'fast',
      iterations: 4,
      init: 'a fox',
    })) as {
      ok: true;
      result: { jobId: string };
    };
    const ri = await out.waitEvent('job.result', (e) => e.jobId === inv.result.jobId, 600_000);
    expect(ri.result).toMatchObject({ kind: 'invert', initialPrompt: 'a fox', iterations: 4 });
    const r = ri.result as { loss: number[]; prompt: string; candidates: Array<{ prompt: string; score: number }> };
    expect(r.loss).toHaveLength(4);
    expect(r.loss.at(-1)!).toBeLessThan(r.loss[0]!);
    expect(r.prompt.length).toBeGreaterThan(0);
    expect(r.candidates[0]!.prompt).toBe(r.prompt);
    const refining = out.jobEvents(inv.result.jobId).filter((e) => e.type === 'job.progress' && e.progress.phase === 'refining');
    expect(refining.some((e) => e.type === 'job.progress' && e.progress.loss !== undefined)).toBe(true);
    const lib = await service.request({ type: 'listLibrary' });
    expect(lib.items.map((i) => i.kind)).toEqual(['inversion', 'generation', 'generation']);
  }, 900_000);

  it('generates with attention maps; a segment job samples that generation again (same maps), other prompts go through noising', async () => {
    const gen = (await ask({
      type: 'generate',
      prompt: 'a red circle above a blue square',
      seed: 3,
      steps: 3,
      width: 64,
      height: 64,
      attentionMaps: true,
    })) as {
      ok: true;
      result: { jobId: string };
    };
    const rg = await out.waitEvent('job.result', (e) => e.jobId === gen.result.jobId, 600_000);
    const g = rg.result as GenerateResult;
    expect(g.attention).toMatchObject({ source: 'generation', imageWidth: 64, imageHeight: 64, width: 64, height: 64 });
    expect(g.attention!.words.map((w) => w.word)).toEqual(['red', 'circle', 'above', 'blue', 'square']);

    const segOf = async (request: unknown): Promise<SegmentResult> => {
      const r = (await ask(request)) as { ok: true; result: { jobId: string } };
      const done = await out.waitEvent('job.result', (e) => e.jobId === r.result.jobId, 600_000);
      return done.result as SegmentResult;
    };
    const again = await segOf({ type: 'segment', image: { source: 'library', id: g.item.id } });
    expect(again.source).toBe('generation');
    expect(again.warnings).toEqual([]);
    // Same sampling, same attention: the grids are those the generation returned.
    expect(again.maps.words.map((w) => w.grid)).toEqual(g.attention!.words.map((w) => w.grid));

    const noised = await segOf({
      type: 'segment',
      image: { source: 'library', id: g.item.id },
      prompt: 'a blue square',
      words: ['square'],
    });
    expect(noised).toMatchObject({ source: 'noising', maps: { prompt: 'a blue square', words: [{ word: 'square' }] } });
    const phases = new Set(out.events('job.progress').map((e) => (e.type === 'job.progress' ? e.progress.phase : '')));
    expect([...phases]).toEqual(expect.arrayContaining(['attending', 'segmenting']));
  }, 900_000);
});
