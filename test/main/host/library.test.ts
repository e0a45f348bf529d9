import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync, utimesSync } from 'node:fs';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { LibraryItem } from '../../../src/shared/ipc/library.js';
import {
  checkLibraryFolder,
  Library,
  LibraryFolderError,
  LIBRARY_INDEX_FORMAT,
  newItemId,
  resolveLibraryFile,
  ITEM_CHUNK_KEY,
} from '../../../src/main/host/library.js';
import type { NoticeInput } from '../../../src/main/host/notices.js';
import { PROCESS_START_MS } from '../../../src/main/engine/io/temp-files.js';
import { deadPid } from '../engine/io/fs-fixtures.js';
import { addPngText, readPngText } from '../../../src/main/host/png-text.js';

const png = (r: number) =>
  sharp({ create: { width: 8, height: 8, channels: 3, background: { r, g: 0, b: 0 } } })
    .png()
    .toBuffer();

function genItem(id: string, createdAt: string): LibraryItem {
  return {
    kind: 'generation',
    id,
    createdAt,
    file: `${id}.png`,
    width: 8,
    height: 8,
    params: {
      prompt: 'a cat',
      negativePrompt: '',
      seed: 1,
      steps: 2,
      scheduler: 'ddim',
      guidance: 7.5,
      width: 64,
      height: 64,
      model: 'demo',
    },
  };
}

describe('png text chunks', () => {
  it('round-trips UTF-8 text and keeps the image decodable', async () => {
    const out = addPngText(await png(10), { a: 'héllo ✓', parameters: 'x\ny' });
    expect(readPngText(out).get('a')).toBe('héllo ✓');
    expect(readPngText(out).get('parameters')).toBe('x\ny');
    expect((await sharp(out).metadata()).width).toBe(8);
  });
});

