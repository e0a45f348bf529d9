/**
 * The one way the product writes a file (library images and index, settings, JSON results, CLI
 * outputs, model files and install records, the demo set):
 *
 *   1. refuse a target that is not a regular file (a folder, a device such as /dev/full, a FIFO,
 *      a socket, a dangling symlink) with an error saying what it is: renaming over it would
 *      replace the device node or the user's folder entry with our file;
 *   2. write a temp file `.<name>.<pid>-<8 hex>.tmp` in the target's own folder (so the rename
 *      below is atomic: same filesystem), fsync it;
 *   3. check the target again, rename the temp over it, fsync the folder (so the rename itself
 *      survives a power cut);
 *   4. on any failure remove the temp file and throw a FileWriteError naming the file and the
 *      cause in words (no space, no permission, a folder in the way...).
 *
 * A symlink to a regular file is written through: the link stays, its target is replaced.
 * A reader therefore sees the old content or the new one, never a mix; a crash leaves at most a
 * temp file, which `sweepStaleTemps` (temp-files.ts) removes on the next start.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { lstat, mkdir, open, readlink, realpath, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.js';
import { trackTempPath } from './temp-files.js';

/** A file could not be written safely; `fsCode` is the underlying errno code when there was one. */
export class FileWriteError extends EngineError {
  constructor(
    message: string,
    readonly file: string,
    readonly fsCode?: string,
    options?: { cause?: unknown },
  ) {
    super('FILE', message, options);
    this.name = 'FileWriteError';
  }
}

/** What to write: text (UTF-8), bytes, a list of chunks, or a function writing into the open temp file. */
export type WriteData = string | Uint8Array | readonly Uint8Array[] | ((fh: FileHandle) => Promise<void>);

export interface SafeWriteOptions {
  /** Create missing parent folders (default false: a missing folder is an error). */
  mkdir?: boolean;
  /** Permission bits of the new file (e.g. 0o600 for a token); default: the replaced file's, else 0o666 minus umask. */
  mode?: number;
  /** How messages name the file ("the settings file", "the output"); default "the file". */
  what?: string;
}

