/**
 * The library folder: one PNG per item (each with the item's JSON in an iTXt chunk) and an
 * `index.json`, newest first. The index is written atomically (temp file + rename), so a crash
 * mid-write leaves the previous index; an index that is missing or unreadable is rebuilt from the
 * PNGs. Image files are written before the index entry, so the index never points at a missing file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, open } from 'node:fs/promises';
import path from 'node:path';
import { LibraryFileSchema, LibraryIndexSchema, LibraryItemSchema, type LibraryIndex, type LibraryItem } from '../../shared/ipc/library.js';
import { addPngText, isPng, readPngText } from './png-text.js';

export const ITEM_CHUNK_KEY = 'inversion-studio-item';
const INDEX_FILE = 'index.json';

/** Write `data` to `file` atomically: a temp file in the same folder, fsync, rename. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** New sortable, file-name-safe id: time + randomness. */
export function newItemId(now = new Date()): string {
  const t = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
    .replace('T', '-');
  return `${t}-${randomBytes(4).toString('hex')}`;
}

/**
 * Resolve a library file name to its absolute path, or undefined when the name is not a plain
 * file name inside the library (path traversal, separators, absolute paths, odd characters).
 */
export function resolveLibraryFile(libraryDir: string, name: string): string | undefined {
  if (!LibraryFileSchema.safeParse(name).success) return undefined;
  const root = path.resolve(libraryDir);
  const full = path.resolve(root, name);
  if (path.dirname(full) !== root) return undefined;
  return full;
}

export class Library {
  readonly dir: string;
  private index: LibraryIndex | undefined;
  /** Serialises index updates within this process. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  private async load(): Promise<LibraryIndex> {
    if (this.index) return this.index;
    await mkdir(this.dir, { recursive: true });
    try {
      const parsed = LibraryIndexSchema.safeParse(JSON.parse(await readFile(path.join(this.dir, INDEX_FILE), 'utf8')));
      if (parsed.success) {
        this.index = parsed.data;
        return this.index;
      }
    } catch {
      // missing or unreadable: rebuild below
    }
    this.index = await this.rebuild();
    return this.index;
  }

  /** Reconstruct the index from the item chunks embedded in the library's PNGs. */
  async rebuild(): Promise<LibraryIndex> {
    const items: LibraryItem[] = [];
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (!name.endsWith('.png') || name.startsWith('.')) continue;
      try {
        const buf = await readFile(path.join(this.dir, name));
        if (!isPng(buf)) continue;
        const json = readPngText(buf).get(ITEM_CHUNK_KEY);
        if (!json) continue;
        const item = LibraryItemSchema.safeParse(JSON.parse(json));
        if (item.success && item.data.file === name) items.push(item.data);
      } catch {
        // skip unreadable files
      }
    }
    items.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
    const index: LibraryIndex = { version: 1, items };
    await writeFileAtomic(path.join(this.dir, INDEX_FILE), JSON.stringify(index, null, 1));
    return index;
  }

  async list(
    filter: { kind?: LibraryItem['kind']; offset?: number; limit?: number } = {},
  ): Promise<{ items: LibraryItem[]; total: number }> {
    const index = await this.load();
    const all = filter.kind ? index.items.filter((i) => i.kind === filter.kind) : index.items;
    const offset = filter.offset ?? 0;
    return { items: all.slice(offset, offset + (filter.limit ?? 200)), total: all.length };
  }

  async get(id: string): Promise<LibraryItem | undefined> {
    return (await this.load()).items.find((i) => i.id === id);
  }

  /** Absolute path of a library file (validated name), or undefined. */
  filePath(name: string): string | undefined {
    return resolveLibraryFile(this.dir, name);
  }

  /** Store an extra file (e.g. an inversion's target or a candidate image) under a fresh name. */
  async writeFile(stem: string, ext: 'png' | 'jpg' | 'webp', data: Uint8Array): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const name = `${stem}.${ext}`;
    const full = this.filePath(name);
    if (!full) throw new Error(`invalid library file name '${name}'`);
    await writeFileAtomic(full, data);
    return name;
  }

  /**
   * Add an item: writes its PNG (with the item JSON embedded) and then the index entry.
   * `png` is the item's image; `item.file` must be `<item.id>.png`.
   */
  async add(item: LibraryItem, png: Uint8Array): Promise<LibraryItem> {
    const checked = LibraryItemSchema.parse(item);
    const full = this.filePath(checked.file);
    if (!full) throw new Error(`invalid library file name '${checked.file}'`);
    return this.serial(async () => {
      const index = await this.load();
      await writeFileAtomic(full, addPngText(png, { [ITEM_CHUNK_KEY]: JSON.stringify(checked) }));
      const next: LibraryIndex = { version: 1, items: [checked, ...index.items.filter((i) => i.id !== checked.id)] };
      await writeFileAtomic(path.join(this.dir, INDEX_FILE), JSON.stringify(next, null, 1));
      this.index = next;
      return checked;
    });
  }

  async remove(id: string): Promise<LibraryItem | undefined> {
    return this.serial(async () => {
      const index = await this.load();
      const item = index.items.find((i) => i.id === id);
      if (!item) return undefined;
      const next: LibraryIndex = { version: 1, items: index.items.filter((i) => i.id !== id) };
      await writeFileAtomic(path.join(this.dir, INDEX_FILE), JSON.stringify(next, null, 1));
      this.index = next;
      const files = new Set([item.file]);
      if (item.kind === 'inversion') {
        files.add(item.inversion.targetFile);
        for (const c of item.inversion.candidates) if (c.file) files.add(c.file);
      }
      for (const f of files) {
        const p = this.filePath(f);
        if (p) await rm(p, { force: true });
      }
      return item;
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}
