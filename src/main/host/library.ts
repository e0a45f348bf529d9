/**
 * The library folder: one PNG per item (each with the item's JSON in an iTXt chunk) and an
 * `index.json`, newest first. Every file goes through safeWriteFile (temp file, fsync, rename,
 * folder fsync), so a crash mid-write leaves the previous version; image files are written before
 * the index entry, so the index never points at a file that was not written.
 *
 * Opening a folder (the first call that needs the index):
 * - the index must be ours: `{ format: 'inversion-studio-library', version: 1, items }` (or the
 *   unstamped `{ version: 1, items }` of earlier versions, rewritten stamped on the next change).
 *   Another program's `index.json` is never touched: LibraryFolderError. A folder without an index
 *   is adopted only when it holds nothing but images (and hidden files) and the studio's own
 *   sub-folders (`evaluations/`, and `evolution/` when laid out as evolution sessions are);
 * - an index of ours that is unreadable or fails the schema is moved aside
 *   (`index.json.corrupt-<time>`), the index is rebuilt from the PNGs, and a notice says so;
 * - the index is reconciled with the PNGs on disk: item PNGs that are not indexed (a crash
 *   between the PNG and the index write) are re-indexed from their embedded JSON, entries whose
 *   image is gone are dropped, and stale temp files of dead writers are removed.
 */
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { EngineError } from '../engine/errors.js';
import { safeWriteFile } from '../engine/io/safe-write.js';
import { PROCESS_START_MS, SAFE_WRITE_TEMP_PATTERNS, sweepStaleTemps } from '../engine/io/temp-files.js';
import { LibraryFileSchema, LibraryIndexSchema, LibraryItemSchema, type LibraryIndex, type LibraryItem } from '../../shared/ipc/library.js';
import { MAX_LIST_ITEMS } from '../../shared/ipc/limits.js';
import { EVOLUTION_FOLDER, parseEvolutionFile } from '../../shared/ipc/evolution.js';
import { isOwnEvolutionFolder } from './evolution-folder.js';
import { publishNotice, type NoticeInput } from './notices.js';
import { addPngText, isPng, readPngText } from './png-text.js';

export const ITEM_CHUNK_KEY = 'inversion-studio-item';
const INDEX_FILE = 'index.json';
/** The stamp of our index files. */
export const LIBRARY_INDEX_FORMAT = 'inversion-studio-library';

/** `index.json` as written since the format stamp (LibraryIndex plus `format`). */
const IndexFileSchema = z.strictObject({
  format: z.literal(LIBRARY_INDEX_FORMAT),
  version: z.literal(1),
  items: z.array(LibraryItemSchema).max(MAX_LIST_ITEMS * 10),
});

/** Leftover images of an interrupted save (`<item id>-target.png`, `-c<N>.png`, an edit's `-source.png`) older than this are removed. */
const PARTIAL_SAVE_MAX_AGE_MS = 3600 * 1000;
const ITEM_ID_PATTERN = /^\d{8}-\d{6}Z-[0-9a-f]{8}$/;

/** The library folder cannot be used as it is (someone else's index, a file in the way); nothing was changed. */
export class LibraryFolderError extends EngineError {
  constructor(message: string) {
    super('FILE', message);
    this.name = 'LibraryFolderError';
  }
}

/**
 * Write `data` to `file` atomically (kept for callers of earlier versions; same as
 * safeWriteFile without creating folders).
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await safeWriteFile(file, data);
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

/** A plain library file name (`<id>.png`) to its absolute path inside the library folder, or undefined. */
function resolveFlatLibraryFile(libraryDir: string, name: string): string | undefined {
  if (!LibraryFileSchema.safeParse(name).success) return undefined;
  const root = path.resolve(libraryDir);
  const full = path.resolve(root, name);
  if (path.dirname(full) !== root) return undefined;
  return full;
}

/**
 * Resolve a library file name to its absolute path, or undefined when the name is neither a plain
 * file name inside the library nor an evolution session image `evolution/<session>/images|thumbs/<file>.png`
 * (path traversal, other separators, absolute paths, other sub-folders, odd characters).
 */
export function resolveLibraryFile(libraryDir: string, name: string): string | undefined {
  const flat = resolveFlatLibraryFile(libraryDir, name);
  if (flat) return flat;
  const parts = parseEvolutionFile(name);
  if (!parts) return undefined;
  const root = path.resolve(libraryDir);
  const folder = path.join(root, EVOLUTION_FOLDER, parts.session, parts.folder);
  const full = path.resolve(folder, parts.file);
  // Each part is a plain name (letters, digits, . _ -, starting with a letter or digit): it cannot leave its folder.
  if (path.dirname(full) !== folder || path.basename(full) !== parts.file) return undefined;
  return full;
}

