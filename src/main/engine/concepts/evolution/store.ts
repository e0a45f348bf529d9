/**
 * Session folders on disk: `session.json` plus the files it names (images/, thumbs/, embeddings/,
 * targets/). Every write goes through safeWriteFile (temp file, fsync, rename), files before the
 * session file that names them, so a crash leaves the previous session and at most unreferenced
 * files (which the next breed overwrites: ids are deterministic).
 *
 * Reading never changes anything: a missing, damaged or foreign session file is an
 * EvolutionSessionError saying what is wrong; the file and everything around it stay as they are.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { EngineError } from '../../errors.js';
import { safeWriteFile } from '../../io/safe-write.js';
import { SESSION_FILE, SESSION_FORMAT, SESSION_VERSION, SessionFileSchema, type SessionFile } from './session-schema.js';

/** Where the studio keeps evolution sessions: `<library>/evolution/<session id>/`. */
export const SESSIONS_FOLDER = 'evolution';

export type SessionProblem = 'missing' | 'damaged' | 'foreign' | 'version' | 'exists';

/** A session folder that cannot be opened (or created) as asked; nothing was changed. */
export class EvolutionSessionError extends EngineError {
  constructor(
    message: string,
    readonly problem: SessionProblem,
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super('FILE', message, options);
    this.name = 'EvolutionSessionError';
  }
}

export function sessionsRoot(libraryDir: string): string {
  return path.join(libraryDir, SESSIONS_FOLDER);
}

export function sessionFilePath(dir: string): string {
  return path.join(dir, SESSION_FILE);
}

/** Resolve a session-relative path, refusing anything that would leave the folder. */
export function assetPath(dir: string, rel: string): string {
  const root = path.resolve(dir);
  const full = path.resolve(root, rel);
  if (full === root || !full.startsWith(root + path.sep))
    throw new EngineError('INVALID_ARGUMENT', `the session path '${rel}' is outside the session folder`);
  return full;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const firstIssue = (e: z.ZodError): string => {
  const i = e.issues[0];
  return i ? `${i.path.join('.') || 'top level'}: ${i.message}` : 'invalid';
};

function damaged(file: string, why: string, cause?: unknown): EvolutionSessionError {
  return new EvolutionSessionError(
    `the evolution session file ${file} is damaged (${why}). It was left as it is and nothing else was changed; ` +
      'restore it from an exported copy of the session, or start a new session in another folder.',
    'damaged',
    file,
    cause ? { cause } : undefined,
  );
}

/** Ids that must resolve inside the file: head, members, picks, parents; ids unique. */
function checkReferences(s: SessionFile): string | undefined {
  const ind = new Set<string>();
  for (const i of s.individuals) {
    if (ind.has(i.id)) return `individual ${i.id} appears twice`;
    ind.add(i.id);
  }
  const gens = new Set<string>();
  for (const g of s.generations) {
    if (gens.has(g.id)) return `generation ${g.id} appears twice`;
    gens.add(g.id);
  }
  if (!gens.has(s.head)) return `the head generation ${s.head} is not in the file`;
  for (const g of s.generations) {
    if (g.parent && !gens.has(g.parent)) return `generation ${g.id} names a parent generation ${g.parent} that is not in the file`;
    for (const id of [...g.members, ...(g.picks ?? []), ...(g.branchedFrom ? [g.branchedFrom] : [])])
      if (!ind.has(id)) return `generation ${g.id} names individual ${id}, which is not in the file`;
  }
  for (const i of s.individuals) {
    if (!gens.has(i.generation)) return `individual ${i.id} names generation ${i.generation}, which is not in the file`;
    for (const p of i.parents) if (!ind.has(p)) return `individual ${i.id} names a parent ${p} that is not in the file`;
  }
  return undefined;
}

/**
 * Read and validate `dir/session.json` (schema, references, and that every file it names is
 * there). Changes nothing.
 * @throws EvolutionSessionError: 'missing' (no session there), 'foreign' (not ours), 'version'
 *   (another version's), 'damaged' (unreadable JSON, schema, references, missing files)
 */
export async function readSessionFile(dir: string): Promise<SessionFile> {
  const file = sessionFilePath(path.resolve(dir));
  let text: string;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw damaged(file, 'it is not a regular file');
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof EvolutionSessionError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new EvolutionSessionError(
        `there is no evolution session in ${path.dirname(file)} (no ${SESSION_FILE}); start one with initial images or prompts`,
        'missing',
        file,
      );
    throw damaged(file, `it cannot be read: ${(e as Error).message}`, e);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw damaged(file, `it is not valid JSON: ${(e as Error).message}`, e);
  }
  const obj = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
  if (obj?.format !== SESSION_FORMAT)
    throw new EvolutionSessionError(
      `${file} is not an Inversion Studio evolution session (no "format": "${SESSION_FORMAT}"); it was left untouched`,
      'foreign',
      file,
    );
  if (obj.version !== SESSION_VERSION)
    throw new EvolutionSessionError(
      `${file} was written by another version of Inversion Studio (session version ${String(obj.version)}); this version reads version ${SESSION_VERSION} and leaves it untouched`,
      'version',
      file,
    );
  const parsed = SessionFileSchema.safeParse(raw);
  if (!parsed.success) throw damaged(file, `it fails the session schema at ${firstIssue(parsed.error)}`);
  const refs = checkReferences(parsed.data);
  if (refs) throw damaged(file, refs);
  const missing: string[] = [];
  for (const i of parsed.data.individuals)
    for (const rel of [i.image, i.thumbnail, ...(i.embedding ? [i.embedding.file] : [])]) {
      const st = await stat(assetPath(path.dirname(file), rel)).catch(() => undefined);
      if (!st?.isFile()) missing.push(rel);
    }
  if (missing.length)
    throw damaged(
      file,
      `${missing.length} file(s) it names are missing: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`,
    );
  return parsed.data;
}