describe('Library', () => {
  it('adds, lists newest first, gets, removes, and persists across instances', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lib-'));
    const lib = new Library(dir);
    await lib.add(genItem('a1', '2024-01-01T00:00:00.000Z'), await png(1));
    await lib.add(genItem('b2', '2024-01-02T00:00:00.000Z'), await png(2));
    expect((await lib.list()).items.map((i) => i.id)).toEqual(['b2', 'a1']);
    const again = new Library(dir);
    expect((await again.list()).total).toBe(2);
    expect((await again.get('a1'))?.file).toBe('a1.png');
    expect(readPngText(readFileSync(path.join(dir, 'a1.png'))).get(ITEM_CHUNK_KEY)).toContain('"a1"');
    await again.remove('a1');
    expect(existsSync(path.join(dir, 'a1.png'))).toBe(false);
    expect((await new Library(dir).list()).items.map((i) => i.id)).toEqual(['b2']);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('rebuilds a corrupt or missing index from the PNGs, keeping the damaged one aside and saying so', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lib-'));
    const lib = new Library(dir);
    await lib.add(genItem('a1', '2024-01-01T00:00:00.000Z'), await png(1));
    await lib.add(genItem('b2', '2024-01-02T00:00:00.000Z'), await png(2));
    writeFileSync(path.join(dir, 'index.json'), '{"version":1,"items":[{"trunc');
    const notices: NoticeInput[] = [];
    expect((await new Library(dir, { onNotice: (n) => notices.push(n) }).list()).items.map((i) => i.id)).toEqual(['b2', 'a1']);
    const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8'));
    expect(index.items).toHaveLength(2);
    expect(index.format).toBe(LIBRARY_INDEX_FORMAT);
    const backups = readdirSync(dir).filter((f) => f.startsWith('index.json.corrupt-'));
    expect(backups).toHaveLength(1);
    expect(readFileSync(path.join(dir, backups[0]!), 'utf8')).toBe('{"version":1,"items":[{"trunc');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ source: 'library', level: 'warning', movedTo: path.join(dir, backups[0]!) });
    expect(notices[0]!.message).toMatch(/was damaged \(it is not valid JSON.*rebuilt from the 2 images/);
    // A missing index is rebuilt silently.
    rmSync(path.join(dir, 'index.json'));
    expect((await new Library(dir).list()).total).toBe(2);
  });

  it('stamps its index and still reads the unstamped index of earlier versions', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lib-'));
    await new Library(dir).add(genItem('a1', '2024-01-01T00:00:00.000Z'), await png(1));
    const stamped = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8'));
    expect(stamped).toMatchObject({ format: LIBRARY_INDEX_FORMAT, version: 1 });
    writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ version: 1, items: stamped.items }));
    expect((await new Library(dir).list()).items.map((i) => i.id)).toEqual(['a1']);
    expect(JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')).format).toBe(LIBRARY_INDEX_FORMAT);
  });

  it("refuses another program's index.json and never overwrites it", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lib-'));
    const foreign = JSON.stringify({ name: 'photo-app', entries: [1, 2, 3] });
    writeFileSync(path.join(dir, 'index.json'), foreign);
    writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    const lib = new Library(dir);
    await expect(lib.list()).rejects.toBeInstanceOf(LibraryFolderError);
    await expect(lib.list()).rejects.toThrow(/not an Inversion Studio library index .*left untouched/);
    await expect(lib.add(genItem('a1', '2024-01-01T00:00:00.000Z'), await png(1))).rejects.toThrow(/left untouched/);
    await expect(lib.writeFile('x-target', 'png', await png(1))).rejects.toThrow(/left untouched/);
    await expect(checkLibraryFolder(dir)).rejects.toThrow(/left untouched/);
    expect(readFileSync(path.join(dir, 'index.json'), 'utf8')).toBe(foreign);
    expect(readdirSync(dir).sort()).toEqual(['index.json', 'notes.txt']);
    // An array, or unreadable JSON among files a library does not hold: not ours either.
    writeFileSync(path.join(dir, 'index.json'), '[1,2]');
    await expect(new Library(dir).list()).rejects.toThrow(/not an Inversion Studio library index/);
    writeFileSync(path.join(dir, 'index.json'), '{oops');
    await expect(new Library(dir).list()).rejects.toThrow(/does not look like an Inversion Studio library/);
    expect(readFileSync(path.join(dir, 'index.json'), 'utf8')).toBe('{oops');
  });

  it('adopts an empty or image-only folder without an index, refuses one with other files', async () => {
    const images = mkdtempSync(path.join(os.tmpdir(), 'lib-'));
    writeFileSync(path.join(images, 'photo.png'), await png(3));
    writeFileSync(path.join(images, '.DS_Store'), '');
    await checkLibraryFolder(images);
    expect((await new Library(images).list()).total).toBe(0);
    expect(existsSync(path.join(images, 'index.json'))).toBe(true);
    await checkLibraryFolder(path.join(images, 'not-yet'));
    const mixed = mkdtempSync(path.join(os.tmpdir(), 'lib-'));
    writeFileSync(path.join(mixed, 'report.docx'), 'x');
    mkdirSync(path.join(mixed, 'sub'));
    await expect(new Library(mixed).list()).rejects.toThrow(
      /is not an Inversion Studio library: it has no index.json and holds other files \(report\.docx, sub\)/,
    );
    expect(existsSync(path.join(mixed, 'index.json'))).toBe(false);
  });

  it('says so when the index path is a folder or the library path is a file (was a raw EISDIR/EEXIST)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lib-'));
    mkdirSync(path.join(dir, 'index.json'));
    await expect(new Library(dir).list()).rejects.toThrow(/the library index .*index\.json is a folder, not a file/);
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'x');
    await expect(new Library(file).list()).rejects.toThrow(/the library folder .*a-file is a file, not a folder/);
    await expect(new Library(path.join(file, 'lib')).list()).rejects.toThrow(/a part of its path is a file/);
  });

  it('on open re-indexes saved but unindexed PNGs, drops entries whose image is gone, and removes stale temp files', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lib-'));
    const lib = new Library(dir);
    await lib.add(genItem('a1', '2024-01-01T00:00:00.000Z'), await png(1));
    await lib.add(genItem('b2', '2024-01-02T00:00:00.000Z'), await png(2));
    const indexed = readFileSync(path.join(dir, 'index.json'));
    await lib.add(genItem('c3', '2024-01-03T00:00:00.000Z'), await png(3));
    // A crash between the PNG and the index write: c3.png on disk, the old index.
    writeFileSync(path.join(dir, 'index.json'), indexed);
    rmSync(path.join(dir, 'a1.png')); // deleted by hand
    const dead = deadPid();
    const stale = `.index.json.${dead}-0a1b2c3d.tmp`;
    const leftover = '20240101-000000Z-0123abcd-target.png';
    writeFileSync(path.join(dir, stale), 'half');
    writeFileSync(path.join(dir, leftover), await png(4));
    const old = new Date(PROCESS_START_MS - 2 * 3600_000);
    utimesSync(path.join(dir, stale), old, old);
    utimesSync(path.join(dir, leftover), old, old);
    const notices: NoticeInput[] = [];
    const again = new Library(dir, { onNotice: (n) => notices.push(n) });
    expect((await again.list()).items.map((i) => i.id)).toEqual(['c3', 'b2']);
    expect(notices[0]!.message).toMatch(
      /1 image\(s\) that were saved but not indexed .* added back; 1 entry whose image is gone .*removed/,
    );
    expect(existsSync(path.join(dir, stale))).toBe(false);
    expect(existsSync(path.join(dir, leftover))).toBe(false);
    expect(JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')).items.map((i: LibraryItem) => i.id)).toEqual(['c3', 'b2']);
    // Nothing to do on the next open: no notice, index untouched.
    const quiet: NoticeInput[] = [];
    expect((await new Library(dir, { onNotice: (n) => quiet.push(n) }).list()).total).toBe(2);
    expect(quiet).toEqual([]);
  });

  it('resolves only plain file names inside the library', () => {
    const dir = path.resolve('/lib');
    expect(resolveLibraryFile(dir, 'abc.png')).toBe(path.join(dir, 'abc.png'));
    for (const bad of [
      '../x.png',
      '..%2fx.png',
      '/etc/passwd',
      'a/b.png',
      'a\\b.png',
      '.hidden.png',
      'index.json',
      'x.png\0',
      '',
      'x.exe',
      '..',
    ]) {
      expect(resolveLibraryFile(dir, bad), bad).toBeUndefined();
    }
  });

  it('makes sortable unique ids', () => {
    const a = newItemId(new Date('2024-05-06T07:08:09.123Z'));
    expect(a).toMatch(/^20240506-070809Z-[0-9a-f]{8}$/);
    expect(newItemId()).not.toBe(newItemId());
  });
});
