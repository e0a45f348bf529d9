import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { classifyArgument, recordedPrompt } from '../../../src/cli/commands/fuse.js';
import { imageToPng, readPngMetadata } from '../../../src/main/engine/image/image-io.js';
import { testCacheDir, testDemoModelSet } from '../../main/engine/models/demo/demo-cache.js';

let tmp: string;
let out: string[];
let err: string[];

beforeAll(async () => {
  await testDemoModelSet();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'is-cli-fuse-'));
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

const fast = ['--steps', '3', '--size', '64x64', '--seed', '2', '--cache', testCacheDir(), '--provider', 'cpu'];
const fuse = (...args: string[]) => main(['fuse', ...args, ...fast]);

describe('inversion-studio fuse', () => {
  it('fuses two prompts by blend and prints the decoded text; the PNG records the fusion', async () => {
    const o = path.join(tmp, 'blend.png');
    expect(
      await fuse(
        'a red fox in the snow',
        'a blue boat on a lake',
        '--mode',
        'blend',
        '--weights',
        '0.3,0.7',
        '--json',
        path.join(tmp, 'b.json'),
        '-o',
        o,
      ),
    ).toBe(0);
    expect(out.join('\n')).toMatch(/^decoded: \S+/m);
    expect(out.join('\n')).toMatch(/wrote .*blend\.png \(blend, weights 0\.3\/0\.7, 64x64, demo, seed 2/);
    const meta = readPngMetadata(await readFile(o));
    expect(meta.json).toMatchObject({ fusion: { mode: 'blend', weights: [0.3, 0.7] } });
    const rec = JSON.parse(await readFile(path.join(tmp, 'b.json'), 'utf8'));
    expect(rec).toMatchObject({ mode: 'blend', model: 'demo', decoded: { decoder: 'search' } });
  });

  it('uses a generated image’s recorded prompt, and renders a grid', async () => {
    const g = path.join(tmp, 'gen.png');
    expect(await main(['generate', 'a blue boat on a lake', '-o', g, ...fast])).toBe(0);
    expect(recordedPrompt(await readFile(g))).toEqual({ prompt: 'a blue boat on a lake', model: 'demo' });
    const o = path.join(tmp, 'concat.png');
    expect(await fuse('a red fox', g, '--mode', 'concat', '-o', o)).toBe(0);
    expect(err.join('')).toMatch(/using its recorded prompt "a blue boat on a lake"/);
    expect(out.join('\n')).toMatch(/prompt: a red fox and a blue boat on a lake/);
    out = [];
    const grid = path.join(tmp, 'grid.png');
    expect(
      await fuse('a red fox', 'a blue boat', '--grid', '--modes', 'compose,alternate', '--weights', '1,1', '--weights', '2,1', '-o', grid),
    ).toBe(0);
    expect(out.filter((l) => /^(compose|alternate)\t/.test(l))).toHaveLength(4);
    expect(readPngMetadata(await readFile(grid)).json).toMatchObject({ fusionGrid: { modes: ['compose', 'alternate'] } });
  });

  it('bad input: one parent, unknown mode, weights per parent, a missing image, images of another model set', async () => {
    expect(await fuse('a red fox', '-o', path.join(tmp, 'x.png'))).toBe(2);
    expect(err.join('')).toMatch(/at least two parents; only one was given/);
    expect(await fuse('a', 'b', '--mode', 'mix', '-o', path.join(tmp, 'x.png'))).toBe(2);
    expect(await fuse('a', 'b', '--weights', '1,2,3', '-o', path.join(tmp, 'x.png'))).toBe(2);
    expect(err.join('')).toMatch(/one weight per parent: 2 parents, 3 weights/);
    expect(await fuse('a', path.join(tmp, 'nope.png'), '-o', path.join(tmp, 'x.png'))).toBe(2);
    expect(err.join('')).toMatch(/no such image file/);
    expect(await fuse('a', 'b', '-o', path.join(tmp, 'x.png'), '--mode', 'blend', '--weights', '0,0')).toBe(2);
    const other = path.join(tmp, 'sd15.png');
    await writeFile(
      other,
      await imageToPng(new Float32Array(3 * 64 * 64), 64, 64, { json: { app: 'inversion-studio', prompt: 'a castle', model: 'sd15' } }),
    );
    expect(await fuse('a red fox', other, '-o', path.join(tmp, 'x.png'))).toBe(2);
    expect(err.join('')).toMatch(/made with model set 'sd15', but this fusion runs on 'demo'/);
    expect(classifyArgument('a red fox.png')).toBe('prompt');
    expect(classifyArgument('fox.png')).toBe('missing-image');
  });
});
