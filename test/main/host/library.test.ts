import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { LibraryItem } from '../../../src/shared/ipc/library.js';
import { Library, newItemId, resolveLibraryFile, ITEM_CHUNK_KEY } from '../../../src/main/host/library.js';
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

  it('rebuilds a corrupt or missing index from the PNGs', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lib-'));
    const lib = new Library(dir);
    await lib.add(genItem('a1', '2024-01-01T00:00:00.000Z'), await png(1));
    await lib.add(genItem('b2', '2024-01-02T00:00:00.000Z'), await png(2));
    writeFileSync(path.join(dir, 'index.json'), '{"version":1,"items":[{"trunc');
    expect((await new Library(dir).list()).items.map((i) => i.id)).toEqual(['b2', 'a1']);
    expect(JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')).items).toHaveLength(2);
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
