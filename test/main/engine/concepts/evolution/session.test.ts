import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EvolutionSession,
  EvolutionSessionError,
  listSessions,
  readSessionFile,
  sceneOfPrompt,
  sessionsRoot,
  worldFusionTasks,
  worldOracleBackend,
  type EvolutionBackend,
} from '../../../../../src/main/engine/concepts/evolution/index.js';
import { CancelledError } from '../../../../../src/main/engine/errors.js';
import { createShapesLm, trainShapesLm } from '../../../../../src/main/engine/models/shapes/lm/index.js';
import { sceneToPrompt } from '../../../../../src/main/engine/models/shapes/world/index.js';

let tmp: string;
let backend: EvolutionBackend;
let n = 0;
const fresh = () => path.join(tmp, `s${n++}`);

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'is-evolution-'));
  backend = worldOracleBackend({ lm: createShapesLm(trainShapesLm({ captions: 5000 })) });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const task = worldFusionTasks(12, 0);
const init = (k: number) => [
  { kind: 'prompt' as const, text: sceneToPrompt(task[k]!.a) },
  { kind: 'prompt' as const, text: sceneToPrompt(task[k]!.b) },
];
const checker = (k: number) => ({ kind: 'checker' as const, prompt: sceneToPrompt(task[k]!.target) });

/** Everything of a session that must not depend on when it ran. */
async function content(s: EvolutionSession) {
  const f = s.file;
  const images = await Promise.all(
    f.individuals.map(async (i) =>
      createHash('sha256')
        .update(await readFile(path.join(s.dir, i.image)))
        .digest('hex'),
    ),
  );
  return {
    generations: f.generations.map(({ createdAt: _c, ...g }) => g),
    individuals: f.individuals.map(({ createdAt: _c, ...i }) => i),
    images,
  };
}

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else
        out[path.relative(dir, p)] = createHash('sha256')
          .update(await readFile(p))
          .digest('hex');
    }
  };
  await walk(dir);
  return out;
}

