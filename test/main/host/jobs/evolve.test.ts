/**
 * The evolution jobs and requests through EngineService, with the fake engine and the shapes
 * world's exact renderer as the session backend (no models): a session started from prompts,
 * words locked, a generation bred from picks, a re-inversion, a branch, export and list; what is on
 * disk and what the client sees (image paths served as library files); one operation at a time
 * per session; cancellation; refusals (no picks without a fitness, a library image of another
 * model set, a damaged session file with the rest of the library intact).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkerOnlyFitness, worldOracleBackend, type EvolutionBackend } from '../../../../src/main/engine/concepts/evolution/index.js';
import { CancelledError } from '../../../../src/main/engine/errors.js';
import type { EvolutionBackendHandle } from '../../../../src/main/host/engine-adapter.js';
import { EngineService } from '../../../../src/main/host/engine-service.js';
import { resolveLibraryFile } from '../../../../src/main/host/library.js';
import { EvolutionSessionSchema, type EvolutionJobResult, type EvolutionSessionView } from '../../../../src/shared/ipc/evolution.js';
import { JobResultSchema, type GenerateResult } from '../../../../src/shared/ipc/jobs.js';
import { DEFAULT_SETTINGS } from '../../../../src/shared/ipc/settings.js';
import { Collector } from '../collector.js';
import { createFakeEngine } from '../fake-engine.js';

/** The oracle, rendering slowly when asked (so a job can be cancelled or overtaken mid-way), with a fake EDITOR. */
function backend(renderMs: () => number): EvolutionBackend {
  const b = worldOracleBackend();
  return {
    ...b,
    async render(r, o) {
      const ms = renderMs();
      if (ms) await new Promise((res) => setTimeout(res, ms));
      if (o?.signal?.aborted) throw new CancelledError('cancelled');
      return b.render(r, o);
    },
    invert: async () => ({ prompt: 'a small green circle' }),
  };
}

function setup() {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'svc-evolve-')), 'library');
  const out = new Collector();
  let renderMs = 0;
  const asked: string[] = [];
  const engine = {
    ...createFakeEngine({ stepMs: 1 }),
    async evolutionBackend(modelSet: string): Promise<EvolutionBackendHandle> {
      asked.push(modelSet);
      return { backend: backend(() => renderMs), fitnessFactory: checkerOnlyFitness, warnings: [], release: async () => {} };
    },
  };
  const service = new EngineService({ engine, settings: DEFAULT_SETTINGS, libraryDir: dir, send: out.send, progressIntervalMs: 0 });
  let n = 0;
  const ask = async (request: unknown) => {
    const id = `q${++n}`;
    await service.handle({ kind: 'request', id, request });
    return out.waitResponse(id);
  };
  const value = async <R>(request: unknown): Promise<R> => {
    const r = await ask(request);
    if (!r.ok) throw new Error(`[${r.error.code}] ${r.error.message}`);
    return r.result as R;
  };
  const start = async (request: unknown): Promise<string> => (await value<{ jobId: string }>(request)).jobId;
  const end = async (jobId: string) => {
    const m = await out.wait(
      (x) => x.kind === 'event' && 'jobId' in x.event && x.event.jobId === jobId && /result|failed|cancelled/.test(x.event.type),
    );
    return (m as { event: { type: string; result?: unknown; code?: string; message?: string } }).event;
  };
  const job = async <R>(request: unknown): Promise<R> => {
    const e = await end(await start(request));
    if (e.type !== 'job.result') throw new Error(`job ${e.type}: [${e.code}] ${e.message}`);
    expect(JobResultSchema.safeParse(e.result).success).toBe(true);
    return e.result as R;
  };
  return { dir, out, service, ask, value, start, end, job, asked, slow: (ms: number) => (renderMs = ms) };
}

const create = {
  type: 'createEvolution',
  init: [
    { kind: 'prompt', text: 'a red circle' },
    { kind: 'prompt', text: 'a blue square' },
  ],
  population: 4,
  seed: 3,
};