/** `<name>.corrupt-<time>`: where a damaged file is moved (time in the file-name-safe ISO form). */
export function corruptBackupPath(file: string, now = new Date()): string {
  return `${file}.corrupt-${now.toISOString().replace(/[:.]/g, '-')}`;
}

const IMAGE_FILE = /\.(png|jpe?g|webp)$/i;
const isOwnEntry = (name: string): boolean =>
  name.startsWith('.') || name === INDEX_FILE || name.startsWith(`${INDEX_FILE}.corrupt-`) || IMAGE_FILE.test(name);

type IndexState = { kind: 'missing' } | { kind: 'ok'; index: LibraryIndex; legacy: boolean } | { kind: 'corrupt'; reason: string };

/** Entries of `dir` that a library folder would not contain (for the "not a library" error). */
async function foreignEntries(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  // `evaluations/` holds the studio's evaluation runs (evaluations.ts): the library's own.
  const ownDir = (e: { name: string; isDirectory(): boolean }) => e.isDirectory() && (e.name.startsWith('.') || e.name === 'evaluations');
  const foreign = entries.filter((e) => (e.isDirectory() ? !ownDir(e) : !isOwnEntry(e.name))).map((e) => e.name);
  // `evolution/` holds the studio's evolution sessions (evolutions.ts) when it is laid out as they are.
  if (foreign.includes(EVOLUTION_FOLDER) && (await isOwnEvolutionFolder(path.join(dir, EVOLUTION_FOLDER))))
    return foreign.filter((n) => n !== EVOLUTION_FOLDER);
  return foreign;
}

function listSome(names: string[]): string {
  const shown = names.slice(0, 5).join(', ');
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}