/** Name of the temp file for `target` (same folder; recognised by the start-up sweep). */
export function tempPathFor(target: string): string {
  const base = path.basename(target).slice(0, 180);
  return path.join(path.dirname(target), `.${base}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

/** "a folder", "a named pipe (FIFO)", ... for a non-regular file. */
export function describeFileKind(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

function notRegular(file: string, st: Stats, what: string): FileWriteError {
  const kind = describeFileKind(st);
  const advice = st.isDirectory()
    ? `give a file path (for example ${path.join(file, 'name')}) or remove the folder`
    : 'choose a regular file path instead';
  return new FileWriteError(`refusing to write ${what} to ${file}: it is ${kind}, not a regular file; ${advice}.`, file);
}

/** Turn an fs error into a FileWriteError that says what happened in words. */
export function fileError(e: unknown, file: string, what = 'the file', verb = 'write'): FileWriteError {
  if (e instanceof FileWriteError) return e;
  if (e instanceof EngineError) return new FileWriteError(e.message, file, undefined, { cause: e });
  const code = (e as NodeJS.ErrnoException)?.code;
  const dir = path.dirname(file);
  const why: Record<string, string> = {
    ENOSPC: `there is no space left on the disk holding ${dir}; free some space and try again`,
    EDQUOT: `the disk quota for ${dir} is exhausted; free some space and try again`,
    EACCES: `permission denied; check the permissions of ${dir} (and of ${file} if it exists)`,
    EPERM: `the operation is not permitted; check the permissions of ${dir} (and of ${file} if it exists)`,
    EROFS: `${dir} is on a read-only file system`,
    ENOENT: `the folder ${dir} does not exist`,
    ENOTDIR: `a part of the path ${dir} is a file, not a folder`,
    EISDIR: `${file} is a folder`,
    EEXIST: `a file is in the way of the folder ${dir}`,
    ENAMETOOLONG: 'the path is too long',
    EMFILE: 'too many files are open; try again',
    EBUSY: `${file} is in use by another program`,
    EIO: `the disk reported an input/output error`,
  };
  const reason = (code && why[code]) ?? String((e as Error)?.message ?? e);
  return new FileWriteError(`could not ${verb} ${what} ${file}: ${reason}.`, file, code, { cause: e });
}

/**
 * The path a write to `target` must replace: `target` itself (absent or a regular file), or the
 * regular file a symlink points at. Throws FileWriteError for anything else.
 */
export async function resolveWriteTarget(target: string, what = 'the file'): Promise<{ file: string; existing?: Stats }> {
  const abs = path.resolve(target);
  let st: Stats | undefined;
  try {
    st = await lstat(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { file: abs };
    throw fileError(e, abs, what);
  }
  if (st.isSymbolicLink()) {
    let real: string;
    try {
      real = await realpath(abs);
    } catch {
      const to = await readlink(abs).catch(() => '?');
      throw new FileWriteError(
        `refusing to write ${what} to ${abs}: it is a symbolic link to ${to}, which does not exist; remove the link or choose another path.`,
        abs,
      );
    }
    const rst = await stat(real);
    if (!rst.isFile()) throw notRegular(abs, rst, what);
    return { file: real, existing: rst };
  }
  if (!st.isFile()) throw notRegular(abs, st, what);
  return { file: abs, existing: st };
}

/** Throws FileWriteError when `target` could not be replaced by a regular file (check before long work). */
export async function assertWritableTarget(target: string, what = 'the file'): Promise<void> {
  await resolveWriteTarget(target, what);
}

async function writeAll(fh: FileHandle, data: WriteData): Promise<void> {
  if (typeof data === 'function') return data(fh);
  if (typeof data === 'string') return fh.writeFile(data, 'utf8');
  const chunks = data instanceof Uint8Array ? [data] : data;
  for (const c of chunks) {
    let done = 0;
    while (done < c.byteLength) done += (await fh.write(c, done, c.byteLength - done)).bytesWritten;
  }
}

/** fsync a folder so a rename in it is durable; a no-op where folders cannot be opened (Windows). */
export async function syncFolder(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // EISDIR/EPERM/EINVAL on platforms or file systems without directory fsync
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

async function ensureFolder(dir: string, create: boolean, what: string, target: string): Promise<void> {
  if (create) {
    try {
      await mkdir(dir, { recursive: true });
    } catch (e) {
      throw fileError(e, target, what);
    }
  }
  const st = await stat(dir).catch((e: NodeJS.ErrnoException) => {
    throw fileError(e, target, what);
  });
  if (!st.isDirectory()) throw new FileWriteError(`could not write ${what} ${target}: ${dir} is not a folder.`, target, 'ENOTDIR');
}

/**
 * Write `data` to `target` atomically and durably (see the module comment).
 * @throws FileWriteError (code 'FILE') for a non-regular target or any write failure; the target
 *   is then unchanged and no temp file is left behind.
 */
export async function safeWriteFile(target: string, data: WriteData, opts: SafeWriteOptions = {}): Promise<void> {
  const what = opts.what ?? 'the file';
  const { file, existing } = await resolveWriteTarget(target, what);
  const dir = path.dirname(file);
  await ensureFolder(dir, opts.mkdir === true, what, file);
  const tmp = tempPathFor(file);
  let fh: FileHandle | undefined;
  const untrack = trackTempPath(tmp);
  try {
    fh = await open(tmp, 'wx', opts.mode ?? 0o666);
    await writeAll(fh, data);
    const mode = opts.mode ?? (existing ? existing.mode & 0o7777 : undefined);
    if (mode !== undefined) await fh.chmod(mode);
    await fh.sync();
    await fh.close();
    fh = undefined;
    // The target may have changed while we wrote (a FIFO created in its place, a folder).
    await resolveWriteTarget(file, what);
    await rename(tmp, file);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw fileError(e, file, what);
  } finally {
    untrack();
  }
  await syncFolder(dir);
}

/**
 * Move an already written temp file (e.g. a verified download's `.part`) over `target` with the
 * same checks and durability as safeWriteFile: refuse a non-regular target, fsync the data,
 * rename, fsync the folder. The temp file must be in the target's folder. On failure the temp
 * file is left where it is (the caller decides whether it is worth keeping).
 */
export async function commitTempFile(tmp: string, target: string, opts: Pick<SafeWriteOptions, 'what'> = {}): Promise<void> {
  const what = opts.what ?? 'the file';
  const { file } = await resolveWriteTarget(target, what);
  try {
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    throw fileError(e, file, what);
  }
  await syncFolder(path.dirname(file));
}

/**
 * Synchronous safeWriteFile for small files written where no await is possible (a settings file
 * rewritten in a constructor). Same checks, temp naming, fsyncs and clean-up.
 */
export function safeWriteFileSync(target: string, data: string | Uint8Array, opts: SafeWriteOptions = {}): void {
  const what = opts.what ?? 'the file';
  const { file, existing } = resolveWriteTargetSync(target, what);
  const dir = path.dirname(file);
  try {
    if (opts.mkdir) mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw fileError(e, file, what);
  }
  const tmp = tempPathFor(file);
  const untrack = trackTempPath(tmp);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', opts.mode ?? 0o666);
    writeFileSync(fd, data);
    const mode = opts.mode ?? (existing ? existing.mode & 0o7777 : undefined);
    if (mode !== undefined) fchmodSync(fd, mode);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    resolveWriteTargetSync(file, what);
    renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw fileError(e, file, what);
  } finally {
    untrack();
  }
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // no directory fsync here
  }
}

function resolveWriteTargetSync(target: string, what: string): { file: string; existing?: Stats } {
  const abs = path.resolve(target);
  let st: Stats;
  try {
    st = lstatSync(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { file: abs };
    throw fileError(e, abs, what);
  }
  if (st.isSymbolicLink()) {
    let real: string;
    try {
      real = realpathSync(abs);
    } catch {
      throw new FileWriteError(`refusing to write ${what} to ${abs}: it is a symbolic link to a file that does not exist.`, abs);
    }
    const rst = statSync(real);
    if (!rst.isFile()) throw notRegular(abs, rst, what);
    return { file: real, existing: rst };
  }
  if (!st.isFile()) throw notRegular(abs, st, what);
  return { file: abs, existing: st };
}
