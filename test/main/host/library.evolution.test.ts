/**
 * The library and its `evolution/` sub-folder: which session images resolveLibraryFile serves
 * (exactly `evolution/<session>/images|thumbs/<file>.png`, nothing else, no way out of the folder),
 * that item files stay flat, and that a folder without an index is adopted with a sub-folder laid
 * out as evolution sessions (even one with a damaged session file) but not with anything else.
 * The same names through the web bridge's /library/ route and Electron's studio-image:// are in
 * web-bridge.evolution.test.ts and test/main/app/security.evolution.test.ts.
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLibraryFolder, Library, resolveLibraryFile } from '../../../src/main/host/library.js';
import { isOwnEvolutionFolder } from '../../../src/main/host/evolution-folder.js';
import { BAD_SESSION_NAMES } from './evolution-paths.js';

const lib = path.resolve('/data/library');

describe('resolveLibraryFile and session images', () => {
  it('serves exactly evolution/<session>/images|thumbs/<file>.png inside the library folder', () => {
    expect(resolveLibraryFile(lib, 'evolution/evo-1/images/g0-00.png')).toBe(path.join(lib, 'evolution', 'evo-1', 'images', 'g0-00.png'));
    expect(resolveLibraryFile(lib, 'evolution/evo-1/thumbs/g3-r1.png')).toBe(path.join(lib, 'evolution', 'evo-1', 'thumbs', 'g3-r1.png'));
    expect(resolveLibraryFile(lib, 'evolution/a..b/images/x..y.png')).toBe(path.join(lib, 'evolution', 'a..b', 'images', 'x..y.png'));
    expect(resolveLibraryFile(lib, 'abc.png')).toBe(path.join(lib, 'abc.png')); // plain names as before
    for (const bad of BAD_SESSION_NAMES) expect(resolveLibraryFile(lib, bad), bad).toBeUndefined();
  });

  it("item files stay flat: the library never reads or writes a session image as an item's file", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lib-evo-'));
    const library = new Library(dir);
    expect(library.filePath('evolution/evo-1/images/g0-00.png')).toBeUndefined();
    await expect(library.writeFile('evolution/evo-1/images/g0-00', 'png', new Uint8Array([1]))).rejects.toThrow(
      /invalid library file name/,
    );
  });
});

describe('adopting a folder with an evolution/ sub-folder', () => {
  const session = (root: string, id: string, files: Record<string, string> = { 'session.json': '{}' }) => {
    const d = path.join(root, 'evolution', id);
    for (const sub of ['images', 'thumbs']) mkdirSync(path.join(d, sub), { recursive: true });
    writeFileSync(path.join(d, 'images', 'g0-00.png'), 'png');
    for (const [name, body] of Object.entries(files)) writeFileSync(path.join(d, name), body);
    return d;
  };

  it('adopts a folder of images and evolution sessions (a damaged session file included), and opens it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lib-evo-'));
    writeFileSync(path.join(dir, 'photo.png'), 'not really a png');
    session(dir, 'evo-1');
    session(dir, 'evo-2', { 'session.json': '{"format": "inversion-studio-evo' }); // truncated
    session(dir, 'evo-3', {}); // a start that never wrote its session file
    writeFileSync(path.join(dir, 'evolution', '.tmp-x'), '');
    expect(await isOwnEvolutionFolder(path.join(dir, 'evolution'))).toBe(true);
    await expect(checkLibraryFolder(dir)).resolves.toBeUndefined();
    await expect(new Library(dir).list()).resolves.toMatchObject({ total: 0 });
  });

  it('refuses a folder whose evolution/ holds anything else, or is a link', async () => {
    const cases: [string, (root: string) => void][] = [
      ['a file in evolution/', (r) => writeFileSync(path.join(r, 'evolution', 'notes.txt'), 'x')],
      ['a foreign file in a session', (r) => writeFileSync(path.join(r, 'evolution', 'evo-1', 'model.ckpt'), 'x')],
      ['a foreign folder in a session', (r) => mkdirSync(path.join(r, 'evolution', 'evo-1', 'checkpoints'))],
      ['session.json as a folder', (r) => mkdirSync(path.join(r, 'evolution', 'evo-9', 'session.json'), { recursive: true })],
      ['a session folder named oddly', (r) => mkdirSync(path.join(r, 'evolution', 'my session'))],
    ];
    for (const [what, spoil] of cases) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'lib-evo-'));
      session(dir, 'evo-1');
      spoil(dir);
      await expect(checkLibraryFolder(dir), what).rejects.toThrow(/not an Inversion Studio library.*evolution/);
    }
    const linked = mkdtempSync(path.join(os.tmpdir(), 'lib-evo-'));
    const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'lib-evo-target-'));
    symlinkSync(elsewhere, path.join(linked, 'evolution'));
    await expect(checkLibraryFolder(linked)).rejects.toThrow(/not an Inversion Studio library.*evolution/);
  });
});
