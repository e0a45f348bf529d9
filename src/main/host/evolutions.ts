/**
 * The studio's evolution sessions, each a folder `<library>/evolution/<id>/` written by the
 * engine's EvolutionSession (docs/fusion-evolution.md). This module is the worker's side of the
 * plain requests (open, lock, branch, export, list) and the shared pieces of the evolution jobs
 * (jobs/evolve.ts): session folders by id, one operation at a time per session (a lock waits for
 * a running breed of the same session: two writers of one folder are not supported), and the
 * session as the client sees it (image paths as library paths, sizes bounded).
 *
 * Requests that render nothing open the session with an inert backend of the session's own model
 * set, so locking words or branching never loads a model.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  EvolutionSession,
  listSessions,
  readSessionFile,
  sessionsRoot,
  type EvolutionBackend,
  type SessionFile,
} from '../engine/concepts/evolution/index.js';
import { EngineError } from '../engine/errors.js';
import {
  EVOLUTION_FOLDER,
  parseEvolutionFile,
  type EvolutionGeneration,
  type EvolutionIndividual,
  type EvolutionSessionView,
  type EvolutionSummary,
} from '../../shared/ipc/evolution.js';
import {
  ID_PATTERN,
  MAX_EVOLUTION_GENERATIONS,
  MAX_EVOLUTION_INDIVIDUALS,
  MAX_EVOLUTIONS,
  MAX_MESSAGE_TEXT_CHARS,
  MAX_NAME_CHARS,
  MAX_PATH_CHARS,
  MAX_PROMPT_CHARS,
} from '../../shared/ipc/limits.js';

const cut = (s: string, n: number): string => (s.length > n ? s.slice(0, n) : s);

/** `evo-20260101-120000-1a2b3c` (sortable by time, an IdSchema id). */
export function newSessionId(now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `evo-${t}-${randomBytes(3).toString('hex')}`;
}

/** The folder of session `id` in the library. @throws EngineError('INVALID_ARGUMENT') for an id that is not one */
export function sessionDirOf(libraryDir: string, id: string): string {
  if (!ID_PATTERN.test(id)) throw new EngineError('INVALID_ARGUMENT', `'${id.slice(0, 80)}' is not an evolution session id`);
  return path.join(sessionsRoot(path.resolve(libraryDir)), id);
}

const chains = new Map<string, Promise<unknown>>();

/** Run `fn` after every earlier operation on the same session folder (in this process). */
export function withSession<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const key = path.resolve(dir);
  const run = (chains.get(key) ?? Promise.resolve()).then(fn, fn);
  const tail = run.catch(() => undefined);
  chains.set(key, tail);
  void tail.then(() => {
    if (chains.get(key) === tail) chains.delete(key);
  });
  return run;
}

/** A backend that renders nothing: for the operations that only read or rewrite session.json. */
export function inertBackend(model: string, file: SessionFile): EvolutionBackend {
  const r = file.settings.render;
  return {
    model,
    defaults: { ...r },
    dictionary: [],
    render: () => Promise.reject(new EngineError('RUNTIME', 'internal: this session was opened without a renderer')),
    release: async () => {},
  };
}

/** Open session `id` without models. @throws EvolutionSessionError (missing, damaged, foreign, another version) */
async function openInert(libraryDir: string, id: string): Promise<EvolutionSession> {
  const dir = sessionDirOf(libraryDir, id);
  const file = await readSessionFile(dir);
  return EvolutionSession.open(dir, inertBackend(file.model, file));
}

/** A session-relative image path as a library path, when it is one the studio serves. */
function libraryPath(id: string, rel: string): string | undefined {
  const name = `${EVOLUTION_FOLDER}/${id}/${rel}`;
  return parseEvolutionFile(name) ? name : undefined;
}

/**
 * The session as the client sees it.
 * @throws EngineError('TOO_LARGE') for a session beyond what one message carries (export it instead)
 */
export function sessionView(id: string, s: SessionFile): EvolutionSessionView {
  if (s.individuals.length > MAX_EVOLUTION_INDIVIDUALS || s.generations.length > MAX_EVOLUTION_GENERATIONS)
    throw new EngineError(
      'TOO_LARGE',
      `session ${id} has ${s.individuals.length} individuals in ${s.generations.length} generations; the studio shows at most ` +
        `${MAX_EVOLUTION_INDIVIDUALS} in ${MAX_EVOLUTION_GENERATIONS}. Export it, or continue it with \`inversion-studio evolve --session\``,
    );
  const fitnessOf = new Map(s.individuals.map((i) => [i.id, i.fitness]));
  const individuals = s.individuals.map((i): EvolutionIndividual => {
    const image = libraryPath(id, i.image);
    const thumbnail = libraryPath(id, i.thumbnail);
    return {
      id: i.id,
      generation: i.generation,
      prompt: cut(i.prompt, MAX_PROMPT_CHARS),
      seed: i.seed,
      parents: i.parents,
      operator: i.operator,
      ...(i.detail ? { detail: cut(i.detail, MAX_MESSAGE_TEXT_CHARS) } : {}),
      conditioning: i.conditioning,
      ...(i.decodedDistance !== undefined && Number.isFinite(i.decodedDistance) ? { decodedDistance: i.decodedDistance } : {}),
      ...(i.fitness !== undefined && Number.isFinite(i.fitness) ? { fitness: i.fitness } : {}),
      locks: i.locks,
      ...(image ? { image } : {}),
      ...(thumbnail ? { thumbnail } : {}),
      createdAt: i.createdAt,
    };
  });
  const generations = s.generations.map((g): EvolutionGeneration => {
    const fit = g.members.map((m) => fitnessOf.get(m)).filter((f): f is number => f !== undefined && Number.isFinite(f));
    return {
      id: g.id,
      ...(g.parent ? { parent: g.parent } : {}),
      kind: g.kind,
      members: g.members,
      ...(g.picks ? { picks: g.picks } : {}),
      ...(g.branchedFrom ? { branchedFrom: g.branchedFrom } : {}),
      createdAt: g.createdAt,
      ...(fit.length ? { best: Math.max(...fit) } : {}),
    };
  });
  const f = s.fitness;
  const r = s.settings.render;
  return {
    id,
    ...(s.name ? { name: cut(s.name, MAX_NAME_CHARS) } : {}),
    model: cut(s.model, MAX_PATH_CHARS),
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    head: s.head,
    ...(f
      ? {
          fitness:
            f.kind === 'checker'
              ? { kind: 'checker', prompt: f.prompt }
              : f.kind === 'text'
                ? { kind: 'text', text: f.text }
                : { kind: 'clip' },
        }
      : {}),
    settings: {
      seed: s.settings.seed,
      population: s.settings.population,
      elite: s.settings.elite,
      width: r.width,
      height: r.height,
      steps: r.steps,
      scheduler: r.scheduler,
      guidance: r.guidance,
    },
    generations,
    individuals,
  };
}

