import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  assertWritableTarget,
  commitTempFile,
  FileWriteError,
  safeWriteFile,
  safeWriteFileSync,
  tempPathFor,
} from '../../../../src/main/engine/io/safe-write.js';
import { canMakeFifo, makeFifo, NO_FIFO, makeSocket } from './fs-fixtures.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'is-safe-write-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => {
  const d = path.join(root, `case-${++n}`);
  mkdirSync(d);
  return d;
};
const temps = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

describe('safeWriteFile', () => {
  it('writes new files and replaces regular ones atomically, leaving no temp file', async () => {
    const dir = fresh();
    const f = path.join(dir, 'out.png');
    await safeWriteFile(f, new Uint8Array([1, 2, 3]));
    expect([...readFileSync(f)]).toEqual([1, 2, 3]);
    const before = statSync(f).ino;
    await safeWriteFile(f, 'text ✓');
    expect(readFileSync(f, 'utf8')).toBe('text ✓');
    expect(statSync(f).ino).not.toBe(before); // a new file renamed into place, not an in-place rewrite
    await safeWriteFile(f, [new Uint8Array([9]), new Uint8Array([8, 7])]);
    expect([...readFileSync(f)]).toEqual([9, 8, 7]);
    expect(temps(dir)).toEqual([]);
  });

  it('keeps the mode of the file it replaces, or sets the one asked for', async () => {
    const dir = fresh();
    const f = path.join(dir, 'token');
    await safeWriteFile(f, 'secret', { mode: 0o600 });
    expect(statSync(f).mode & 0o777).toBe(0o600);
    await safeWriteFile(f, 'secret2');
    expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  it.skipIf(!canMakeFifo)('refuses a FIFO (the /dev/full case) and leaves it a FIFO' + NO_FIFO, async () => {
    const dir = fresh();
    const fifo = path.join(dir, 'full');
    makeFifo(fifo);
    const e = await safeWriteFile(fifo, 'x').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FileWriteError);
    expect((e as FileWriteError).code).toBe('FILE');
    expect((e as Error).message).toMatch(/refusing to write the file to .*full: it is a named pipe \(FIFO\), not a regular file/);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    await expect(assertWritableTarget(fifo, 'the output')).rejects.toThrow(/refusing to write the output/);
    expect(temps(dir)).toEqual([]);
  });

  it('refuses a folder with a clear message and leaves no temp file (was a raw EISDIR)', async () => {
    const dir = fresh();
    const sub = path.join(dir, 'images');
    mkdirSync(sub);
    await expect(safeWriteFile(sub, 'x', { what: 'the output image' })).rejects.toThrow(
      /refusing to write the output image to .*images: it is a folder, not a regular file; give a file path \(for example .*images\/name\)/,
    );
    expect(statSync(sub).isDirectory()).toBe(true);
    expect(temps(dir)).toEqual([]);
  });

  it.skipIf(process.platform === 'win32')('refuses a socket and a dangling symlink', async () => {
    const dir = fresh();
    const sock = path.join(dir, 's.sock');
    const server = await makeSocket(sock);
    try {
      await expect(safeWriteFile(sock, 'x')).rejects.toThrow(/it is a socket/);
    } finally {
      server.close();
    }
    const link = path.join(dir, 'dangling.png');
    symlinkSync(path.join(dir, 'nowhere.png'), link);
    await expect(safeWriteFile(link, 'x')).rejects.toThrow(/symbolic link to .*nowhere\.png, which does not exist/);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it.skipIf(process.platform === 'win32')('writes through a symlink to a regular file, keeping the link', async () => {
    const dir = fresh();
    const real = path.join(dir, 'real.json');
    writeFileSync(real, 'old');
    const link = path.join(dir, 'link.json');
    symlinkSync(real, link);
    await safeWriteFile(link, 'new');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, 'utf8')).toBe('new');
  });

  it('removes its temp file and leaves the target unchanged when writing fails', async () => {
    const dir = fresh();
    const f = path.join(dir, 'index.json');
    writeFileSync(f, 'previous');
    const e = await safeWriteFile(f, async (fh) => {
      await fh.write('partial');
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FileWriteError);
    expect((e as Error).message).toMatch(/could not write the file .*index\.json: there is no space left on the disk holding/);
    expect(readFileSync(f, 'utf8')).toBe('previous');
    expect(temps(dir)).toEqual([]);
  });

  it('says when the folder is missing, and creates it on request', async () => {
    const dir = fresh();
    const f = path.join(dir, 'a', 'b', 'c.txt');
    await expect(safeWriteFile(f, 'x')).rejects.toThrow(/the folder .*a\/b does not exist/);
    await safeWriteFile(f, 'x', { mkdir: true });
    expect(readFileSync(f, 'utf8')).toBe('x');
    const blocker = path.join(dir, 'file');
    writeFileSync(blocker, '');
    await expect(safeWriteFile(path.join(blocker, 'x.txt'), 'x', { mkdir: true })).rejects.toBeInstanceOf(FileWriteError);
  });

  it('names its temp file after the target, in the same folder', () => {
    const t = tempPathFor('/some/dir/index.json');
    expect(path.dirname(t)).toBe('/some/dir');
    expect(path.basename(t)).toMatch(new RegExp(`^\\.index\\.json\\.${process.pid}-[0-9a-f]{8}\\.tmp$`));
  });
});

describe('safeWriteFileSync', () => {
  it.skipIf(!canMakeFifo)('has the same checks' + NO_FIFO, () => {
    const dir = fresh();
    const f = path.join(dir, 'config.json');
    safeWriteFileSync(f, '{}');
    expect(readFileSync(f, 'utf8')).toBe('{}');
    const fifo = path.join(dir, 'fifo');
    makeFifo(fifo);
    expect(() => safeWriteFileSync(fifo, '{}')).toThrow(/named pipe/);
    expect(temps(dir)).toEqual([]);
  });
});

describe('commitTempFile', () => {
  it('moves a finished temp file into place and refuses non-regular targets, keeping the temp', async () => {
    const dir = fresh();
    const part = path.join(dir, 'weights.bin.part');
    writeFileSync(part, 'data');
    await commitTempFile(part, path.join(dir, 'weights.bin'));
    expect(readFileSync(path.join(dir, 'weights.bin'), 'utf8')).toBe('data');
    expect(existsSync(part)).toBe(false);
    writeFileSync(part, 'data2');
    mkdirSync(path.join(dir, 'other.bin'));
    await expect(commitTempFile(part, path.join(dir, 'other.bin'))).rejects.toThrow(/it is a folder/);
    expect(readFileSync(part, 'utf8')).toBe('data2');
  });
});
