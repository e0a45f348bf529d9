/**
 * Cache layout (all under one root, see `resolveCacheDir`):
 *
 *   <root>/models/<id>/...        model files at their repo paths (a symlink/junction for linked imports)
 *   <root>/registry/<id>.json     install record; written last, so its presence means "complete"
 *
 * Records live outside the model folders so that a linked import never writes into the user's folder.
 */
import { readdir, readFile, rm, stat, lstat, realpath } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { EngineError } from '../errors.js';
import { safeWriteFile } from '../io/safe-write.js';
import { sweepStaleTemps, TEMP_NAME_PATTERNS } from '../io/temp-files.js';
import { MODEL_ID_PATTERN, MODEL_KINDS, type Manifest, type ModelKind } from './manifest-schema.js';
import { loadManifests } from './shipped-manifests.js';

export const APP_DIR_NAME = 'inversion-studio';

/**
 * Per-OS default cache root: `$XDG_CACHE_HOME` or `~/.cache` on Linux, `%LOCALAPPDATA%` on Windows,
 * `~/Library/Caches` on macOS; always `<that>/inversion-studio`.
 */
export function defaultCacheDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home: string = os.homedir(),
): string {
  if (platform === 'win32') {
    const base = env.LOCALAPPDATA || path.win32.join(home, 'AppData', 'Local');
    return path.win32.join(base, APP_DIR_NAME);
  }
  if (platform === 'darwin') return path.posix.join(home, 'Library', 'Caches', APP_DIR_NAME);
  const xdg = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.posix.join(home, '.cache');
  return path.posix.join(xdg, APP_DIR_NAME);
}

/** Explicit option > INVERSION_STUDIO_CACHE > per-OS default. */
export function resolveCacheDir(option?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (option) return path.resolve(option);
  if (env.INVERSION_STUDIO_CACHE) return path.resolve(env.INVERSION_STUDIO_CACHE);
  return defaultCacheDir(env);
}

export function assertModelName(name: string): void {
  if (!MODEL_ID_PATTERN.test(name)) {
    throw new EngineError('INVALID_ARGUMENT', `'${name}' is not a valid model name: use 1-64 characters a-z, 0-9, '.', '_' or '-', starting with a letter or digit.`);
  }
}

/** Folder of model `id` inside the cache. */
export function modelDir(cacheDir: string, id: string): string {
  assertModelName(id);
  return path.join(cacheDir, 'models', id);
}

function recordPath(cacheDir: string, id: string): string {
  assertModelName(id);
  return path.join(cacheDir, 'registry', `${id}.json`);
}

const installRecordSchema = z.object({
  id: z.string(),
  kind: z.enum(MODEL_KINDS),
  source: z.enum(['download', 'import', 'generated']),
  installedAt: z.string(),
  hubRepo: z.string().optional(),
  revision: z.string().optional(),
  /** Manifest this install satisfies (a download, or an import named like a manifest). */
  manifestId: z.string().optional(),
  /** For imports: the folder the user pointed at; `link` says whether models/<id> is a link to it. */
  importedFrom: z.string().optional(),
  link: z.boolean().optional(),
  /** Files with their verified sizes and sha256 (downloads only; imports are not hashed). */
  files: z.array(z.object({ path: z.string(), size: z.number(), sha256: z.string().optional() })).optional(),
});
export type InstallRecord = z.infer<typeof installRecordSchema>;

/** Writes the install record atomically (temp + rename); call it only once every file is in place. */
export async function writeInstallRecord(cacheDir: string, rec: InstallRecord): Promise<void> {
  const file = recordPath(cacheDir, rec.id);
  await safeWriteFile(file, JSON.stringify(installRecordSchema.parse(rec), null, 2) + '\n', { mkdir: true, what: 'the install record' });
}

/** `<cache>/tmp`: temporary files of the engine (session models); same file system as the models. */
export function cacheTempDir(cacheDir: string): string {
  return path.join(cacheDir, 'tmp');
}

/** Legacy install-record temp names (`<id>.json.<pid>.tmp`, before safe-write). */
const LEGACY_RECORD_TEMP = /^[a-z0-9][a-z0-9._-]*\.json\.(\d+)\.tmp$/;

/**
 * Remove what dead processes left in a cache: session models under `tmp/`, demo sets being
 * generated and folders being imported under `models/`, install-record temps under `registry/`.
 * Never throws; returns the paths removed (relative to the cache).
 */
export async function sweepCache(cacheDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ['tmp', 'models', 'registry']) {
    const patterns = sub === 'registry' ? [...TEMP_NAME_PATTERNS, LEGACY_RECORD_TEMP] : TEMP_NAME_PATTERNS;
    for (const name of await sweepStaleTemps(path.join(cacheDir, sub), { patterns })) out.push(`${sub}/${name}`);
  }
  return out;
}

