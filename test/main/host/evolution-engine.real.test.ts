/**
 * The evolution jobs on the real engine with the generated demo model set: the path the Evolve
 * view uses (queue -> jobs/evolve -> evolution-engine's backend -> EvolutionSession). A session
 * started from a library generation (by its recorded prompt) and a prompt, a generation bred from
 * picks, a re-inversion (EDITOR) of one of its images, and the session as saved reopened.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineService } from '../../../src/main/host/engine-service.js';
import { resolveLibraryFile } from '../../../src/main/host/library.js';
import { createRealEngine } from '../../../src/main/host/real-engine.js';
import type { EvolutionJobResult, EvolutionSessionView } from '../../../src/shared/ipc/evolution.js';
import { JobResultSchema, type GenerateResult } from '../../../src/shared/ipc/jobs.js';
import { DEFAULT_SETTINGS } from '../../../src/shared/ipc/settings.js';
import { Collector } from './collector.js';

const libraryDir = mkdtempSync(path.join(os.tmpdir(), 'svc-evolve-real-'));
const out = new Collector();
const service = new EngineService({ engine: createRealEngine(), settings: DEFAULT_SETTINGS, libraryDir, send: out.send });
let n = 0;
async function ask(request: unknown) {
  const id = `q${++n}`;
  await service.handle({ kind: 'request', id, request });
  const r = await out.waitResponse(id, 600_000);
  if (!r.ok) throw new Error(`refused: ${r.error.message}`);
  return r.result;
}
async function job<R>(request: unknown): Promise<R> {
  const jobId = ((await ask(request)) as { jobId: string }).jobId;
  const m = await out.wait(
    (x) => x.kind === 'event' && 'jobId' in x.event && x.event.jobId === jobId && /result|failed|cancelled/.test(x.event.type),
    600_000,
  );
  const e = (m as { event: { type: string; result?: unknown; message?: string } }).event;
  if (e.type !== 'job.result') throw new Error(`${e.type}: ${e.message}`);
  expect(JobResultSchema.safeParse(e.result).success).toBe(true);
  return e.result as R;
}

afterAll(async () => {
  await service.dispose();
});

describe('evolution jobs on the demo model set', () => {
  it('starts from a library image and a prompt, breeds from picks, re-inverts, and reopens as saved', async () => {
    const gen = await job<GenerateResult>({
      type: 'generate',
      prompt: 'a red apple on a table',
      seed: 1,
      modelSet: 'demo',
      width: 64,
      height: 64,
      steps: 2,
    });
    const created = await job<EvolutionJobResult>({
      type: 'createEvolution',
      init: [
        { kind: 'library', id: gen.item.id },
        { kind: 'prompt', text: 'a green pear' },
      ],
      population: 3,
      seed: 4,
      modelSet: 'demo',
      width: 64,
      height: 64,
      steps: 2,
    });
    const s = created.session;
    expect(s).toMatchObject({ model: 'demo', head: 'g0', settings: { width: 64, height: 64, steps: 2, population: 3 } });
    expect(s.individuals[0]).toMatchObject({ operator: 'init-image', prompt: 'a red apple on a table' });
    for (const i of s.individuals) expect(existsSync(resolveLibraryFile(libraryDir, i.image!)!)).toBe(true);

    const bred = await job<EvolutionJobResult>({ type: 'breedEvolution', session: s.id, picks: ['g0-00', 'g0-01'] });
    expect(bred.generation).toBe('g1');
    const children = bred.session.individuals.filter((i) => i.generation === 'g1');
    expect(children).toHaveLength(2);
    for (const c of children) expect(c.parents.length).toBeGreaterThan(0);

    const re = await job<EvolutionJobResult>({ type: 'reinvertEvolution', session: s.id, id: children[0]!.id });
    const r1 = re.session.individuals.find((i) => i.id === re.individual)!;
    expect(r1).toMatchObject({ operator: 'reinvert', generation: 'g1', parents: [children[0]!.id] });
    expect(r1.prompt.trim()).not.toBe('');
    const phases = new Set(out.events('job.progress').map((e) => (e.type === 'job.progress' ? e.progress.phase : '')));
    for (const p of ['rendering', 'inverting']) expect(phases).toContain(p);

    const reopened = (await ask({ type: 'openEvolution', session: s.id })) as EvolutionSessionView;
    expect(reopened).toEqual(re.session);
  });
});
