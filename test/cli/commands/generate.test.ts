import { existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { canMakeFifo, makeFifo, NO_FIFO } from '../../main/engine/io/fs-fixtures.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { readPngMetadata } from '../../../src/main/engine/image/image-io.js';
import { writeDemoModelSet } from '../../../src/main/engine/models/demo/index.js';
import { testCacheDir, testDemoModelSet } from '../../main/engine/models/demo/demo-cache.js';
import { main } from '../../../src/cli/main.js';
import { parseSize, progressBar } from '../../../src/cli/commands/generate.js';

let tmp: string;
let out: string[];
let err: string[];

beforeAll(async () => {
  await testDemoModelSet();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'is-cli-generate-'));
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

const gen = (...args: string[]) => main(['generate', ...args, '--cache', testCacheDir(), '--provider', 'cpu']);
const fast = ['--steps', '4', '--size', '64x64'];

describe('inversion-studio generate', () => {
  it('same seed twice -> byte-identical PNGs carrying the parameters chunk; another seed -> another image', async () => {
    const a = path.join(tmp, 'a.png');
    const b = path.join(tmp, 'sub', 'b.png');
    const c = path.join(tmp, 'c.png');
    expect(await gen('a red fox in a snowy forest', '--seed', '42', ...fast, '-o', a)).toBe(0);
    expect(await gen('a red fox in a snowy forest', '--seed', '42', ...fast, '-o', b)).toBe(0);
    expect(await gen('a red fox in a snowy forest', '--seed', '43', ...fast, '-o', c)).toBe(0);
    const [pa, pb, pc] = await Promise.all([readFile(a), readFile(b), readFile(c)]);
    expect(pa.equals(pb)).toBe(true);
    expect(pa.equals(pc)).toBe(false);
    const meta = readPngMetadata(pa);
    expect(meta.parameters).toBe(
      'a red fox in a snowy forest\nSteps: 4, Sampler: DDIM, CFG scale: 7.5, Seed: 42, Size: 64x64, Model: demo',
    );
    expect(meta.json).toMatchObject({ seed: 42, model: 'demo', scheduler: 'ddim' });
    expect(out.join('\n')).toMatch(/wrote .*a\.png \(64x64, demo, ddim 4 steps, guidance 7\.5, seed 42/);
    // Progress bar on stderr, ending with the full bar.
    expect(err.join('')).toMatch(/denoise \[#{24}\] 4\/4/);
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('honours scheduler, guidance, negative prompt and --json', async () => {
    const o = path.join(tmp, 'j.png');
    expect(
      await gen('a castle', '--negative', 'fog', '--scheduler', 'euler', '--guidance', '5', '--seed', '1', ...fast, '-o', o, '--json'),
    ).toBe(0);
    const rec = JSON.parse(out.join('\n'));
    expect(rec).toMatchObject({
      prompt: 'a castle',
      negativePrompt: 'fog',
      scheduler: 'euler',
      guidance: 5,
      seed: 1,
      width: 64,
      height: 64,
      provider: 'cpu',
    });
    expect(readPngMetadata(await readFile(o)).parameters).toContain('Negative prompt: fog\nSteps: 4, Sampler: Euler, CFG scale: 5');
  });

  it('generates the demo model set on first use into the given cache', async () => {
    const cache = path.join(tmp, 'fresh-cache');
    const o = path.join(tmp, 'first.png');
    expect(await main(['generate', 'a lighthouse', '--seed', '5', ...fast, '--cache', cache, '-o', o])).toBe(0);
    expect(err.join('')).toMatch(/generating the demo model set \(first use only/);
    expect(existsSync(path.join(cache, 'models', 'demo', 'unet', 'model.onnx_data'))).toBe(true);
    // Same bytes as with the shared test cache: the generated set is deterministic.
    const o2 = path.join(tmp, 'first-shared.png');
    expect(await gen('a lighthouse', '--seed', '5', ...fast, '-o', o2)).toBe(0);
    expect((await readFile(o)).equals(await readFile(o2))).toBe(true);
  });

  it('picks and prints a random seed when none is given', async () => {
    const o = path.join(tmp, 'r.png');
    expect(await gen('a boat', ...fast, '-o', o)).toBe(0);
    const m = /seed: (\d+)/.exec(err.join(''));
    expect(m).not.toBeNull();
    expect((readPngMetadata(await readFile(o)).json as { seed: number }).seed).toBe(Number(m![1]));
  });

  it('warns about a prompt over 77 tokens, naming the dropped words', async () => {
    const prompt = `${'red '.repeat(80)}castle dragon`;
    expect(await gen(prompt, '--seed', '1', ...fast, '-o', path.join(tmp, 'long.png'))).toBe(0);
    expect(err.join('')).toMatch(/warning: the prompt is longer than 77 tokens; dropped: .*castle dragon/);
  });

  it('rejects bad sizes with a clear message and writes nothing', async () => {
    const o = path.join(tmp, 'bad.png');
    expect(await gen('x', '--size', '100x100', '-o', o)).toBe(2);
    expect(err.join('')).toMatch(/--size: width 100 is not a positive multiple of 8.*try 104/);
    err.length = 0;
    expect(await gen('x', '--size', 'big', '-o', o)).toBe(2);
    expect(err.join('')).toMatch(/--size must look like 512x512/);
    err.length = 0;
    expect(await gen('x', '--size', '72x64', '-o', o)).toBe(1);
    expect(err.join('')).toMatch(/width 72 is not a multiple of 32, which model set demo needs; try 64/);
    expect(existsSync(o)).toBe(false);
  });

  it('refuses sizes over the memory bound before allocating, with the limit in the message', async () => {
    const o = path.join(tmp, 'huge.png');
    expect(await gen('x', '--size', '4096x4096', '--steps', '1', '-o', o)).toBe(1);
    expect(err.join('')).toMatch(/4096x4096 is too large to generate with demo: at most 262,144 pixels \(e\.g\. 512x512\)/);
    expect(existsSync(o)).toBe(false);
  });

  it.skipIf(!canMakeFifo)('-o FIFO (the /dev/full case) is refused before any work and stays a FIFO' + NO_FIFO, async () => {
    const fifo = path.join(tmp, 'full');
    makeFifo(fifo);
    expect(await gen('x', ...fast, '-o', fifo)).toBe(1);
    expect(err.join('')).toMatch(/refusing to write the output image to .*full: it is a named pipe \(FIFO\), not a regular file/);
    expect(err.join('')).not.toMatch(/denoise/); // nothing was generated
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(out.join('')).not.toMatch(/wrote/);
  });

  it('-o DIR says it is a folder and leaves no temp file (was a raw EISDIR)', async () => {
    const d = path.join(tmp, 'out-dir');
    mkdirSync(d);
    expect(await gen('x', ...fast, '-o', d)).toBe(1);
    expect(err.join('')).toMatch(/it is a folder, not a regular file; give a file path \(for example .*out-dir\/name\)/);
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('rejects bad options', async () => {
    const o = path.join(tmp, 'bad.png');
    expect(await gen('x')).toBe(2);
    expect(err.join('')).toMatch(/-o OUT\.png is required/);
    expect(await gen('-o', o)).toBe(2);
    expect(err.join('')).toMatch(/a PROMPT is required/);
    expect(await gen('x', '--scheduler', 'pndm', '-o', o)).toBe(2);
    expect(err.join('')).toMatch(/--scheduler must be one of ddim, euler, lms, turbo/);
    expect(await gen('x', '--steps', '0', '-o', o)).toBe(2);
    expect(await gen('x', '--seed', '-3', '-o', o)).toBe(2);
    expect(await gen('x', '--guidance', 'lots', '-o', o)).toBe(2);
    expect(await main(['generate', 'x', '--provider', 'tpu', '-o', o])).toBe(2);
    expect(err.join('')).toMatch(/--provider must be one of auto, cpu, cuda, dml, coreml, webgpu/);
    expect(await gen('x', '--bogus', '-o', o)).toBe(2);
    expect(existsSync(o)).toBe(false);
  });

  it('reports missing or incomplete model folders and uninstalled models', async () => {
    const o = path.join(tmp, 'm.png');
    expect(await gen('x', '--models', path.join(tmp, 'no-such-folder'), '-o', o)).toBe(1);
    expect(err.join('')).toMatch(/no-such-folder does not exist/);
    err.length = 0;
    const broken = path.join(tmp, 'broken');
    await writeDemoModelSet(broken, { omit: ['unet/model.onnx', 'scheduler/scheduler_config.json'] });
    expect(await gen('x', '--models', broken, '-o', o)).toBe(1);
    expect(err.join('')).toMatch(/Missing or empty: .*unet\/model\.onnx.*scheduler\/scheduler_config\.json/);
    err.length = 0;
    expect(await main(['generate', 'x', '--models', 'sd15', '--cache', path.join(tmp, 'empty-cache'), '-o', o])).toBe(1);
    expect(err.join('')).toMatch(/'sd15' is not installed.*models download sd15/);
    expect(existsSync(o)).toBe(false);
  });
});

describe('helpers', () => {
  it('parses sizes and draws the bar', () => {
    expect(parseSize('512x768')).toEqual({ width: 512, height: 768 });
    expect(parseSize('256')).toEqual({ width: 256, height: 256 });
    expect(parseSize('12ax4')).toBeUndefined();
    expect(progressBar({ phase: 'denoise', step: 5, total: 10, etaSeconds: 65 }, 10)).toBe('denoise [#####-----] 5/10  ETA 1m05s');
  });
});
