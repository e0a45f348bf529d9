import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { imageParameters } from '../../../src/cli/commands/segment.js';
import type { SegmentationSummary } from '../../../src/main/engine/attention/render.js';
import { imageToPng, readPngMetadata } from '../../../src/main/engine/image/image-io.js';
import { withPngText } from '../../../src/main/engine/image/png-chunks.js';
import { testCacheDir, testDemoModelSet } from '../../main/engine/models/demo/demo-cache.js';

let tmp: string;
let out: string[];
let err: string[];

beforeAll(async () => {
  await testDemoModelSet();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'is-cli-segment-'));
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

const common = ['--cache', testCacheDir(), '--provider', 'cpu'];
const cli = (cmd: string, ...args: string[]) => main([cmd, ...args, ...common]);
const summaryOf = async (dir: string) => JSON.parse(await readFile(path.join(dir, 'summary.json'), 'utf8')) as SegmentationSummary;
const PROMPT = 'a red fox in a snowy forest';

describe('inversion-studio segment', () => {
  let png: string;
  let maps: string;
  beforeAll(async () => {
    png = path.join(tmp, 'fox.png');
    maps = path.join(tmp, 'fox-maps');
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    expect(await cli('generate', PROMPT, '--seed', '3', '--steps', '4', '--size', '64x64', '-o', png, '--attention-maps', maps)).toBe(0);
    vi.restoreAllMocks();
  });

  it('generate --attention-maps writes per-word heat maps, masks, labels, overlay and summary.json', async () => {
    const s = await summaryOf(maps);
    expect(s).toMatchObject({ prompt: PROMPT, threshold: 0.4, width: 64, height: 64, source: 'generation', overlay: 'overlay.png' });
    expect(s.words.map((w) => w.word)).toEqual(['red', 'fox', 'snowy', 'forest']);
    for (const w of s.words) {
      expect(w.tokens.length).toBeGreaterThan(0);
      expect(w.area).toBeGreaterThan(0);
      expect(w.area).toBeLessThanOrEqual(1);
      const meta = await sharp(path.join(maps, w.mask)).metadata();
      expect([meta.width, meta.height, meta.channels]).toEqual([64, 64, 4]);
      expect(existsSync(path.join(maps, w.heatmap))).toBe(true);
    }
    expect(existsSync(path.join(maps, 'labels.png'))).toBe(true);
  });

  it('segments its own generation by re-sampling it: the same maps as generate --attention-maps', async () => {
    const dir = path.join(tmp, 'own');
    expect(await cli('segment', png, '-o', dir)).toBe(0);
    expect(err.join('')).toMatch(/sampling the image again \(seed 3, ddim 4 steps\)/);
    expect(out.join('\n')).toMatch(/wrote .*own \(generation path, 4 words: red \d+%, fox \d+%/);
    const a = await summaryOf(maps);
    const b = await summaryOf(dir);
    expect(b).toEqual(a);
    for (const w of a.words) expect((await readFile(path.join(dir, w.mask))).equals(await readFile(path.join(maps, w.mask)))).toBe(true);
  });

  it('an edited image with our parameters goes through the noising path, with a note', async () => {
    const edited = path.join(tmp, 'edited.png');
    const meta = readPngMetadata(await readFile(png));
    const raw = await sharp(png).raw().toBuffer();
    raw[0] = 255 - raw[0]!;
    raw[1] = 255 - raw[1]!;
    const pixels = await sharp(raw, { raw: { width: 64, height: 64, channels: 3 } })
      .png()
      .toBuffer();
    await writeFile(edited, withPngText(pixels, [{ key: 'inversion-studio', text: JSON.stringify(meta.json), itxt: true }]));
    const dir = path.join(tmp, 'edited');
    expect(await cli('segment', edited, '-o', dir, '--words', 'fox')).toBe(0);
    expect(err.join('')).toMatch(/differs from its regeneration/);
    expect((await summaryOf(dir)).source).toBe('noising');
  });

  it('any other image: the prompt from --prompt, the noising path, masks at the image size', async () => {
    const jpg = path.join(tmp, 'fox.jpg');
    await sharp(png).resize(80, 48, { fit: 'fill' }).jpeg().toFile(jpg);
    const dir = path.join(tmp, 'jpg');
    expect(
      await cli(
        'segment',
        jpg,
        '--prompt',
        'a (red:1.2) fox, [snowy] forest',
        '--words',
        'fox,forest',
        '--threshold',
        '0.5',
        '--timesteps',
        '200,400',
        '-o',
        dir,
      ),
    ).toBe(0);
    const s = await summaryOf(dir);
    expect(s).toMatchObject({
      prompt: 'a (red:1.2) fox, [snowy] forest',
      threshold: 0.5,
      width: 80,
      height: 48,
      source: 'noising',
      timesteps: [200, 400],
    });
    expect(s.words.map((w) => w.word)).toEqual(['fox', 'forest']);
    const meta = await sharp(path.join(dir, s.words[0]!.mask)).metadata();
    expect([meta.width, meta.height]).toEqual([80, 48]);
  });

  it('reads the prompt of A1111 parameters, and prints the summary with --json', async () => {
    const a1111 = path.join(tmp, 'a1111.png');
    const img = new Float32Array(3 * 64 * 64).map((_, i) => Math.sin(i / 50));
    await writeFile(
      a1111,
      await imageToPng(img, 64, 64, { parameters: 'a blue lake\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 64x64' }),
    );
    expect(imageParameters(await readFile(a1111))).toEqual({ prompt: 'a blue lake' });
    expect(await cli('segment', a1111, '-o', path.join(tmp, 'a1111'), '--json')).toBe(0);
    const printed = JSON.parse(out.join('\n')) as SegmentationSummary;
    expect(printed.prompt).toBe('a blue lake');
    expect(printed.words.map((w) => w.word)).toEqual(['blue', 'lake']);
  });

  it('--invert recovers a prompt first and segments the image by it', async () => {
    const dir = path.join(tmp, 'inverted');
    expect(await cli('segment', png, '--invert', '--init', 'a fox in a forest', '--iterations', '2', '-o', dir)).toBe(0);
    const s = await summaryOf(dir);
    expect(err.join('')).toContain(`prompt: ${s.prompt}`);
    expect(s.source).toBe('noising');
    expect(s.words.length).toBeGreaterThan(0);
  });

  it('clear errors: no prompt anywhere, a word not in the prompt (exit 1); bad usage (exit 2)', async () => {
    const jpg = path.join(tmp, 'plain.jpg');
    await sharp(png).jpeg().toFile(jpg);
    expect(await cli('segment', jpg, '-o', path.join(tmp, 'x'))).toBe(1);
    expect(err.join('\n')).toMatch(/carries no prompt .*give --prompt "TEXT", or --invert/);
    err.length = 0;
    expect(await cli('segment', png, '--words', 'fox,dog', '-o', path.join(tmp, 'y'))).toBe(1);
    expect(err.join('\n')).toMatch(/"dog" is not a word of the prompt; its words are: a, red, fox, in, snowy, forest/);
    expect(existsSync(path.join(tmp, 'y', 'summary.json'))).toBe(false);
    err.length = 0;
    expect(await cli('segment', path.join(tmp, 'missing.png'), '--prompt', 'a fox')).toBe(1);
    expect(err.join('\n')).toMatch(/no such file/);
    for (const args of [
      [],
      [png, '--prompt', 'a fox', '--invert'],
      [png, '--prompt', '  '],
      [png, '--threshold', '1.5'],
      [png, '--timesteps', '10,abc'],
      [png, '--init', 'a fox'],
      [png, '--words', ','],
      [png, png],
    ]) {
      err.length = 0;
      expect(await cli('segment', ...args), args.join(' ')).toBe(2);
      expect(err.join('\n')).toMatch(/usage: inversion-studio segment IMAGE/);
    }
  });
});
