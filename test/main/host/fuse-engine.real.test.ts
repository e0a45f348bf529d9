/**
 * The fuse job on the real engine with the generated demo model set: the path the Fuse view uses
 * (validated message -> queue -> fuse-engine -> concepts/fusion -> library). Two library
 * generations fused by their recorded prompts (blend: the decoded text is the item's prompt), a
 * grid of two modes × the default weights, and a parent of another model set refused with the
 * engine's message, the library unchanged.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageToPng } from '../../../src/main/engine/image/image-io.js';
import { EngineService } from '../../../src/main/host/engine-service.js';
import { Library } from '../../../src/main/host/library.js';
import { readPngText } from '../../../src/main/host/png-text.js';
import { createRealEngine } from '../../../src/main/host/real-engine.js';
import type { FuseResult } from '../../../src/shared/ipc/fusion.js';
import { JobResultSchema, type GenerateResult } from '../../../src/shared/ipc/jobs.js';
import { DEFAULT_SETTINGS } from '../../../src/shared/ipc/settings.js';
import { Collector } from './collector.js';

const libraryDir = mkdtempSync(path.join(os.tmpdir(), 'svc-fuse-real-'));
const out = new Collector();
const service = new EngineService({ engine: createRealEngine(), settings: DEFAULT_SETTINGS, libraryDir, send: out.send });
let n = 0;
async function end(request: unknown) {
  const id = `q${++n}`;
  await service.handle({ kind: 'request', id, request });
  const r = await out.waitResponse(id, 600_000);
  if (!r.ok) throw new Error(`refused: ${r.error.message}`);
  const jobId = (r.result as { jobId: string }).jobId;
  const m = await out.wait(
    (x) => x.kind === 'event' && 'jobId' in x.event && x.event.jobId === jobId && /result|failed|cancelled/.test(x.event.type),
    600_000,
  );
  return (m as { event: { type: string; result?: unknown; code?: string; message?: string } }).event;
}
async function job<R>(request: unknown): Promise<R> {
  const e = await end(request);
  if (e.type !== 'job.result') throw new Error(`${e.type}: ${e.message}`);
  expect(JobResultSchema.safeParse(e.result).success).toBe(true);
  return e.result as R;
}
const small = { modelSet: 'demo', width: 64, height: 64, steps: 2 };

// Before the service opens the library: an item of another model set to fuse with.
beforeAll(async () => {
  const lib = new Library(libraryDir);
  const png = await imageToPng(new Float32Array(3 * 64 * 64), 64, 64);
  await lib.add(
    {
      kind: 'generation',
      id: 'sd15-item',
      createdAt: new Date().toISOString(),
      file: 'sd15-item.png',
      width: 64,
      height: 64,
      params: {
        prompt: 'a castle',
        negativePrompt: '',
        seed: 0,
        steps: 20,
        scheduler: 'ddim',
        guidance: 7.5,
        width: 512,
        height: 512,
        model: 'sd15',
      },
    },
    png,
  );
});

afterAll(async () => {
  await service.dispose();
});

describe('fuse job on the demo model set', () => {
  it('fuses two library generations by their prompts (blend, decoded text) and saves the result with its parents', async () => {
    const a = await job<GenerateResult>({ type: 'generate', prompt: 'a red apple', seed: 1, ...small });
    const b = await job<GenerateResult>({ type: 'generate', prompt: 'a blue ball', seed: 2, ...small });
    const r = await job<FuseResult>({
      type: 'fuse',
      parents: [
        { kind: 'library', id: a.item.id },
        { kind: 'library', id: b.item.id },
      ],
      mode: 'blend',
      weights: [0.5, 0.5],
      seed: 3,
      ...small,
    });
    if (r.item.kind !== 'generation') throw new Error('expected a generation');
    const f = r.item.fusion!;
    expect(f.mode).toBe('blend');
    expect(f.parents).toEqual([
      { label: 'A', prompt: 'a red apple', source: 'recorded', item: a.item.id },
      { label: 'B', prompt: 'a blue ball', source: 'recorded', item: b.item.id },
    ]);
    expect(f.decoded!.text.trim()).not.toBe('');
    expect(r.item.params).toMatchObject({ prompt: f.decoded!.text, seed: 3, steps: 2, width: 64, height: 64, model: 'demo' });
    const png = readFileSync(path.join(libraryDir, r.item.file));
    expect(readPngText(png).get('inversion-studio-item')).toContain('"fusion"');
    const progress = out.events('job.progress').map((e) => (e.type === 'job.progress' ? e.progress.phase : ''));
    expect(progress).toEqual(expect.arrayContaining(['decoding', 'denoising', 'saving']));
  });

  it('renders a grid of modes × the default weights as one tiled image', async () => {
    const r = await job<FuseResult>({
      type: 'fuse',
      parents: [
        { kind: 'prompt', text: 'a red apple' },
        { kind: 'prompt', text: 'a blue ball' },
      ],
      grid: { modes: ['concat', 'compose'] },
      ...small,
    });
    if (r.item.kind !== 'generation') throw new Error('expected a generation');
    const g = r.item.fusion!.grid!;
    expect(g.modes).toEqual(['concat', 'compose']);
    expect(g.weightSets).toEqual([
      [0.75, 0.25],
      [0.5, 0.5],
      [0.25, 0.75],
    ]);
    expect(g.cells.map((row) => row.length)).toEqual([3, 3]);
    expect(g.cells[1]![1]!.prompt).toBe('a red apple :0.5 AND a blue ball :0.5'); // compose: A1111 AND weights as given
    expect(r.item.width).toBe(3 * 64 + 2 * g.gap);
    expect(r.item.height).toBe(2 * 64 + g.gap);
  });

  it('refuses a parent made with another model set, saying which and what to do; the library is unchanged', async () => {
    const before = readdirSync(libraryDir).sort();
    const e = await end({
      type: 'fuse',
      parents: [
        { kind: 'prompt', text: 'a red apple' },
        { kind: 'library', id: 'sd15-item' },
      ],
      mode: 'concat',
      ...small,
    });
    expect(e).toMatchObject({ type: 'job.failed', code: 'INVALID_ARGUMENT' });
    expect(e.message).toMatch(/parent B .*made with model set 'sd15'.*runs on 'demo'/);
    expect(readdirSync(libraryDir).sort()).toEqual(before);
  });
});
