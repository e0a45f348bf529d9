import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { WORLD_ORACLE_MODEL, worldFusionTasks } from '../../../src/main/engine/concepts/evolution/index.js';
import { sceneToPrompt } from '../../../src/main/engine/models/shapes/world/index.js';
import { testCacheDir, testDemoModelSet } from '../../main/engine/models/demo/demo-cache.js';

let tmp: string;
let out: string[];
let err: string[];

beforeAll(async () => {
  await testDemoModelSet();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'is-cli-evolve-'));
}, 120_000);
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  out = [];
  err = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err.push(String(s));
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

const evolve = (...args: string[]) => main(['evolve', ...args, '--cache', testCacheDir(), '--provider', 'cpu']);
const task = worldFusionTasks(1, 0)[0]!;

describe('inversion-studio evolve', () => {
  it('runs a checker-fitness session on the world oracle until full match, then resumes and exports', async () => {
    const dir = path.join(tmp, 'world');
    const code = await evolve(
      '--session',
      dir,
      '--models',
      WORLD_ORACLE_MODEL,
      '--init',
      sceneToPrompt(task.a),
      '--init',
      sceneToPrompt(task.b),
      '--fitness',
      `checker:${sceneToPrompt(task.target)}`,
      '--generations',
      '20',
      '--seed',
      '4',
    );
    expect(code).toBe(0);
    const lines = out.filter((l) => /^g\d+\t/.test(l));
    expect(lines[0]).toMatch(/^g0\tbest \d\.\d{3} {2}mean \d\.\d{3} {2}g0-\d\d\t/);
    const bests = lines.map((l) => Number(/best (\d\.\d+)/.exec(l)![1]));
    for (let i = 1; i < bests.length; i++) expect(bests[i]).toBeGreaterThanOrEqual(bests[i - 1]!);
    expect(bests[bests.length - 1]).toBe(1);
    expect(out.join('\n')).toMatch(/^best: g\d+-\w+ \(fitness 1\.000\)/m);
    // Resume: options fixed at the start are refused, a further run is a no-op at full match; export.
    out = [];
    expect(await evolve('--session', dir, '--population', '4')).toBe(2);
    expect(await evolve('--session', dir, '--generations', '3', '--export', path.join(tmp, 'export'))).toBe(0);
    expect(err.join('')).toMatch(/resuming .*world/);
    expect(existsSync(path.join(tmp, 'export', 'lineage.json'))).toBe(true);
    const session = JSON.parse(await readFile(path.join(dir, 'session.json'), 'utf8'));
    expect(session.generations).toHaveLength(bests.length);
  }, 120_000);

  it('breeds one generation from --pick on the demo set without a fitness', async () => {
    const dir = path.join(tmp, 'demo');
    expect(
      await evolve(
        '--session',
        dir,
        '--init',
        'a red fox in the snow',
        '--init',
        'a blue boat',
        '--population',
        '4',
        '--size',
        '64x64',
        '--steps',
        '3',
        '--generations',
        '0',
      ),
    ).toBe(0);
    expect(out[0]).toMatch(/^g0\tg0-00\ta red fox in the snow$/);
    out = [];
    expect(await evolve('--session', dir, '--pick', 'g0-00,g0-01', '--generations', '5', '--json')).toBe(0);
    expect(err.join('')).toMatch(/no fitness: breeding one generation/);
    const tree = JSON.parse(out.slice(out.findIndex((l) => l.startsWith('{'))).join('\n'));
    expect(tree.head).toBe('g1');
    expect(tree.generations[1].picks).toEqual(['g0-00', 'g0-01']);
  }, 120_000);

  it('bad input: no --init for a new session, a bad fitness, a damaged session file', async () => {
    expect(await evolve('--session', path.join(tmp, 'none'))).toBe(2);
    expect(err.join('')).toMatch(/holds no session yet: give --init/);
    expect(await evolve('--session', path.join(tmp, 'f'), '--init', 'a red fox', '--fitness', 'beauty:9')).toBe(2);
    expect(await evolve('--session', path.join(tmp, 'f'), '--init', 'a red fox', '--fitness', 'checker:a fox')).toBe(2);
    expect(err.join('')).toMatch(/Not a shapes-world caption/);
    const dir = path.join(tmp, 'world');
    const file = path.join(dir, 'session.json');
    const text = await readFile(file, 'utf8');
    await (await import('node:fs/promises')).writeFile(file, text.slice(0, 100));
    expect(await evolve('--session', dir)).toBe(1);
    expect(err.join('')).toMatch(/session\.json is damaged .*nothing else was changed/);
    expect(await readFile(file, 'utf8')).toBe(text.slice(0, 100));
  });
});
