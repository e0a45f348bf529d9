/**
 * The edit job on the real engine with the generated demo model set: the request path the Edit
 * view uses (validated message -> queue -> edit-engine -> editGeneration -> library). Checks
 * that a library generation and an inversion's result are sampled again exactly (the settings the
 * job derives for each are the ones that made them), the compact mask and the report, and that a
 * cancelled edit keeps nothing.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineService } from '../../../../src/main/host/engine-service.js';
import { createRealEngine } from '../../../../src/main/host/real-engine.js';
import { readPngText } from '../../../../src/main/host/png-text.js';
import { JobResultSchema, type EditResult, type GenerateResult, type InvertResult } from '../../../../src/shared/ipc/jobs.js';
import { DEFAULT_SETTINGS } from '../../../../src/shared/ipc/settings.js';
import { Collector } from '../collector.js';

const libraryDir = mkdtempSync(path.join(os.tmpdir(), 'svc-edit-real-'));
const out = new Collector();
const service = new EngineService({ engine: createRealEngine(), settings: DEFAULT_SETTINGS, libraryDir, send: out.send });
let n = 0;
async function start(request: unknown): Promise<string> {
  const id = `q${++n}`;
  await service.handle({ kind: 'request', id, request });
  const r = await out.waitResponse(id, 600_000);
  if (!r.ok) throw new Error(`refused: ${r.error.message}`);
  return (r.result as { jobId: string }).jobId;
}
async function end(jobId: string) {
  const m = await out.wait(
    (x) => x.kind === 'event' && 'jobId' in x.event && x.event.jobId === jobId && /result|failed|cancelled/.test(x.event.type),
    600_000,
  );
  return (m as { event: { type: string; result?: unknown; message?: string } }).event;
}
async function job<R>(request: unknown): Promise<R> {
  const e = await end(await start(request));
  if (e.type !== 'job.result') throw new Error(`${e.type}: ${e.message}`);
  return e.result as R;
}

afterAll(async () => {
  await service.dispose();
});

describe('the edit job on the real engine (demo model set)', () => {
  it('edits a generation: the source reproduced, the mask on the latent grid, the report, the PNG records the edit', async () => {
    const gen = await job<GenerateResult>({
      type: 'generate',
      prompt: 'a red circle above a blue square',
      seed: 3,
      steps: 3,
      width: 64,
      height: 64,
    });
    const jobId = await start({ type: 'edit', source: { source: 'library', id: gen.item.id }, prompt: 'a red circle' });
    const r = (await end(jobId)).result as EditResult;
    expect(JobResultSchema.parse(r)).toEqual(r);
    expect(r).toMatchObject({
      mode: 'blend',
      diff: { summary: 'removal of "above a blue square"' },
      mask: { width: 8, height: 8 },
      warnings: [],
    });
    expect(r.item).toMatchObject({ editOf: gen.item.id, params: { prompt: 'a red circle', seed: 3, steps: 3, model: 'demo' } });
    if (r.item.kind !== 'generation') throw new Error('an edit is a generation');
    expect(r.item.edit).toMatchObject({ sourceReproduced: true, source: { prompt: 'a red circle above a blue square' } });
    const mask = Buffer.from(r.mask.data, 'base64');
    expect(mask).toHaveLength(64);
    expect([...mask].every((v) => v === 0 || v === 1)).toBe(true);
    expect(r.report.maskArea).toBeCloseTo(mask.reduce((a, v) => a + v, 0) / 64, 6);
    expect(r.report.whole.pixels).toBe(64 * 64);
    const text = readPngText(readFileSync(path.join(libraryDir, r.item.file)));
    expect(text.get('parameters')).toMatch(/Edit mode: blend/);
    const phases = new Set(out.jobEvents(jobId).flatMap((e) => (e.type === 'job.progress' ? [e.progress.phase] : [])));
    expect([...phases]).toEqual(expect.arrayContaining(['encoding', 'denoising', 'decoding', 'saving']));
  }, 600_000);

  it("edits an inversion's result: sampled again as the ranking rendered it (the same image)", async () => {
    const gen = await job<GenerateResult>({ type: 'generate', prompt: 'a green tree', seed: 1, steps: 2, width: 64, height: 64 });
    const inv = await job<InvertResult>({
      type: 'invert',
      image: { source: 'library', id: gen.item.id },
      preset: 'fast',
      iterations: 2,
      init: 'a green tree by a lake',
    });
    const words = inv.prompt.split(/\s+/).filter(Boolean);
    const edited = words.length > 1 ? words.slice(0, -1).join(' ') : `${inv.prompt} lake`;
    const r = await job<EditResult>({ type: 'edit', source: { source: 'library', id: inv.item.id }, prompt: edited });
    expect(r.item).toMatchObject({ editOf: inv.item.id, edit: { source: { kind: 'inversion', scheduler: 'lms', seed: 0 } } });
    if (r.item.kind !== 'generation') throw new Error('an edit is a generation');
    expect(r.item.edit?.sourceReproduced, r.warnings.join('; ')).toBe(true);
  }, 600_000);

  it('a cancelled edit keeps nothing', async () => {
    const gen = await job<GenerateResult>({
      type: 'generate',
      prompt: 'a blue square and a red circle',
      seed: 2,
      steps: 30,
      width: 64,
      height: 64,
    });
    const before = readdirSync(libraryDir).length;
    const id = await start({ type: 'edit', source: { source: 'library', id: gen.item.id }, prompt: 'a blue square' });
    await out.waitEvent('job.progress', (e) => e.jobId === id && e.progress.phase === 'denoising', 600_000);
    await service.request({ type: 'cancel', jobId: id });
    expect((await end(id)).type).toBe('job.cancelled');
    expect(readdirSync(libraryDir).length).toBe(before);
  }, 600_000);
});