describe('evolution jobs and requests', () => {
  it('starts a session from prompts, locks, breeds from picks, re-inverts, branches, exports and lists it', async () => {
    const { dir, value, job, asked } = setup();
    const created = await job<EvolutionJobResult>({ ...create, name: 'fox hunt', modelSet: 'shapes-world-oracle' });
    expect(created.kind).toBe('createEvolution');
    expect(asked).toEqual(['shapes-world-oracle']);
    const s0 = created.session;
    expect(s0.id).toMatch(/^evo-\d{8}-\d{6}-[0-9a-f]{6}$/);
    expect(s0).toMatchObject({ name: 'fox hunt', model: 'shapes-world-oracle', head: 'g0' });
    expect(s0.generations).toHaveLength(1);
    expect(s0.individuals.map((i) => i.id)).toEqual(['g0-00', 'g0-01', 'g0-02', 'g0-03']);
    expect(s0.individuals.slice(0, 2).map((i) => i.prompt)).toEqual(['a red circle', 'a blue square']);
    // Images are library paths the image protocol serves, and they are on disk.
    const first = s0.individuals[0]!;
    expect(first.image).toBe(`evolution/${s0.id}/images/g0-00.png`);
    expect(first.thumbnail).toBe(`evolution/${s0.id}/thumbs/g0-00.png`);
    for (const i of s0.individuals) expect(existsSync(resolveLibraryFile(dir, i.thumbnail!)!)).toBe(true);
    expect(existsSync(path.join(dir, 'evolution', s0.id, 'session.json'))).toBe(true);

    const locked = await value<EvolutionSessionView>({ type: 'lockEvolution', session: s0.id, id: 'g0-00', words: ['red'] });
    expect(locked.individuals.find((i) => i.id === 'g0-00')!.locks).toEqual(['red']);
    await expect(value({ type: 'lockEvolution', session: s0.id, id: 'g0-00', words: ['purple'] })).rejects.toThrow(
      /INVALID_ARGUMENT.*does not contain "purple"/,
    );

    const bred = await job<EvolutionJobResult>({ type: 'breedEvolution', session: s0.id, picks: ['g0-00', 'g0-01'] });
    expect(bred.generation).toBe('g1');
    const g1 = bred.session.generations.find((g) => g.id === 'g1')!;
    expect(g1).toMatchObject({ parent: 'g0', kind: 'bred', picks: ['g0-00', 'g0-01'] });
    expect(g1.members).toHaveLength(4);
    expect(g1.members[0]).toBe('g0-00'); // the first pick carried over (elite 1, no fitness)
    const children = bred.session.individuals.filter((i) => i.generation === 'g1');
    expect(children).toHaveLength(3);
    for (const c of children) {
      expect(c.parents.every((p) => ['g0-00', 'g0-01'].includes(p) || /^g0-/.test(p))).toBe(true);
      // Children of the locked parent keep its word.
      if (c.parents[0] === 'g0-00') expect(c.prompt).toContain('red');
    }
    expect(asked).toEqual(['shapes-world-oracle', 'shapes-world-oracle']);

    const re = await job<EvolutionJobResult>({ type: 'reinvertEvolution', session: s0.id, id: children[0]!.id });
    expect(re.individual).toBe('g1-r1');
    const r1 = re.session.individuals.find((i) => i.id === 'g1-r1')!;
    expect(r1).toMatchObject({ operator: 'reinvert', parents: [children[0]!.id], seed: children[0]!.seed, generation: 'g1' });
    expect(re.session.generations.find((g) => g.id === 'g1')!.members).toContain('g1-r1');

    const branched = await value<EvolutionSessionView>({ type: 'branchEvolution', session: s0.id, from: 'g0-01' });
    expect(branched.head).toBe('g2');
    expect(branched.generations.at(-1)).toMatchObject({ id: 'g2', kind: 'branch', parent: 'g0', branchedFrom: 'g0-01' });

    const reopened = await value<EvolutionSessionView>({ type: 'openEvolution', session: s0.id });
    expect(EvolutionSessionSchema.parse(reopened)).toEqual(branched);

    const exportDir = path.join(path.dirname(dir), 'export-1');
    const exported = await value<{ dir: string; files: number }>({ type: 'exportEvolution', session: s0.id, dir: exportDir });
    expect(exported.dir).toBe(exportDir);
    expect(readdirSync(exportDir).sort()).toEqual(
      expect.arrayContaining(['images', 'lineage.json', 'prompts.tsv', 'session.json', 'thumbs']),
    );
    await expect(value({ type: 'exportEvolution', session: s0.id, dir: exportDir })).rejects.toThrow(/not empty/);
    await expect(value({ type: 'exportEvolution', session: s0.id, dir: 'relative/folder' })).rejects.toThrow(/absolute folder/);
    const byDefault = await value<{ dir: string }>({ type: 'exportEvolution', session: s0.id });
    expect(path.dirname(byDefault.dir)).toBe(path.join(path.dirname(dir), 'exports'));

    const { sessions } = await value<{ sessions: { id: string; generations?: number; thumbnail?: string; name?: string }[] }>({
      type: 'listEvolutions',
    });
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ id: s0.id, name: 'fox hunt', generations: 3 });
    expect(sessions[0]!.thumbnail).toMatch(new RegExp(`^evolution/${s0.id}/thumbs/g0-\\d\\d\\.png$`));
    // The library itself is untouched by its evolution/ folder.
    expect(await value<{ total: number }>({ type: 'listLibrary' })).toMatchObject({ total: 0 });
  });

  it('runs one operation at a time per session: a lock sent during a breed waits for it', async () => {
    const { value, start, end, job, slow } = setup();
    const s = (await job<EvolutionJobResult>(create)).session;
    slow(40);
    const breeding = await start({ type: 'breedEvolution', session: s.id, picks: ['g0-01'] });
    const locked = value<EvolutionSessionView>({ type: 'lockEvolution', session: s.id, id: 'g0-01', words: ['blue'] });
    const order: string[] = [];
    await Promise.all([end(breeding).then(() => order.push('breed')), locked.then(() => order.push('lock'))]);
    expect(order).toEqual(['breed', 'lock']);
    const after = await locked;
    expect(after.head).toBe('g1'); // the lock saw the bred generation, and the breed's file kept the lock's change
    expect(after.individuals.find((i) => i.id === 'g0-01')!.locks).toEqual(['blue']);
  });

  it('a cancelled breed leaves the session as it was; a cancelled start leaves no folder', async () => {
    const { dir, out, value, start, end, job, slow } = setup();
    const s = (await job<EvolutionJobResult>(create)).session;
    slow(60);
    const id = await start({ type: 'breedEvolution', session: s.id, picks: ['g0-00'] });
    await out.waitEvent('job.started', (e) => e.jobId === id);
    await value({ type: 'cancel', jobId: id });
    expect((await end(id)).type).toBe('job.cancelled');
    const after = await value<EvolutionSessionView>({ type: 'openEvolution', session: s.id });
    expect(after.head).toBe('g0');
    expect(after.generations).toHaveLength(1);

    const before = readdirSync(path.join(dir, 'evolution'));
    const c = await start(create);
    await out.waitEvent('job.started', (e) => e.jobId === c);
    await value({ type: 'cancel', jobId: c });
    expect((await end(c)).type).toBe('job.cancelled');
    expect(readdirSync(path.join(dir, 'evolution'))).toEqual(before);
  });

  it('refuses: breeding without picks or fitness, a library image of another model set, unknown sessions', async () => {
    const { dir, value, start, end, job } = setup();
    const s = (await job<EvolutionJobResult>(create)).session;
    const noPicks = await end(await start({ type: 'breedEvolution', session: s.id }));
    expect(noPicks).toMatchObject({ type: 'job.failed', code: 'INVALID_ARGUMENT' });
    expect(noPicks.message).toMatch(/pick at least one favourite/);

    const gen = await job<GenerateResult>({ type: 'generate', prompt: 'a red circle', modelSet: 'demo', steps: 1 });
    const other = await end(
      await start({
        ...create,
        init: [
          { kind: 'library', id: gen.item.id },
          { kind: 'prompt', text: 'a circle' },
        ],
      }),
    );
    expect(other).toMatchObject({ type: 'job.failed', code: 'INVALID_ARGUMENT' });
    expect(other.message).toMatch(/made with model set 'demo'.*renders with 'shapes-world-oracle'/);
    expect(readdirSync(path.join(dir, 'evolution'))).toEqual([s.id]); // the refused start left nothing

    await expect(value({ type: 'openEvolution', session: 'evo-missing' })).rejects.toThrow(/FILE.*no evolution session/);
  });

  it('starts from a library image of the same model set by its recorded prompt', async () => {
    const { job } = setup();
    const gen = await job<GenerateResult>({
      type: 'generate',
      prompt: 'a large yellow triangle',
      modelSet: 'shapes-world-oracle',
      steps: 1,
    });
    const s = (await job<EvolutionJobResult>({ ...create, init: [{ kind: 'library', id: gen.item.id }], population: 2 })).session;
    expect(s.individuals[0]).toMatchObject({ operator: 'init-image', prompt: 'a large yellow triangle' });
  });

  it('a damaged session file is reported when it is opened or listed; the library and other sessions are intact', async () => {
    const { dir, value, job } = setup();
    const good = (await job<EvolutionJobResult>(create)).session;
    const broken = (await job<EvolutionJobResult>({ ...create, seed: 9 })).session;
    const file = path.join(dir, 'evolution', broken.id, 'session.json');
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, 100));
    await expect(value({ type: 'openEvolution', session: broken.id })).rejects.toThrow(/FILE.*damaged.*not valid JSON/);
    expect(readFileSync(file, 'utf8')).toHaveLength(100); // left as it is
    const { sessions } = await value<{ sessions: { id: string; problem?: string }[] }>({ type: 'listEvolutions' });
    expect(sessions.find((x) => x.id === broken.id)!.problem).toMatch(/damaged/);
    expect(sessions.find((x) => x.id === good.id)!.problem).toBeUndefined();
    expect((await value<EvolutionSessionView>({ type: 'openEvolution', session: good.id })).id).toBe(good.id);
    expect(await value<{ total: number }>({ type: 'listLibrary' })).toMatchObject({ total: 0 });
  });

  it('rejects ids that are not session or individual ids before anything runs', async () => {
    const { ask } = setup();
    for (const r of [
      { type: 'openEvolution', session: '../etc' },
      { type: 'openEvolution', session: 'a/b' },
      { type: 'lockEvolution', session: 'evo-1', id: '../g0-00', words: [] },
      { type: 'breedEvolution', session: 'evo-1', picks: ['g0-00/..'] },
      { type: 'createEvolution', init: [] },
      { type: 'createEvolution', init: [{ kind: 'prompt', text: '  ' }] },
      { type: 'createEvolution', init: [{ kind: 'prompt', text: 'x' }], population: 1000 },
    ]) {
      const res = await ask(r);
      expect(res.ok, JSON.stringify(r)).toBe(false);
      if (!res.ok) expect(res.error.code).toBe('INVALID_MESSAGE');
    }
  });
});