/** The sessions of the library, newest first; those that cannot be opened say why. */
export async function listEvolutionSessions(libraryDir: string): Promise<EvolutionSummary[]> {
  const out: EvolutionSummary[] = [];
  for (const s of await listSessions(sessionsRoot(path.resolve(libraryDir)))) {
    const id = path.basename(s.dir);
    if (!ID_PATTERN.test(id)) continue; // not a folder the studio can name (made by hand or by the CLI)
    if (s.problem) {
      out.push({ id, problem: cut(s.problem, MAX_MESSAGE_TEXT_CHARS) });
      continue;
    }
    let thumbnail: string | undefined;
    try {
      const file = await readSessionFile(s.dir);
      const head = file.generations.find((g) => g.id === file.head);
      const members = (head?.members ?? []).map((m) => file.individuals.find((i) => i.id === m)).filter((i) => i !== undefined);
      const best = [...members].sort((a, b) => (b.fitness ?? -Infinity) - (a.fitness ?? -Infinity))[0];
      if (best) thumbnail = libraryPath(id, best.thumbnail);
    } catch {
      // listed by listSessions a moment ago; a thumbnail is a nicety
    }
    out.push({
      id,
      ...(s.name ? { name: cut(s.name, MAX_NAME_CHARS) } : {}),
      ...(s.model ? { model: cut(s.model, MAX_PATH_CHARS) } : {}),
      ...(s.generations !== undefined ? { generations: s.generations } : {}),
      ...(s.individuals !== undefined ? { individuals: s.individuals } : {}),
      ...(s.updatedAt ? { updatedAt: s.updatedAt } : {}),
      ...(s.bestFitness !== undefined && Number.isFinite(s.bestFitness) ? { bestFitness: s.bestFitness } : {}),
      ...(thumbnail ? { thumbnail } : {}),
    });
    if (out.length >= MAX_EVOLUTIONS) break;
  }
  return out;
}

/** Session `id` as saved (resume). */
export function openEvolution(libraryDir: string, id: string): Promise<EvolutionSessionView> {
  return withSession(sessionDirOf(libraryDir, id), async () => sessionView(id, (await openInert(libraryDir, id)).file));
}

/** Set the words individual `ind`'s children must keep. @throws EngineError INVALID_ARGUMENT for a word not in its prompt */
export function lockEvolution(libraryDir: string, id: string, ind: string, words: readonly string[]): Promise<EvolutionSessionView> {
  return withSession(sessionDirOf(libraryDir, id), async () => {
    const session = await openInert(libraryDir, id);
    await session.lock(ind, words);
    return sessionView(id, session.file);
  });
}

/** Branch from ancestor `from`: its generation becomes the head again. */
export function branchEvolution(libraryDir: string, id: string, from: string): Promise<EvolutionSessionView> {
  return withSession(sessionDirOf(libraryDir, id), async () => {
    const session = await openInert(libraryDir, id);
    await session.branch(from);
    return sessionView(id, session.file);
  });
}

/** `<library's parent>/exports/<session id>-<time>`. */
export function defaultEvolutionExportDir(libraryDir: string, id: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return path.join(path.dirname(path.resolve(libraryDir)), 'exports', `${id}-${stamp}`);
}

/**
 * Copy session `id` into `dir` (absolute; a new or empty folder; default defaultEvolutionExportDir).
 * @throws EngineError INVALID_ARGUMENT for a relative folder; EvolutionSessionError for a folder that is not empty
 */
export async function exportEvolution(libraryDir: string, id: string, dir?: string): Promise<{ dir: string; files: number }> {
  if (dir !== undefined && !path.isAbsolute(dir))
    throw new EngineError('INVALID_ARGUMENT', `export to an absolute folder on the engine's machine (got '${dir.slice(0, 200)}')`);
  const target = dir ?? defaultEvolutionExportDir(libraryDir, id);
  const inside = path.relative(sessionDirOf(libraryDir, id), path.resolve(target));
  if (!inside.startsWith('..') && !path.isAbsolute(inside))
    throw new EngineError('INVALID_ARGUMENT', 'export the session to a folder outside the session itself');
  return withSession(sessionDirOf(libraryDir, id), async () => (await openInert(libraryDir, id)).exportTo(target));
}