/** The library folder itself: missing (fine), a folder (fine), anything else (an error). */
async function checkFolder(dir: string): Promise<'missing' | 'folder'> {
  let st: Stats;
  try {
    st = await stat(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'missing';
    if (code === 'ENOTDIR') throw new LibraryFolderError(`the library folder ${dir} cannot be created: a part of its path is a file.`);
    throw new LibraryFolderError(`the library folder ${dir} cannot be opened: ${(e as Error).message}`);
  }
  if (!st.isDirectory())
    throw new LibraryFolderError(`the library folder ${dir} is a file, not a folder; choose a folder for the library.`);
  return 'folder';
}

/** Classify `dir/index.json` without changing anything. Throws LibraryFolderError when it is not ours. */
async function readIndexState(dir: string): Promise<IndexState> {
  const file = path.join(dir, INDEX_FILE);
  let st: Stats;
  try {
    st = await lstat(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      const foreign = await foreignEntries(dir);
      if (foreign.length)
        throw new LibraryFolderError(
          `${dir} is not an Inversion Studio library: it has no ${INDEX_FILE} and holds other files (${listSome(foreign)}). ` +
            'Choose an empty folder, an existing library, or a folder of images only.',
        );
      return { kind: 'missing' };
    }
    throw new LibraryFolderError(`cannot read the library index ${file}: ${(e as Error).message}`);
  }
  if (!st.isFile()) {
    const kind = st.isDirectory() ? 'a folder' : st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file';
    throw new LibraryFolderError(
      `the library index ${file} is ${kind}, not a file; move it away (the library would otherwise overwrite it) or choose another library folder.`,
    );
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new LibraryFolderError(`cannot read the library index ${file}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    // Unreadable JSON: ours (truncated by a crash of an old version, a full disk...) when the folder
    // holds nothing but library files; otherwise it may be another program's.
    const foreign = await foreignEntries(dir);
    if (foreign.length)
      throw new LibraryFolderError(
        `${file} is not valid JSON and ${dir} holds files a library does not (${listSome(foreign)}): it does not look like an Inversion Studio library, so nothing was changed. Choose another library folder.`,
      );
    return { kind: 'corrupt', reason: `it is not valid JSON (${(e as Error).message})` };
  }
  const obj = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
  if (obj?.format === LIBRARY_INDEX_FORMAT) {
    if (obj.version !== 1)
      throw new LibraryFolderError(
        `${file} was written by another version of Inversion Studio (index version ${String(obj.version)}); this version reads version 1 and leaves it untouched.`,
      );
    const parsed = IndexFileSchema.safeParse(raw);
    if (parsed.success) return { kind: 'ok', index: { version: 1, items: parsed.data.items }, legacy: false };
    return { kind: 'corrupt', reason: `it fails the index schema (${firstIssue(parsed.error)})` };
  }
  if (obj && obj.format === undefined && obj.version === 1 && Array.isArray(obj.items)) {
    const parsed = LibraryIndexSchema.safeParse(raw);
    if (parsed.success) return { kind: 'ok', index: parsed.data, legacy: true };
    return { kind: 'corrupt', reason: `it fails the index schema (${firstIssue(parsed.error)})` };
  }
  throw new LibraryFolderError(
    `${file} is not an Inversion Studio library index (no "format": "${LIBRARY_INDEX_FORMAT}" stamp); it may belong to another program, so it was left untouched. Choose another library folder.`,
  );
}

function firstIssue(e: z.ZodError): string {
  const i = e.issues[0];
  return i ? `${i.path.join('.') || 'top level'}: ${i.message}` : 'invalid';
}

/**
 * Throws LibraryFolderError when `dir` cannot be used as a library (a file in the way, another
 * program's index.json, a folder of unrelated files). Changes nothing: shells call it on start
 * to fail with a clear message before the engine touches the folder.
 */
export async function checkLibraryFolder(dir: string): Promise<void> {
  const root = path.resolve(dir);
  if ((await checkFolder(root)) === 'missing') return;
  await readIndexState(root);
}

export interface LibraryOptions {
  /** Receives notices (damaged index moved aside, items re-indexed); default: publishNotice. */
  onNotice?: (n: NoticeInput) => void;
}

/** Item PNG -> its embedded item, when the file is one of ours (the JSON names this very file). */
async function itemFromPng(dir: string, name: string): Promise<LibraryItem | undefined> {
  try {
    const buf = await readFile(path.join(dir, name));
    if (!isPng(buf)) return undefined;
    const json = readPngText(buf).get(ITEM_CHUNK_KEY);
    if (!json) return undefined;
    const item = LibraryItemSchema.safeParse(JSON.parse(json));
    return item.success && item.data.file === name ? item.data : undefined;
  } catch {
    return undefined;
  }
}

const newestFirst = (a: LibraryItem, b: LibraryItem): number => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0);

function filesOf(item: LibraryItem): string[] {
  const files = [item.file];
  if (item.kind === 'generation' && item.edit) files.push(item.edit.sourceFile);
  if (item.kind === 'inversion') {
    files.push(item.inversion.targetFile);
    for (const c of item.inversion.candidates) if (c.file) files.push(c.file);
  }
  return files;
}

export class Library {
  readonly dir: string;
  private index: LibraryIndex | undefined;
  private opening: Promise<LibraryIndex> | undefined;
  private readonly notify: (n: NoticeInput) => void;
  /** Serialises index updates within this process. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(dir: string, opts: LibraryOptions = {}) {
    this.dir = path.resolve(dir);
    this.notify = opts.onNotice ?? ((n) => void publishNotice(n));
  }

  private get indexFile(): string {
    return path.join(this.dir, INDEX_FILE);
  }

  private load(): Promise<LibraryIndex> {
    if (this.index) return Promise.resolve(this.index);
    this.opening ??= this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async open(): Promise<LibraryIndex> {
    if ((await checkFolder(this.dir)) === 'missing') {
      try {
        await mkdir(this.dir, { recursive: true });
      } catch (e) {
        throw new LibraryFolderError(`cannot create the library folder ${this.dir}: ${(e as Error).message}`);
      }
    }
    await sweepStaleTemps(this.dir, { patterns: SAFE_WRITE_TEMP_PATTERNS });
    const state = await readIndexState(this.dir);
    let index: LibraryIndex;
    if (state.kind === 'ok') {
      index = await this.reconcile(state.index, state.legacy);
    } else {
      if (state.kind === 'corrupt') {
        const movedTo = corruptBackupPath(this.indexFile);
        await rename(this.indexFile, movedTo);
        const rebuilt = await this.rebuild();
        this.notify({
          source: 'library',
          level: 'warning',
          file: this.indexFile,
          movedTo,
          message: `The library index ${this.indexFile} was damaged (${state.reason}); it was moved to ${path.basename(movedTo)} and the index was rebuilt from the ${rebuilt.items.length} images in the folder.`,
        });
        index = rebuilt;
      } else {
        index = await this.rebuild();
      }
      await this.removePartialSaves(new Set(index.items.map((i) => i.id)));
    }
    this.index = index;
    return index;
  }

  /** Re-index item PNGs missing from the index, drop entries whose image is gone, remove leftovers. */
  private async reconcile(index: LibraryIndex, legacy: boolean): Promise<LibraryIndex> {
    const names = new Set(await readdir(this.dir));
    const kept = index.items.filter((i) => names.has(i.file));
    const dropped = index.items.length - kept.length;
    const referenced = new Set(kept.flatMap(filesOf));
    const ids = new Set(kept.map((i) => i.id));
    const found: LibraryItem[] = [];
    for (const name of names) {
      if (name.startsWith('.') || !name.endsWith('.png') || referenced.has(name)) continue;
      const item = await itemFromPng(this.dir, name);
      if (item && !ids.has(item.id)) {
        found.push(item);
        ids.add(item.id);
      }
    }
    await this.removePartialSaves(ids);
    if (!found.length && !dropped && !legacy) return index;
    const next: LibraryIndex = { version: 1, items: [...kept, ...found].sort(newestFirst) };
    await this.writeIndex(next);
    if (found.length || dropped) {
      const parts = [
        ...(found.length ? [`${found.length} image(s) that were saved but not indexed (an interrupted save) were added back`] : []),
        ...(dropped ? [`${dropped} entr${dropped === 1 ? 'y whose image is' : 'ies whose images are'} gone were removed`] : []),
      ];
      this.notify({ source: 'library', level: 'warning', file: this.indexFile, message: `Library ${this.dir}: ${parts.join('; ')}.` });
    }
    return next;
  }

  /**
   * Inversion saves write `<id>-target.png` and `<id>-c<N>.png` before the item itself (edits
   * `<id>-source.png`); a crash in between leaves them without an item. Removed once they are old enough not to be another
   * process's save in progress.
   */
  private async removePartialSaves(itemIds: Set<string>): Promise<void> {
    const now = Date.now();
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      const m = /^(.+)-(?:target|c\d+|source)\.png$/.exec(name);
      if (!m || !ITEM_ID_PATTERN.test(m[1]!) || itemIds.has(m[1]!)) continue;
      const full = path.join(this.dir, name);
      const st = await stat(full).catch(() => undefined);
      if (!st || st.mtimeMs >= PROCESS_START_MS || now - st.mtimeMs < PARTIAL_SAVE_MAX_AGE_MS) continue;
      if (await itemFromPng(this.dir, name)) continue;
      await rm(full, { force: true });
    }
  }

  private async writeIndex(index: LibraryIndex): Promise<void> {
    const body = { format: LIBRARY_INDEX_FORMAT, version: index.version, items: index.items };
    await safeWriteFile(this.indexFile, JSON.stringify(body, null, 1), { what: 'the library index' });
  }

  /** Reconstruct the index from the item chunks embedded in the library's PNGs (and write it). */
  async rebuild(): Promise<LibraryIndex> {
    const items: LibraryItem[] = [];
    const seen = new Set<string>();
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (!name.endsWith('.png') || name.startsWith('.')) continue;
      const item = await itemFromPng(this.dir, name);
      if (item && !seen.has(item.id)) {
        items.push(item);
        seen.add(item.id);
      }
    }
    items.sort(newestFirst);
    const index: LibraryIndex = { version: 1, items };
    await this.writeIndex(index);
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

  /** Absolute path of an item's file (a plain, validated name; never a session image), or undefined. */
  filePath(name: string): string | undefined {
    return resolveFlatLibraryFile(this.dir, name);
  }

  /** Store an extra file (e.g. an inversion's target or a candidate image) under a fresh name. */
  async writeFile(stem: string, ext: 'png' | 'jpg' | 'webp', data: Uint8Array): Promise<string> {
    await this.load(); // refuses a folder that is not a library before anything is written
    const name = `${stem}.${ext}`;
    const full = this.filePath(name);
    if (!full) throw new Error(`invalid library file name '${name}'`);
    await safeWriteFile(full, data, { what: 'the library image' });
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
      await safeWriteFile(full, addPngText(png, { [ITEM_CHUNK_KEY]: JSON.stringify(checked) }), { what: 'the library image' });
      const next: LibraryIndex = { version: 1, items: [checked, ...index.items.filter((i) => i.id !== checked.id)] };
      await this.writeIndex(next);
      this.index = next;
      return checked;
    });
  }

  async remove(id: string): Promise<LibraryItem | undefined> {
    return this.serial(async () => {
      const index = await this.load();
      const item = index.items.find((i) => i.id === id);
      if (!item) return undefined;
      // Files first: a crash before the index write leaves an entry without its image, which the
      // next start drops; the other order would leave an item PNG that the next start re-indexes.
      for (const f of new Set(filesOf(item))) {
        const p = this.filePath(f);
        if (p) await rm(p, { force: true });
      }
      const next: LibraryIndex = { version: 1, items: index.items.filter((i) => i.id !== id) };
      await this.writeIndex(next);
      this.index = next;
      return item;
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}
