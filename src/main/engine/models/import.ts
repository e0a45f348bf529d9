/**
 * "Point at a local folder instead of downloading" (docs/cli.md, `models import`): validate the folder, then copy it into
 * the cache (atomic: copy to a temp folder, rename) or link it in place, and register it.
 */
import { copyFile, lstat, mkdir, readdir, rename, rm, stat, symlink } from 'node:fs/promises';
import path from 'node:path';
import { EngineError, CancelledError } from '../errors.js';
import { assertModelName, modelDir, readInstallRecord, resolveCacheDir, writeInstallRecord, type InstallRecord } from './cache.js';
import { loadManifests } from './shipped-manifests.js';
import type { Manifest, ModelKind } from './manifest-schema.js';
import { describeModelFolderProblems, validateModelFolder, type ModelFolderReport } from './model-folder.js';

export interface ImportProgress {
  phase: 'validate' | 'copy' | 'register';
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

export interface ImportOptions {
  /** Name in the cache; a manifest id (e.g. `sd15`) makes the import satisfy that manifest. */
  name: string;
  /** Link (symlink; a junction on Windows) instead of copying. The folder must then stay where it is. */
  link?: boolean;
  /** Default: `resolveCacheDir()` (INVERSION_STUDIO_CACHE or the per-OS folder). */
  cacheDir?: string;
  /** Default: the named manifest's kind, else 'diffusion'. */
  kind?: ModelKind;
  /** Known manifests (default: the shipped ones), to check a non-diffusion import against the named manifest's file list. */
  manifests?: Manifest[];
  /** Replace an existing model of the same name. */
  overwrite?: boolean;
  signal?: AbortSignal;
  onProgress?: (e: ImportProgress) => void;
}

export interface ImportResult {
  id: string;
  dir: string;
  kind: ModelKind;
  linked: boolean;
  /** Layout report for diffusion folders. */
  report?: ModelFolderReport;
  record: InstallRecord;
}

const RESERVED = new Set(['demo', 'shapes']);

async function walk(dir: string, rel = ''): Promise<Array<{ rel: string; size: number }>> {
  const out: Array<{ rel: string; size: number }> = [];
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.name === '.git') continue;
    if (e.isDirectory()) out.push(...(await walk(dir, r)));
    else if (e.isFile() || e.isSymbolicLink()) {
      const s = await stat(path.join(dir, ...r.split('/')));
      if (s.isFile()) out.push({ rel: r, size: s.size });
    }
  }
  return out;
}

async function existsL(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Validates `dir` and registers it as model `name` in `cacheDir`. Diffusion folders must pass
 * `validateModelFolder` (EngineError('MODEL_FOLDER') naming the missing files otherwise); other kinds
 * named like a manifest must contain that manifest's non-optional files.
 */
export async function importModelFolder(dir: string, opts: ImportOptions): Promise<ImportResult> {
  assertModelName(opts.name);
  if (RESERVED.has(opts.name)) throw new EngineError('INVALID_ARGUMENT', `'${opts.name}' is reserved for a built-in model set (demo, shapes); choose another name.`);
  const src = path.resolve(dir);
  const srcStat = await stat(src).catch(() => undefined);
  if (!srcStat?.isDirectory()) throw new EngineError('MODEL_FOLDER', `${src} is not a folder. Pass the folder that contains the model files.`);
  const cacheDir = resolveCacheDir(opts.cacheDir);
  const manifest = (opts.manifests ?? (await loadManifests())).find((m) => m.id === opts.name);
  const kind: ModelKind = opts.kind ?? manifest?.kind ?? 'diffusion';

  opts.onProgress?.({ phase: 'validate', files: 0, totalFiles: 0, bytes: 0, totalBytes: 0 });
  let report: ModelFolderReport | undefined;
  if (kind === 'diffusion') {
    report = await validateModelFolder(src);
    if (!report.ok) throw new EngineError('MODEL_FOLDER', describeModelFolderProblems(report));
  } else if (manifest) {
    const missing: string[] = [];
    for (const f of manifest.files) {
      if (f.optional) continue;
      const s = await stat(path.join(src, ...f.path.split('/'))).catch(() => undefined);
      if (!s?.isFile() || s.size === 0) missing.push(f.path);
    }
    if (missing.length) {
      throw new EngineError('MODEL_FOLDER', `${src} does not look like ${manifest.hubRepo}: missing or empty ${missing.join(', ')}. Copy the whole repository folder (same layout as on the hub) and try again.`);
    }
  }
  const files = await walk(src);
  if (files.length === 0) throw new EngineError('MODEL_FOLDER', `${src} is empty.`);

  const target = modelDir(cacheDir, opts.name);
  if (path.resolve(target) === src) throw new EngineError('INVALID_ARGUMENT', `${src} is already the cache folder of '${opts.name}'.`);
  const exists = (await existsL(target)) || (await readInstallRecord(cacheDir, opts.name)) !== undefined;
  if (exists && !opts.overwrite) {
    throw new EngineError('INVALID_ARGUMENT', `a model named '${opts.name}' already exists in ${cacheDir}; choose another --name or remove it first.`);
  }
  await mkdir(path.dirname(target), { recursive: true });
  const totalBytes = files.reduce((s, f) => s + f.size, 0);
  const tmp = `${target}.import-${process.pid}-${Date.now()}`;

  if (opts.link) {
    await symlink(src, tmp, process.platform === 'win32' ? 'junction' : 'dir');
  } else {
    let bytes = 0;
    try {
      for (let i = 0; i < files.length; i++) {
        if (opts.signal?.aborted) throw new CancelledError('import cancelled; nothing was registered');
        const f = files[i]!;
        const to = path.join(tmp, ...f.rel.split('/'));
        await mkdir(path.dirname(to), { recursive: true });
        await copyFile(path.join(src, ...f.rel.split('/')), to);
        bytes += f.size;
        opts.onProgress?.({ phase: 'copy', files: i + 1, totalFiles: files.length, bytes, totalBytes });
      }
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  opts.onProgress?.({ phase: 'register', files: files.length, totalFiles: files.length, bytes: totalBytes, totalBytes });
  if (exists) {
    // rm on a link removes the link, never the user's folder behind it.
    const st = await lstat(target).catch(() => undefined);
    if (st?.isSymbolicLink()) await rm(target, { force: true });
    else await rm(target, { recursive: true, force: true });
  }
  await rename(tmp, target);
  const record: InstallRecord = {
    id: opts.name,
    kind,
    source: 'import',
    installedAt: new Date().toISOString(),
    importedFrom: src,
    link: !!opts.link,
    ...(manifest ? { manifestId: manifest.id, hubRepo: manifest.hubRepo, revision: manifest.revision } : {}),
  };
  await writeInstallRecord(cacheDir, record);
  return { id: opts.name, dir: target, kind, linked: !!opts.link, report, record };
}
