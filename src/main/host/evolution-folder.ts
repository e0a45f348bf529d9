/**
 * Whether a library's `evolution/` sub-folder is the studio's own (its evolution sessions), so a
 * library folder without an index that holds one can still be adopted (library.ts). Judged by
 * its layout only, never by reading session files: a damaged session file must not make the
 * whole library unusable (it is reported when that session is opened).
 */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ID_PATTERN } from '../../shared/ipc/limits.js';

/** What a session folder holds (docs/fusion-evolution.md, "Session folder"). */
const SESSION_FOLDERS = new Set(['images', 'thumbs', 'embeddings', 'targets']);
const SESSION_FILE = 'session.json';

/**
 * True when `dir` is a real folder (not a link) holding only session folders — each named like a
 * studio id and holding only session.json and the images/, thumbs/, embeddings/, targets/
 * folders — and hidden entries (temp files of an interrupted write).
 */
export async function isOwnEvolutionFolder(dir: string): Promise<boolean> {
  const st = await lstat(dir).catch(() => undefined);
  if (!st?.isDirectory()) return false;
  const sessions = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
  if (!sessions) return false;
  for (const s of sessions) {
    if (s.name.startsWith('.')) continue;
    if (!s.isDirectory() || !ID_PATTERN.test(s.name)) return false;
    const entries = await readdir(path.join(dir, s.name), { withFileTypes: true }).catch(() => undefined);
    if (!entries) return false;
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      if (e.name === SESSION_FILE ? !e.isFile() : !(e.isDirectory() && SESSION_FOLDERS.has(e.name))) return false;
    }
  }
  return true;
}
