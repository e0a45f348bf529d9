/**
 * Installing the committed shapes set (models/shapes/ in the repository or the packaged app)
 * into the model cache on first use, as the demo set is generated there: copied into a temporary
 * folder, then renamed into place, so a crash or a concurrent process never leaves half a set.
 * A cached copy whose content differs from the committed files (a retrained set, or files other
 * components added, such as lm/) is replaced.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineError, throwIfAborted } from '../../errors.js';
import { modelDir, resolveCacheDir, writeInstallRecord } from '../cache.js';
import { SHAPES_MODEL_ID } from './stamp.js';

/** Where the committed set lives: models/shapes/ found by walking up from this module. */
export function committedShapesDir(): string {
  const rel = path.join('models', 'shapes');
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, rel, 'model_index.json'))) return path.join(dir, rel);
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../..', rel);
    dir = parent;
  }
}

async function listFiles(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.name.startsWith('.')) continue;
    if (e.isDirectory()) out.push(...(await listFiles(root, r)));
    else if (e.isFile()) out.push(r);
  }
  return out.sort();
}

const hashCache = new Map<string, { signature: string; hash: string }>();

/**
 * sha256 (first 16 hex digits) over the folder's file names and contents. Cached per process
 * while no file's name, size or modification time changes.
 */
export async function folderHash(dir: string): Promise<string> {
  const files = await listFiles(dir);
  const stats = await Promise.all(files.map((f) => stat(path.join(dir, f))));
  const signature = JSON.stringify(files.map((f, i) => [f, stats[i]!.size, stats[i]!.mtimeMs]));
  const hit = hashCache.get(dir);
  if (hit?.signature === signature) return hit.hash;
  const h = createHash('sha256');
  for (const f of files) {
    h.update(f + '\0');
    h.update(await readFile(path.join(dir, f)));
  }
  const hash = h.digest('hex').slice(0, 16);
  hashCache.set(dir, { signature, hash });
  return hash;
}

/**
 * Path of the shapes set in the cache, copying it there from the committed files on first use
 * (or when they changed).
 * @param cacheDir cache root (default `resolveCacheDir()`)
 * @param opts.source the set folder to install (default: the committed models/shapes/)
 * @throws EngineError('NOT_INSTALLED') when the committed set is absent (a checkout without it: run `npm run train:shapes`)
 */
export async function ensureShapesModelSet(
  cacheDir?: string,
  opts: { source?: string; signal?: AbortSignal; onProgress?: (e: { phase: 'install-shapes'; step: number; total: number; message: string }) => void } = {},
): Promise<string> {
  const source = opts.source ?? committedShapesDir();
  if (!existsSync(path.join(source, 'model_index.json'))) {
    throw new EngineError('NOT_INSTALLED', `the shapes model set is missing from ${source}; restore models/shapes/ from the repository or train it with \`npm run train:shapes\``);
  }
  const root = resolveCacheDir(cacheDir);
  const final = modelDir(root, SHAPES_MODEL_ID);
  const want = await folderHash(source);
  // the content hash of the installed copy sits next to it (inside, the loader would see an unknown file)
  const marker = path.join(path.dirname(final), `.${SHAPES_MODEL_ID}.content-hash`);
  const current = async (): Promise<boolean> => existsSync(marker) && existsSync(path.join(final, 'model_index.json')) && (await readFile(marker, 'utf8')).trim() === want;
  if (await current()) return final;
  throwIfAborted(opts.signal);
  opts.onProgress?.({ phase: 'install-shapes', step: 0, total: 1, message: `installing the shapes model set into ${final}` });
  const parent = path.dirname(final);
  await mkdir(parent, { recursive: true });
  const tmp = path.join(parent, `.shapes-tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await cp(source, tmp, { recursive: true, filter: (src) => !path.basename(src).startsWith('.') });
    await rm(marker, { force: true });
    if (existsSync(final)) {
      const trash = path.join(parent, `.shapes-old-${process.pid}-${randomBytes(4).toString('hex')}`);
      await rename(final, trash).catch(() => {});
      await rm(trash, { recursive: true, force: true });
    }
    try {
      await rename(tmp, final);
    } catch (e) {
      // another process installed the same files first
      if (!existsSync(path.join(final, 'model_index.json')) || (await folderHash(final)) !== want) throw e;
    }
    await writeFile(marker, want + '\n');
    await writeInstallRecord(root, { id: SHAPES_MODEL_ID, kind: 'diffusion', source: 'generated', installedAt: new Date().toISOString() });
    opts.onProgress?.({ phase: 'install-shapes', step: 1, total: 1, message: 'installed' });
    return final;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
