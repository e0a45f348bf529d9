/**
 * Temporary files the product leaves while it works (safe-write temps, model files for
 * onnxruntime sessions, half-generated demo sets): their names carry the writer's pid, so a
 * later process can tell a leftover of a dead writer from a file another live process is still
 * writing. Two halves:
 *
 * - `trackTempPath`: paths removed when this process exits normally (`process.exit`, end of the
 *   event loop, an uncaught exception). kill -9 runs no handler; that is what the sweep is for.
 * - `sweepStaleTemps`: on start, remove the leftovers of earlier processes in a folder.
 */
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

/** When this process started (ms since the epoch): a temp file written before that is not ours. */
export const PROCESS_START_MS = performance.timeOrigin;

/**
 * A temp file whose writer is still alive is removed only past this age (its pid may have been
 * reused by an unrelated process since).
 */
export const LIVE_WRITER_MAX_AGE_MS = 24 * 3600 * 1000;

/**
 * Temp files of safe-write (io/safe-write.ts), `.<name>.<pid>-<8 hex>.tmp`, and of the library's
 * writes before it, `.<name>.<pid>.<8 hex>.tmp`; group 1 is the writer's pid. The only patterns
 * swept in folders the user chose (library, settings).
 */
export const SAFE_WRITE_TEMP_PATTERNS: readonly RegExp[] = [/^\..+\.(\d+)-[0-9a-f]{8}\.tmp$/, /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/];

/** Name patterns of all our temp files (for the cache, which is ours entirely); group 1 is the writer's pid. */
export const TEMP_NAME_PATTERNS: readonly RegExp[] = [
  ...SAFE_WRITE_TEMP_PATTERNS,
  // onnxruntime session models written next to external weights (onnx/model-io.ts serializeForSession)
  /^\.inversion-studio-(\d+)-[0-9a-z]+\.onnx(?:\.data)?$/,
  // session model folders under the cache's temp folder (mkdtemp adds 6 characters)
  /^session-(\d+)-[0-9A-Za-z]{6}$/,
  // demo sets being generated or moved aside (models/demo/index.ts)
  /^\.demo-(?:tmp|old)-(\d+)-[0-9a-f]+$/,
  // model folders being imported (models/import.ts): `<id>.import-<pid>-<ms>`
  /^[a-z0-9][a-z0-9._-]*\.import-(\d+)-\d+$/,
];

/** The writer pid encoded in one of our temp names, or undefined for any other name. */
export function tempWriterPid(name: string, patterns: readonly RegExp[] = TEMP_NAME_PATTERNS): number | undefined {
  for (const re of patterns) {
    const m = re.exec(name);
    if (m) {
      const pid = Number(m[1]);
      return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
    }
  }
  return undefined;
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface SweepOptions {
  /** Name patterns (group 1 = writer pid); default TEMP_NAME_PATTERNS. */
  patterns?: readonly RegExp[];
  /** Default: the start of this process. Files modified at or after it are kept. */
  processStartMs?: number;
  now?: number;
  isAlive?: (pid: number) => boolean;
}

/**
 * A leftover: written by another process, before this one started, by a writer that is gone
 * (or so long ago that its pid has probably been reused).
 */
export function isStaleTemp(pid: number, mtimeMs: number, o: SweepOptions = {}): boolean {
  if (pid === process.pid) return false;
  if (mtimeMs >= (o.processStartMs ?? PROCESS_START_MS)) return false;
  const alive = (o.isAlive ?? isProcessAlive)(pid);
  return !alive || (o.now ?? Date.now()) - mtimeMs > LIVE_WRITER_MAX_AGE_MS;
}

/**
 * Remove stale temp files (and temp folders) directly inside `dir`. Never throws: a folder that
 * is missing or unreadable has nothing to sweep. Returns the names removed.
 */
export async function sweepStaleTemps(dir: string, o: SweepOptions = {}): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = tempWriterPid(name, o.patterns);
    if (pid === undefined) continue;
    const full = path.join(dir, name);
    try {
      const st = await lstat(full);
      if (!isStaleTemp(pid, st.mtimeMs, o)) continue;
      await rm(full, { recursive: st.isDirectory(), force: true });
      removed.push(name);
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed;
}

/** Synchronous `sweepStaleTemps` (for constructors that read their file synchronously). */
export function sweepStaleTempsSync(dir: string, o: SweepOptions = {}): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = tempWriterPid(name, o.patterns);
    if (pid === undefined) continue;
    const full = path.join(dir, name);
    try {
      const st = lstatSync(full);
      if (!isStaleTemp(pid, st.mtimeMs, o)) continue;
      rmSync(full, { recursive: st.isDirectory(), force: true });
      removed.push(name);
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed;
}

const tracked = new Set<string>();
let exitHookInstalled = false;

function removeTrackedSync(): void {
  for (const p of tracked) {
    try {
      rmSync(p, { recursive: true, force: true });
    } catch {
      // best effort at exit
    }
  }
  tracked.clear();
}

/**
 * Remove `p` (file or folder) when the process exits, unless the returned function is called
 * first (the normal path: the owner removes it itself, then untracks it).
 */
export function trackTempPath(p: string): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', removeTrackedSync);
  }
  const abs = path.resolve(p);
  tracked.add(abs);
  return () => {
    tracked.delete(abs);
  };
}

/** Paths currently tracked (tests, diagnostics). */
export function trackedTempPaths(): string[] {
  return [...tracked];
}
