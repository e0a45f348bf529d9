import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../../src/shared/ipc/settings.js';
import { EngineService } from '../../../src/main/host/engine-service.js';
import { Collector } from './collector.js';
import { createFakeEngine } from './fake-engine.js';

function setup(stepMs = 5, maxQueuedJobs?: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'svc-'));
  const out = new Collector();
  const engine = createFakeEngine({ stepMs });
  const service = new EngineService({
    engine,
    settings: DEFAULT_SETTINGS,
    libraryDir: dir,
    send: out.send,
    progressIntervalMs: 0,
    ...(maxQueuedJobs ? { maxQueuedJobs } : {}),
  });
  let n = 0;
  const ask = async (request: unknown) => {
    const id = `q${++n}`;
    await service.handle({ kind: 'request', id, request });
    return out.waitResponse(id);
  };
  return { dir, out, engine, service, ask };
}

const dataUrl = async () =>
  `data:image/png;base64,${(
    await sharp({ create: { width: 32, height: 32, channels: 3, background: '#336699' } })
      .png()
      .toBuffer()
  ).toString('base64')}`;

describe('EngineService (plumbing, injected engine)', () => {
  it('runs jobs one at a time in order, streams progress and stores results in the library', async () => {
    const { out, ask, service, engine, dir } = setup();
    const a = await ask({ type: 'generate', prompt: 'first', steps: 3 });
    const b = await ask({ type: 'generate', prompt: 'second', steps: 3 });
    expect(a.ok && b.ok).toBe(true);
    const idA = (a as { result: { jobId: string } }).result.jobId;
    const idB = (b as { result: { jobId: string } }).result.jobId;
    await out.waitEvent('job.result', (e) => e.jobId === idB);
    expect(engine.calls).toEqual(['generate:first', 'generate:second']);
    const order = out
      .events()
      .filter((e) => 'jobId' in e)
      .map((e) => `${e.type}:${(e as { jobId: string }).jobId === idA ? 'A' : 'B'}`);
    // B starts only after A finished.
    expect(order.indexOf('job.started:B')).toBeGreaterThan(order.indexOf('job.result:A'));
    expect(out.jobEvents(idA).filter((e) => e.type === 'job.progress').length).toBeGreaterThanOrEqual(3);
    const resA = out.jobEvents(idA).find((e) => e.type === 'job.result')!;
    expect(resA).toMatchObject({
      result: { kind: 'generate', item: { kind: 'generation', params: { prompt: 'first', steps: 3, model: 'demo' } } },
    });
    expect(out.events('library.changed')).toHaveLength(2);
    const list = await ask({ type: 'listLibrary' });
    expect((list as { result: { total: number } }).result.total).toBe(2);
    expect(readdirSync(dir).filter((f) => f.endsWith('.png'))).toHaveLength(2);
    await service.dispose();
  });

  it('cancels queued and running jobs; a cancelled inversion returns and stores its best result', async () => {
    const { out, ask } = setup(30);
    const run = (await ask({
      type: 'invert',
      image: { source: 'data', dataUrl: await dataUrl(), name: 'target.png' },
      iterations: 200,
    })) as { result: { jobId: string } };
    const queued = (await ask({ type: 'generate', prompt: 'never', steps: 2 })) as { result: { jobId: string } };
    await out.waitEvent('job.progress', (e) => e.jobId === run.result.jobId && e.progress.step >= 3);
    expect(((await ask({ type: 'cancel', jobId: queued.result.jobId })) as { result: unknown }).result).toEqual({ cancelled: true });
    expect(((await ask({ type: 'cancel', jobId: run.result.jobId })) as { result: unknown }).result).toEqual({ cancelled: true });
    const cancelled = await out.waitEvent('job.cancelled', (e) => e.jobId === run.result.jobId);
    expect(cancelled.partial).toMatchObject({
      kind: 'invert',
      item: { kind: 'inversion', inversion: { partial: true, targetFile: expect.stringMatching(/-target\.png$/) } },
    });
    expect(out.jobEvents(queued.result.jobId).map((e) => e.type)).toEqual(['job.queued', 'job.cancelled']);
    expect(((await ask({ type: 'cancel', jobId: 'job-unknown' })) as { result: unknown }).result).toEqual({ cancelled: false });
    const progress = out.jobEvents(run.result.jobId).filter((e) => e.type === 'job.progress');
    expect(progress.some((e) => e.type === 'job.progress' && e.progress.loss !== undefined && e.progress.etaSeconds !== undefined)).toBe(
      true,
    );
  });

  it('reports engine errors as job.failed with the engine code, and keeps going', async () => {
    const { out, ask } = setup();
    const bad = (await ask({ type: 'generate', prompt: '__fail__', steps: 1 })) as { result: { jobId: string } };
    const good = (await ask({ type: 'generate', prompt: 'ok', steps: 1 })) as { result: { jobId: string } };
    const failed = await out.waitEvent('job.failed', (e) => e.jobId === bad.result.jobId);
    expect(failed.code).toBe('INVALID_ARGUMENT');
    await out.waitEvent('job.result', (e) => e.jobId === good.result.jobId);
    const img = (await ask({ type: 'invert', image: { source: 'data', dataUrl: 'data:image/png;base64,AAAA' } })) as {
      result: { jobId: string };
    };
    expect((await out.waitEvent('job.failed', (e) => e.jobId === img.result.jobId)).code).toBe('IMAGE');
  });

  it('IPC validation: malformed, oversized and unknown messages get an error event and change nothing', async () => {
    const { out, service, engine, dir } = setup();
    const before = readdirSync(dir);
    const bad: unknown[] = [
      'not json',
      { kind: 'request', id: 'm1', request: { type: 'generate' } },
      { kind: 'request', id: 'm2', request: { type: 'generate', prompt: 'x', steps: 1e9 } },
      { kind: 'request', id: 'm3', request: { type: 'shutdown' } },
      { kind: 'request', id: 'm4', request: { type: 'generate', prompt: 'x'.repeat(100_000) } },
      { kind: 'request', id: 'm5', request: { type: 'setSettings', patch: { provider: 'cpu', evil: true } } },
      { kind: 'request', id: 'm6', request: { type: 'getLibraryItem', id: '../../index.json' } },
      JSON.stringify({ kind: 'request', id: 'm7', request: { type: 'tokenize', text: 'y'.repeat(80_000_000) } }),
    ];
    for (const m of bad) await service.handle(m);
    const errors = out.events('error');
    expect(errors.map((e) => e.type === 'error' && e.code)).toEqual([
      'INVALID_MESSAGE',
      'INVALID_MESSAGE',
      'INVALID_MESSAGE',
      'UNKNOWN_REQUEST',
      'MESSAGE_TOO_LARGE',
      'INVALID_MESSAGE',
      'INVALID_MESSAGE',
      'MESSAGE_TOO_LARGE',
    ]);
    // Requests whose id was readable also get an error response.
    for (const id of ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'])
      expect(out.messages.some((m) => m.kind === 'response' && m.id === id && !m.ok)).toBe(true);
    expect(out.events().filter((e) => e.type !== 'error')).toEqual([]);
    expect(engine.calls).toEqual([]);
    expect(service.jobs()).toEqual([]);
    expect(readdirSync(dir)).toEqual(before);
    const s = await service.request({ type: 'getSettings' });
    expect(s).toEqual(DEFAULT_SETTINGS);
  });

  it('inverts an image from the library and resolves defaults from the settings', async () => {
    const { out, ask, service } = setup();
    await service.request({ type: 'setSettings', patch: { defaults: { generate: { steps: 2, seed: 42 } } } });
    const g = (await ask({ type: 'generate', prompt: 'a lighthouse' })) as { result: { jobId: string } };
    const res = await out.waitEvent('job.result', (e) => e.jobId === g.result.jobId);
    expect(res.result).toMatchObject({ kind: 'generate', item: { params: { steps: 2, seed: 42 } } });
    const item = (res.result as { item: { id: string } }).item;
    const inv = (await ask({ type: 'invert', image: { source: 'library', id: item.id }, iterations: 5, init: 'a tower' })) as {
      result: { jobId: string };
    };
    const r = await out.waitEvent('job.result', (e) => e.jobId === inv.result.jobId);
    expect(r.result).toMatchObject({ kind: 'invert', prompt: 'a tower refined', initialPrompt: 'a tower', iterations: 5 });
    expect((r.result as { loss: number[] }).loss).toHaveLength(5);
    const stored = (await service.request({ type: 'listLibrary', kind: 'inversion' })).items[0]!;
    expect(stored.kind === 'inversion' && stored.inversion.candidates[0]?.file).toMatch(/-c0\.png$/);
    const png = readFileSync(path.join(service.libraryDir, stored.file));
    expect((await sharp(png).metadata()).format).toBe('png');
  });

  it('refuses job requests beyond the queue limit with QUEUE_FULL; finished jobs keep no previews', async () => {
    const { out, ask, service } = setup(5, 2);
    const image = { source: 'data', dataUrl: await dataUrl(), name: 'target.png' };
    const accepted = [];
    for (let i = 0; i < 3; i++) accepted.push(await ask({ type: 'invert', image, iterations: 40 }));
    expect(accepted.every((r) => r.ok)).toBe(true);
    const refused = await ask({ type: 'generate', prompt: 'one too many' });
    expect(refused).toMatchObject({
      ok: false,
      error: { code: 'QUEUE_FULL', message: expect.stringMatching(/2 jobs are already waiting/) },
    });
    await service.idle();
    const ids = accepted.map((r) => (r as { result: { jobId: string } }).result.jobId);
    // Previews went out while the inversions ran (every 5 iterations), but the finished jobs do not hold them.
    expect(out.jobEvents(ids[0]!).some((e) => e.type === 'job.progress' && e.progress.previewPng)).toBe(true);
    const jobs = service.jobs();
    expect(jobs.map((j) => j.state)).toEqual(['done', 'done', 'done']);
    expect(jobs.every((j) => j.progress !== undefined && j.progress.previewPng === undefined)).toBe(true);
    expect(JSON.stringify(jobs)).not.toMatch(/base64/);
  });
});