describe('evolution sessions (shapes world oracle)', () => {
  it('the oracle draws what a prompt says', () => {
    const s = sceneOfPrompt('a small red square on the left and a large blue circle on the right on a gray background', 1);
    expect(s).toEqual({
      background: 'gray',
      objects: [
        { shape: 'square', colour: 'red', size: 'small', position: 'left' },
        { shape: 'circle', colour: 'blue', size: 'large', position: 'right' },
      ],
    });
    // A colour or a position alone is no object.
    expect(sceneOfPrompt('a red square on the left and blue on the right', 1).objects).toHaveLength(1);
  });

  it('starts a population of P from the initial prompts, scored by the checker, all files written', async () => {
    const dir = fresh();
    const s = await EvolutionSession.create(dir, backend, { init: init(0), settings: { seed: 1, population: 6 }, fitness: checker(0) });
    const g0 = s.head();
    expect(g0.individuals).toHaveLength(6);
    expect(g0.individuals.slice(0, 2).map((i) => i.operator)).toEqual(['init', 'init']);
    expect(g0.individuals.slice(2).every((i) => i.operator === 'word-mutation' && i.parents.length === 1)).toBe(true);
    for (const i of g0.individuals) {
      expect(i.fitness).toBeGreaterThanOrEqual(0);
      expect(i.fitness).toBeLessThanOrEqual(1);
      expect(existsSync(i.imagePath) && existsSync(i.thumbnailPath)).toBe(true);
    }
    expect((await readSessionFile(dir)).individuals).toHaveLength(6);
    await expect(EvolutionSession.create(dir, backend, { init: init(0) })).rejects.toThrow(/already holds an evolution session/);
  });

  it('same seed and same choices give the same children; another seed does not', async () => {
    const run = async (seed: number) => {
      const s = await EvolutionSession.create(fresh(), backend, { init: init(1), settings: { seed, population: 6 }, fitness: checker(1) });
      const g0 = s.head().individuals;
      await s.breed([g0[0]!.id, g0[1]!.id]);
      await s.lock(s.head().individuals[1]!.id, [s.head().individuals[1]!.prompt.split(' ')[2]!]);
      await s.breed();
      await s.breed();
      return content(s);
    };
    const [a, b, c] = [await run(5), await run(5), await run(6)];
    expect(a).toEqual(b);
    expect(a.individuals.map((i) => i.prompt)).not.toEqual(c.individuals.map((i) => i.prompt));
  });

  it('elitism never loses the best, and the search reaches the two-object target in ≥ 80% of seeds within 20 generations of 8', async () => {
    let reached = 0;
    const seeds = 10;
    for (let k = 0; k < seeds; k++) {
      const s = await EvolutionSession.create(fresh(), backend, {
        init: init(k),
        settings: { seed: k, population: 8 },
        fitness: checker(k),
      });
      const curve = [s.head().best!];
      for (let g = 0; g < 20 && curve[curve.length - 1]! < 1; g++) {
        const prevBest = s.best()!;
        const v = await s.breed();
        curve.push(v.best!);
        // The elite is carried by reference.
        expect(v.generation.members).toContain(prevBest.id);
      }
      for (let i = 1; i < curve.length; i++) expect(curve[i]).toBeGreaterThanOrEqual(curve[i - 1]!);
      if (curve[curve.length - 1] === 1) reached++;
    }
    expect(reached).toBeGreaterThanOrEqual(0.8 * seeds);
  }, 300_000);

  it('breeds from the artist’s picks without a fitness; refuses to breed with neither', async () => {
    const s = await EvolutionSession.create(fresh(), backend, { init: init(2), settings: { seed: 2, population: 6, elite: 1 } });
    await expect(s.breed()).rejects.toThrow(/pick at least one favourite/);
    const picks = s
      .head()
      .individuals.slice(0, 2)
      .map((i) => i.id);
    const g1 = await s.breed(picks);
    expect(g1.generation.picks).toEqual(picks);
    expect(g1.generation.members[0]).toBe(picks[0]); // elite: the first pick, carried over
    for (const c of g1.individuals.slice(1)) for (const p of c.parents) expect(picks).toContain(p);
  });

  it('locked words are kept by every child; a lock must be in the prompt', async () => {
    const s = await EvolutionSession.create(fresh(), backend, { init: init(3), settings: { seed: 3, population: 8 }, fitness: checker(3) });
    const first = s.head().individuals[0]!;
    const word = task[3]!.a.objects[0]!.shape;
    await expect(s.lock(first.id, ['zebra'])).rejects.toThrow(/does not contain "zebra"/);
    await s.lock(first.id, [word]);
    expect(s.individual(first.id).locks).toEqual([word]);
    const g1 = await s.breed([first.id]);
    for (const c of g1.individuals) expect(c.prompt).toContain(word);
    for (const c of g1.individuals.filter((i) => i.parents.length)) expect(c.locks).toEqual([word]);
  });

  it('branches from an ancestor; the lineage tree holds every individual and parent link', async () => {
    const s = await EvolutionSession.create(fresh(), backend, { init: init(4), settings: { seed: 4, population: 5 } });
    const ancestor = s.head().individuals[3]!;
    await s.breed([s.head().individuals[0]!.id]);
    await s.breed([s.head().individuals[1]!.id]);
    const b = await s.branch(ancestor.id);
    expect(b.generation).toMatchObject({ kind: 'branch', branchedFrom: ancestor.id, parent: 'g0' });
    const g = await s.breed(); // a branch's default pick is its ancestor
    expect(g.generation.picks).toEqual([ancestor.id]);
    expect(g.generation.parent).toBe(b.generation.id);
    const tree = s.lineage();
    expect(tree.head).toBe(g.generation.id);
    expect(tree.nodes).toHaveLength(s.file.individuals.length);
    const ids = new Set(tree.nodes.map((x) => x.id));
    for (const [p, c] of tree.edges) expect(ids.has(p) && ids.has(c)).toBe(true);
    const born = g.individuals.filter((i) => i.generation === g.generation.id).map((i) => i.id);
    expect(born.length).toBeGreaterThan(0);
    expect(tree.edges.filter(([, c]) => born.includes(c)).every(([p]) => p === ancestor.id)).toBe(true);
  });

  it('resumes after a restart exactly where it was, and exports a folder that opens as a session', async () => {
    const dirA = fresh();
    const dirB = fresh();
    const req = { init: init(5), settings: { seed: 9, population: 6 }, fitness: checker(5) };
    const a = await EvolutionSession.create(dirA, backend, req);
    await a.breed();
    await a.breed();
    const b = await EvolutionSession.create(dirB, backend, req);
    await b.breed();
    const reopened = await EvolutionSession.open(dirB, backend); // "restart"
    await reopened.breed();
    expect((await content(reopened)).individuals).toEqual((await content(a)).individuals);
    const out = fresh();
    const r = await reopened.exportTo(out);
    expect(r.files).toBeGreaterThan(6);
    for (const f of ['session.json', 'lineage.json', 'prompts.tsv']) expect(existsSync(path.join(out, f))).toBe(true);
    expect((await readFile(path.join(out, 'prompts.tsv'), 'utf8')).split('\n')[0]).toBe(
      'id\tgeneration\toperator\tparents\tseed\tfitness\tprompt',
    );
    const copy = await EvolutionSession.open(out, backend);
    expect(copy.lineage().nodes.map((x) => x.id)).toEqual(reopened.lineage().nodes.map((x) => x.id));
    await expect(reopened.exportTo(out)).rejects.toThrow(/not empty/);
  });

  it('a cancelled breed leaves the session as it was', async () => {
    const dir = fresh();
    const s = await EvolutionSession.create(dir, backend, { init: init(6), settings: { seed: 6, population: 6 }, fitness: checker(6) });
    const before = await readFile(path.join(dir, 'session.json'));
    const ac = new AbortController();
    const p = s.breed(undefined, { signal: ac.signal, onProgress: (e) => e.phase === 'render' && e.done === 2 && ac.abort() });
    await expect(p).rejects.toBeInstanceOf(CancelledError);
    expect((await readFile(path.join(dir, 'session.json'))).equals(before)).toBe(true);
    expect(s.head().generation.id).toBe('g0');
    expect((await s.breed()).generation.id).toBe('g1');
  });

  it('a corrupted session file is a clear error; nothing else in the library is touched', async () => {
    const library = fresh();
    await mkdir(library, { recursive: true });
    await writeFile(path.join(library, 'index.json'), JSON.stringify({ format: 'inversion-studio-library', version: 1, items: [] }));
    await writeFile(path.join(library, '20260101-000000Z-00000000.png'), Buffer.from([137, 80, 78, 71]));
    const good = path.join(sessionsRoot(library), 'good');
    const bad = path.join(sessionsRoot(library), 'bad');
    await EvolutionSession.create(good, backend, { init: init(7), settings: { seed: 7, population: 3 } });
    await EvolutionSession.create(bad, backend, { init: init(8), settings: { seed: 8, population: 3 } });
    const text = await readFile(path.join(bad, 'session.json'), 'utf8');
    await writeFile(path.join(bad, 'session.json'), text.slice(0, text.length / 2)); // truncated by a crash
    const before = await snapshot(library);
    const err = await EvolutionSession.open(bad, backend).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EvolutionSessionError);
    expect((err as EvolutionSessionError).problem).toBe('damaged');
    expect((err as Error).message).toMatch(/session\.json is damaged \(it is not valid JSON.*left as it is and nothing else was changed/);
    expect(await snapshot(library)).toEqual(before);
    await expect(EvolutionSession.open(good, backend)).resolves.toBeInstanceOf(EvolutionSession);
    // Valid JSON that breaks the schema or its own references is damaged too.
    const valid = JSON.parse(await readFile(path.join(good, 'session.json'), 'utf8'));
    await writeFile(path.join(bad, 'session.json'), JSON.stringify({ ...valid, head: 'g9' }));
    await expect(readSessionFile(bad)).rejects.toThrow(/head generation g9 is not in the file/);
    await writeFile(path.join(bad, 'session.json'), JSON.stringify({ ...valid, settings: { ...valid.settings, population: 'eight' } }));
    await expect(readSessionFile(bad)).rejects.toThrow(/fails the session schema at settings\.population/);
    await writeFile(path.join(bad, 'session.json'), JSON.stringify({ format: 'something-else' }));
    await expect(readSessionFile(bad)).rejects.toThrow(/not an Inversion Studio evolution session/);
    const list = await listSessions(sessionsRoot(library));
    expect(list.find((x) => x.dir === good)).toMatchObject({ generations: 1, individuals: 3 });
    expect(list.find((x) => x.dir === bad)?.problem).toMatch(/not an Inversion Studio evolution session/);
    await rm(path.join(good, 'images', 'g0-00.png'));
    await expect(readSessionFile(good)).rejects.toThrow(/1 file\(s\) it names are missing: images\/g0-00\.png/);
  });

  it('refuses another model set’s session or initial image', async () => {
    const dir = fresh();
    await EvolutionSession.create(dir, backend, { init: init(9), settings: { population: 2 } });
    const other: EvolutionBackend = { ...backend, model: 'demo' };
    await expect(EvolutionSession.open(dir, other)).rejects.toThrow(/renders with model set 'shapes-world-oracle', not 'demo'/);
    const img = { data: new Float32Array(3 * 64 * 64), width: 64, height: 64 };
    await expect(
      EvolutionSession.create(fresh(), backend, {
        init: [{ kind: 'image', image: img, recorded: { prompt: 'a red circle', model: 'sd15' } }],
      }),
    ).rejects.toThrow(/made with model set 'sd15', but this session renders with 'shapes-world-oracle'/);
    await expect(EvolutionSession.create(fresh(), backend, { init: [] })).rejects.toThrow(/at least one initial/);
    await expect(
      EvolutionSession.create(fresh(), backend, { init: init(0), fitness: { kind: 'checker', prompt: 'a cat' } }),
    ).rejects.toThrow(/Not a shapes-world caption/);
  });
});