export async function readInstallRecord(cacheDir: string, id: string): Promise<InstallRecord | undefined> {
  let text: string;
  try {
    text = await readFile(recordPath(cacheDir, id), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const r = installRecordSchema.safeParse(JSON.parse(text));
  // A damaged record means "not installed"; the next download rewrites it.
  return r.success ? r.data : undefined;
}

export async function removeInstallRecord(cacheDir: string, id: string): Promise<void> {
  await rm(recordPath(cacheDir, id), { force: true });
}

async function allRecords(cacheDir: string): Promise<InstallRecord[]> {
  let names: string[];
  try {
    names = await readdir(path.join(cacheDir, 'registry'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: InstallRecord[] = [];
  for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
    const id = n.slice(0, -'.json'.length);
    if (!MODEL_ID_PATTERN.test(id)) continue;
    const rec = await readInstallRecord(cacheDir, id);
    if (rec) out.push(rec);
  }
  return out;
}

export type ModelStatus = 'installed' | 'partial' | 'available' | 'broken-link';

export interface ModelListing {
  id: string;
  title: string;
  kind: ModelKind;
  status: ModelStatus;
  /** Where the files are (or would go). */
  path: string;
  source: 'manifest' | 'download' | 'import' | 'generated';
  hubRepo?: string;
  revision?: string;
  /** For linked imports: the folder the link points at. */
  linkedTo?: string;
  /** Bytes of the model's files on disk (partial downloads count their .part files). */
  bytesOnDisk: number;
  /** Expected total from the manifest (exact sizes, else size hints), if there is one. */
  expectedBytes?: number;
}

async function duBytes(dir: string): Promise<number> {
  let total = 0;
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await duBytes(p);
    else if (e.isFile()) total += (await stat(p)).size;
  }
  return total;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Every model the app knows: each manifest (installed, partially downloaded or available) plus every
 * imported or generated model without a manifest. Sorted by id. `manifests` defaults to the shipped ones.
 */
export async function listModels(cacheDir: string, manifests?: Manifest[]): Promise<ModelListing[]> {
  manifests ??= await loadManifests();
  const records = new Map((await allRecords(cacheDir)).map((r) => [r.id, r]));
  const out: ModelListing[] = [];
  const describe = async (id: string): Promise<{ dir: string; linkedTo?: string; broken: boolean; bytes: number }> => {
    const dir = modelDir(cacheDir, id);
    let linkedTo: string | undefined;
    let broken = false;
    try {
      const st = await lstat(dir);
      if (st.isSymbolicLink()) {
        try {
          linkedTo = await realpath(dir);
        } catch {
          broken = true;
        }
      }
    } catch {
      /* absent */
    }
    return { dir, linkedTo, broken, bytes: broken ? 0 : await duBytes(dir) };
  };
  for (const m of manifests) {
    const rec = records.get(m.id);
    records.delete(m.id);
    const d = await describe(m.id);
    let status: ModelStatus;
    if (d.broken) status = 'broken-link';
    else if (rec && (await exists(d.dir))) status = 'installed';
    else status = d.bytes > 0 ? 'partial' : 'available';
    const expected = m.files.reduce((s, f) => s + (f.size ?? f.sizeHint ?? 0), 0);
    out.push({
      id: m.id,
      title: m.title,
      kind: m.kind,
      status,
      path: d.dir,
      source: rec?.source ?? 'manifest',
      hubRepo: m.hubRepo,
      revision: m.revision,
      linkedTo: d.linkedTo,
      bytesOnDisk: d.bytes,
      expectedBytes: expected || undefined,
    });
  }
  for (const rec of records.values()) {
    const d = await describe(rec.id);
    out.push({
      id: rec.id,
      title: rec.importedFrom ? `imported from ${rec.importedFrom}` : rec.id,
      kind: rec.kind,
      status: d.broken ? 'broken-link' : (await exists(d.dir)) ? 'installed' : 'partial',
      path: d.dir,
      source: rec.source,
      hubRepo: rec.hubRepo,
      revision: rec.revision,
      linkedTo: d.linkedTo,
      bytesOnDisk: d.bytes,
    });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/** Path of an installed model's folder, or NOT_INSTALLED saying how to get it. */
export async function installedModelDir(cacheDir: string, id: string): Promise<string> {
  const rec = await readInstallRecord(cacheDir, id);
  const dir = modelDir(cacheDir, id);
  if (!rec || !(await exists(dir))) {
    throw new EngineError(
      'NOT_INSTALLED',
      `model '${id}' is not installed in ${cacheDir}. Run \`inversion-studio models download ${id}\`, or \`inversion-studio models import DIR --name ${id}\` to use a local folder.`,
    );
  }
  return dir;
}
