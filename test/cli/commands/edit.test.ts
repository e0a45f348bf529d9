import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';
import type { EditRecord } from '../../../src/main/engine/concepts/edit/index.js';
import { imageToPng, readPngMetadata } from '../../../src/main/engine/image/image-io.js';
import { withPngText } from '../../../src/main/engine/image/png-chunks.js';
import { testCacheDir, testDemoModelSet } from '../../main/engine/models/demo/demo-cache.js';

let tmp: string;
let out: string[];
let err: string[];

beforeAll(async () => {
  await testDemoModelSet();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'is-cli-edit-'));
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
const PROMPT = 'a red fox and a blue bird in a snowy forest';

describe('inversion-studio edit', () => {
  let png: string;
  beforeAll(async () => {
    png = path.join(tmp, 'fox.png');
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    expect(await cli('generate', PROMPT, '--seed', '3', '--steps', '4', '--size', '64x64', '-o', png)).toBe(0);
    vi.restoreAllMocks();
  });

  it('removes words: prints the edit and the mode, writes a PNG that records the source and the edit, and the mask', async () => {
    const o = path.join(tmp, 'no-bird.png');
    const mask = path.join(tmp, 'no-bird-mask.png');
    expect(await cli('edit', png, 'a red fox in a snowy forest', '-o', o, '--mask', mask, '--threshold', '0.7', '--dilate', '0')).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/^edit: removal of "and a blue bird"$/m);
    expect(text).toMatch(/^mode: blend \(a removal or replacement/m);
    expect(text).toMatch(/wrote .*no-bird\.png \(64x64, demo, seed 3, ddim 4 steps/);
    expect(text).toMatch(/outside the mask \(\d+% of the image\): [\d.]+% of pixels changed, PSNR [\d.∞]+ dB/);
    expect(text).toMatch(/mask from: blue, bird/);
    const meta = readPngMetadata(await readFile(o));
    const rec = meta.json as EditRecord;
    expect(rec).toMatchObject({ app: 'inversion-studio', prompt: 'a red fox in a snowy forest', seed: 3, steps: 4, model: 'demo' });
    expect(rec.edit).toMatchObject({ mode: 'blend', requestedMode: 'auto', source: { prompt: PROMPT, seed: 3 } });
    expect(rec.edit.edits).toEqual([{ kind: 'removal', source: 'and a blue bird', edited: '' }]);
    expect(meta.parameters).toMatch(/Edit: "removal of \\"and a blue bird\\""/);
    const m = await sharp(mask).metadata();
    expect([m.width, m.height]).toEqual([64, 64]);
  });

  it('--mode regenerate with --json: the result as JSON, the image a plain generation of the edited prompt', async () => {
    const o = path.join(tmp, 'regen.png');
    expect(await cli('edit', png, 'a red fox and a green bird in a snowy forest', '--mode', 'regenerate', '-o', o, '--json')).toBe(0);
    const j = JSON.parse(out.join('\n')) as { mode: string; edit: string; report: { outside: { psnr: number | null } }; edits: unknown[] };
    expect(j.mode).toBe('regenerate');
    expect(j.edit).toBe('replacement of "blue" by "green"');
    const plain = path.join(tmp, 'plain.png');
    expect(
      await cli('generate', 'a red fox and a green bird in a snowy forest', '--seed', '3', '--steps', '4', '--size', '64x64', '-o', plain),
    ).toBe(0);
    const [a, b] = await Promise.all([sharp(o).raw().toBuffer(), sharp(plain).raw().toBuffer()]);
    expect(a.equals(b)).toBe(true);
  });

  it('an edited prompt that reads the same: says so, writes nothing, exit 0', async () => {
    const o = path.join(tmp, 'same.png');
    expect(await cli('edit', png, `  ${PROMPT.toUpperCase()}`, '-o', o)).toBe(0);
    expect(out.join('\n')).toMatch(/^the edited prompt reads the same as the source prompt .*: nothing to edit; nothing was written$/m);
    expect(existsSync(o)).toBe(false);
  });

  it('a source without parameters and none given: a clear error; with --prompt and --seed it works', async () => {
    const bare = path.join(tmp, 'bare.png');
    await writeFile(bare, await imageToPng(new Float32Array(3 * 64 * 64), 64, 64));
    expect(await cli('edit', bare, 'a red fox')).toBe(1);
    expect(err.join('\n')).toMatch(/carries no generation parameters: give --prompt "SOURCE PROMPT" and --seed N/);
    err.length = 0;
    const o = path.join(tmp, 'bare-edit.png');
    expect(
      await cli('edit', bare, 'a red fox', '--prompt', 'a red fox in a forest', '--seed', '1', '--steps', '2', '--size', '64x64', '-o', o),
    ).toBe(0);
    expect(out.join('\n')).toMatch(/edit: removal of "in a forest"/);
    expect(existsSync(o)).toBe(true);
  });

  it('a source made with another model set: a clear error naming it', async () => {
    const bytes = await readFile(png);
    const meta = readPngMetadata(bytes);
    const rec = { ...(meta.json as object), model: 'sd15' };
    const other = path.join(tmp, 'sd15.png');
    await writeFile(
      other,
      withPngText(await imageToPng(new Float32Array(3 * 64 * 64), 64, 64), [
        { key: 'inversion-studio', text: JSON.stringify(rec), itxt: true },
      ]),
    );
    expect(await cli('edit', other, 'a red fox', '--models', 'demo')).toBe(1);
    expect(err.join('\n')).toMatch(/made with model set 'sd15', not 'demo'.*--models sd15/);
  });

  it('A1111 parameters are a source too', async () => {
    const a1111 = path.join(tmp, 'a1111.png');
    const text = `${PROMPT}\nSteps: 3, Sampler: DDIM, CFG scale: 7, Seed: 5, Size: 64x64, Model: v1-5-pruned`;
    await writeFile(a1111, withPngText(await imageToPng(new Float32Array(3 * 64 * 64), 64, 64), [{ key: 'parameters', text }]));
    const o = path.join(tmp, 'a1111-edit.png');
    expect(await cli('edit', a1111, 'a red fox and a blue bird in a forest', '-o', o, '--json')).toBe(0);
    const j = JSON.parse(out.join('\n')) as { record: EditRecord; sourceReproduced: boolean; warnings: string[] };
    expect(j.record.edit.source).toMatchObject({ prompt: PROMPT, seed: 5, steps: 3, scheduler: 'ddim', guidance: 7 });
    expect(j.record.edit.mode).toBe('blend');
    expect(j.sourceReproduced).toBe(false);
    expect(j.warnings.join(' ')).toMatch(/differs from its regeneration/);
  });

  it('bad usage: exit 2 with the usage', async () => {
    expect(await main(['edit', png])).toBe(2);
    expect(err.join('\n')).toMatch(/the EDITED PROMPT is required/);
    expect(await main(['edit', png, 'a fox', '--mode', 'magic'])).toBe(2);
    expect(await main(['edit', png, 'a fox', '--cross-steps', '2'])).toBe(2);
    expect(err.join('\n')).toMatch(/--cross-steps must be a number from 0 to 1/);
  });
});