/** Write one session file (bytes) at a session-relative path, creating its folder. */
export async function writeAsset(dir: string, rel: string, bytes: Uint8Array): Promise<void> {
  await safeWriteFile(assetPath(dir, rel), bytes, { mkdir: true, what: 'the session file' });
}

export async function readAsset(dir: string, rel: string): Promise<Buffer> {
  return readFile(assetPath(dir, rel));
}

/** Write session.json (after the files it names). */
export async function writeSessionFile(dir: string, s: SessionFile): Promise<void> {
  await safeWriteFile(sessionFilePath(dir), `${JSON.stringify(s, null, 1)}\n`, { mkdir: true, what: 'the evolution session file' });
}

/** Raw little-endian float32 bytes of an embedding. */
export function embeddingBytes(e: Float32Array): Uint8Array {
  const out = new Uint8Array(e.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < e.length; i++) view.setFloat32(i * 4, e[i]!, true);
  return out;
}

export function embeddingFromBytes(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** A session's summary for a list view, or why it cannot be opened. */
export interface SessionSummary {
  dir: string;
  id?: string;
  name?: string;
  model?: string;
  generations?: number;
  individuals?: number;
  updatedAt?: string;
  bestFitness?: number;
  problem?: string;
}

/** The sessions under `root` (each sub-folder with a session.json), newest first; damaged ones say why. */
export async function listSessions(root: string): Promise<SessionSummary[]> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  const out: SessionSummary[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const dir = path.join(root, e.name);
    try {
      const s = await readSessionFile(dir);
      const fit = s.individuals.map((i) => i.fitness).filter((f): f is number => f !== undefined);
      out.push({
        dir,
        id: s.id,
        ...(s.name ? { name: s.name } : {}),
        model: s.model,
        generations: s.generations.length,
        individuals: s.individuals.length,
        updatedAt: s.updatedAt,
        ...(fit.length ? { bestFitness: Math.max(...fit) } : {}),
      });
    } catch (err) {
      if (err instanceof EvolutionSessionError && err.problem === 'missing') continue;
      out.push({ dir, problem: (err as Error).message });
    }
  }
  return out.sort((a, b) => ((a.updatedAt ?? '') < (b.updatedAt ?? '') ? 1 : -1));
}
