/** `invert`'s file handling: symlinked images in a folder, and a --json target that is not a regular file. */
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { collectImages } from '../../../src/cli/commands/invert.js';
import { canMakeFifo, makeFifo, NO_FIFO } from '../../main/engine/io/fs-fixtures.js';

let dir: string;
let img: string;
let err: string[];
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'is-invert-files-'));
  img = path.join(dir, 'cat.png');
  writeFileSync(
    img,
    await sharp({ create: { width: 96, height: 96, channels: 3, background: '#3a6' } })
      .png()
      .toBuffer(),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  err = [];
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err.push(String(s));
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

describe('invert: files', () => {
  it.skipIf(process.platform === 'win32')('a folder of symlinked images is not "empty"; broken links are named', async () => {
    const links = path.join(dir, 'links');
    mkdirSync(links);
    symlinkSync(img, path.join(links, 'b.png'));
    symlinkSync(img, path.join(links, 'a.png'));
    symlinkSync(path.join(dir, 'gone.png'), path.join(links, 'z.png'));
    expect(await collectImages([links])).toEqual([path.join(links, 'a.png'), path.join(links, 'b.png')]);
    const broken = path.join(dir, 'broken');
    mkdirSync(broken);
    symlinkSync(path.join(dir, 'gone.png'), path.join(broken, 'x.png'));
    await expect(collectImages([broken])).rejects.toThrow(
      /has no readable image files: 1 symbolic link\(s\) point at missing files \(x\.png\)/,
    );
  });

  it.skipIf(!canMakeFifo)('--json FIFO is refused before any model is loaded, and stays a FIFO' + NO_FIFO, async () => {
    const fifo = path.join(dir, 'results.json');
    makeFifo(fifo);
    expect(await main(['invert', img, '--init', 'a cat', '--json', fifo, '--cache', path.join(dir, 'no-cache')])).toBe(1);
    expect(err.join('')).toMatch(/refusing to write the --json results file to .*results\.json: it is a named pipe \(FIFO\)/);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });
});
