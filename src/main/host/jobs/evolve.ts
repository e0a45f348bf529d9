/**
 * The evolution jobs (docs/fusion-evolution.md, "Studio"): `createEvolution` starts a session in
 * `<library>/evolution/<new id>/` from library images (by their recorded prompt, else inverted)
 * and typed prompts; `breedEvolution` breeds the next generation from the picks or the fitness;
 * `reinvertEvolution` inverts an individual's image into the head generation. Each runs the
 * engine's EvolutionSession with the backend of the session's model set, one operation at a time
 * per session (evolutions.ts), and answers with the whole session. Cancelled, a breed or a
 * re-inversion leaves the session as it was; a cancelled or failed start removes its new folder.
 */
import { rm } from 'node:fs/promises';
import {
  EvolutionSession,
  readSessionFile,
  type EvolutionProgress,
  type FitnessRequest,
  type SessionFile,
  type SessionInit,
} from '../../engine/concepts/evolution/index.js';
import { loadImage } from '../../engine/image/image-io.js';
import {
  BreedEvolutionRequestSchema,
  CreateEvolutionRequestSchema,
  ReinvertEvolutionRequestSchema,
  type EvolutionJobResult,
} from '../../../shared/ipc/evolution.js';
import { MAX_MESSAGE_TEXT_CHARS } from '../../../shared/ipc/limits.js';
import type { RequestOf } from '../../../shared/ipc/requests.js';
import type { Settings } from '../../../shared/ipc/settings.js';
import {
  NotAvailableError,
  type EngineAdapter,
  type EngineProgress,
  type EvolutionBackendHandle,
  type RunOptions,
} from '../engine-adapter.js';
import { newSessionId, sessionDirOf, sessionView, withSession } from '../evolutions.js';
import type { Library } from '../library.js';
import { recordedPrompt } from './fuse.js';
import { readImageInput } from './image-input.js';
import type { JobKind, JobRunOptions } from './job-kind.js';

const PHASES: Record<EvolutionProgress['phase'], string> = {
  invert: 'inverting',
  breed: 'breeding',
  render: 'rendering',
  fitness: 'scoring',
  save: 'saving',
};

/** A session step's progress as job progress (the individual at work in the message). */
export function evolutionProgress(e: EvolutionProgress): EngineProgress {
  const what = [e.id, e.message].filter(Boolean).join(': ');
  return { phase: PHASES[e.phase], step: e.done, total: e.total, ...(what ? { message: what } : {}) };
}

interface Stepped {
  id: string;
  file: SessionFile;
  generation?: string;
  individual?: string;
  warnings: string[];
  seconds: number;
}

const warningsOf = (ws: readonly string[]): string[] => [...new Set(ws)].slice(0, 32).map((w) => w.slice(0, MAX_MESSAGE_TEXT_CHARS));

function result(kind: EvolutionJobResult['kind'], s: Stepped): EvolutionJobResult {
  return {
    kind,
    session: sessionView(s.id, s.file),
    ...(s.generation ? { generation: s.generation } : {}),
    ...(s.individual ? { individual: s.individual } : {}),
    seconds: s.seconds,
    warnings: warningsOf(s.warnings),
  };
}

function backendOf(engine: EngineAdapter): NonNullable<EngineAdapter['evolutionBackend']> {
  if (!engine.evolutionBackend) throw new NotAvailableError('evolution');
  return engine.evolutionBackend.bind(engine);
}

function stepOptions(opts: JobRunOptions): { signal: AbortSignal; onProgress: (e: EvolutionProgress) => void } {
  return { signal: opts.signal, onProgress: (e) => opts.onProgress(evolutionProgress(e)) };
}

/** A library image at the session's render size, with its bytes (kept in targets/) and recorded prompt. */
async function libraryImage(library: Library, id: string, file: string | undefined, width: number, height: number) {
  const src = await readImageInput({ source: 'library', id, ...(file ? { file } : {}) }, library);
  const img = await loadImage(src.bytes, { width, height });
  return {
    image: { data: img.data, width: img.width, height: img.height },
    png: src.bytes,
    recorded: recordedPrompt(src.item!, src.file!),
  };
}

/** The render settings of a new session: the request's, else the settings' generation defaults, else the model set's. */
export function renderSettings(
  req: RequestOf<'createEvolution'>,
  settings: Settings,
  defaults: EvolutionBackendHandle['backend']['defaults'],
): EvolutionBackendHandle['backend']['defaults'] {
  const d = settings.defaults.generate;
  return {
    width: req.width ?? d.width ?? defaults.width,
    height: req.height ?? d.height ?? defaults.height,
    steps: req.steps ?? d.steps ?? defaults.steps,
    scheduler: req.scheduler ?? d.scheduler ?? defaults.scheduler,
    guidance: req.guidance ?? d.guidance ?? defaults.guidance,
    negativePrompt: req.negativePrompt ?? d.negativePrompt ?? defaults.negativePrompt,
  };
}

export const createEvolutionJob: JobKind<'createEvolution', Stepped> = {
  type: 'createEvolution',
  schema: CreateEvolutionRequestSchema,

  async run(req, opts, { engine, library, settings }) {
    const open = backendOf(engine);
    await library.list({ limit: 1 }); // a folder that is not a library is refused before anything is written
    const id = newSessionId();
    const dir = sessionDirOf(library.dir, id);
    const handle = await open(req.modelSet ?? settings.modelSet, { clip: req.fitness?.kind === 'clip' }, opts);
    try {
      const render = renderSettings(req, settings, handle.backend.defaults);
      const init: SessionInit[] = [];
      for (const i of req.init) {
        if (i.kind === 'prompt') init.push({ kind: 'prompt', text: i.text });
        else {
          const img = await libraryImage(library, i.id, i.file, render.width, render.height);
          init.push({ kind: 'image', image: img.image, png: img.png, ...(img.recorded ? { recorded: img.recorded } : {}) });
        }
      }
      let fitness: FitnessRequest | undefined;
      const f = req.fitness;
      if (f?.kind === 'clip') {
        const img = await libraryImage(library, f.image.id, f.image.file, render.width, render.height);
        fitness = { kind: 'clip', image: img.image, png: img.png };
      } else if (f) fitness = f.kind === 'checker' ? { kind: 'checker', prompt: f.prompt } : { kind: 'text', text: f.text };
      const t0 = performance.now();
      const file = await withSession(dir, async () => {
        const session = await EvolutionSession.create(
          dir,
          handle.backend,
          {
            init,
            settings: {
              render,
              ...(req.seed !== undefined ? { seed: req.seed } : {}),
              ...(req.population !== undefined ? { population: req.population } : {}),
              ...(req.elite !== undefined ? { elite: req.elite } : {}),
            },
            ...(fitness ? { fitness } : {}),
            ...(req.name ? { name: req.name } : {}),
            id,
          },
          { ...stepOptions(opts), fitnessFactory: handle.fitnessFactory },
        );
        const out = session.file;
        await session.close();
        return out;
      });
      return { id, file, generation: file.head, warnings: handle.warnings, seconds: (performance.now() - t0) / 1000 };
    } catch (e) {
      // The folder is this job's own (a fresh id): nothing of a session that never started is kept.
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw e;
    } finally {
      await handle.release();
    }
  },

  async finish(_req, out) {
    return result('createEvolution', out);
  },
};

/** Open session `id` with the backend of its model set and run `step` on it, after any other operation on it. */
async function stepSession(
  req: { session: string },
  opts: RunOptions & JobRunOptions,
  engine: EngineAdapter,
  library: Library,
  step: (s: EvolutionSession) => Promise<{ generation?: string; individual?: string }>,
): Promise<Stepped> {
  const open = backendOf(engine);
  const dir = sessionDirOf(library.dir, req.session);
  return withSession(dir, async () => {
    const stored = await readSessionFile(dir);
    const handle = await open(stored.model, { clip: stored.fitness?.kind === 'clip' }, opts);
    try {
      const session = await EvolutionSession.open(dir, handle.backend, { fitnessFactory: handle.fitnessFactory });
      try {
        const t0 = performance.now();
        const made = await step(session);
        return { id: req.session, file: session.file, ...made, warnings: handle.warnings, seconds: (performance.now() - t0) / 1000 };
      } finally {
        await session.close();
      }
    } finally {
      await handle.release();
    }
  });
}

export const breedEvolutionJob: JobKind<'breedEvolution', Stepped> = {
  type: 'breedEvolution',
  schema: BreedEvolutionRequestSchema,
  run: (req, opts, { engine, library }) =>
    stepSession(req, opts, engine, library, async (s) => ({ generation: (await s.breed(req.picks, stepOptions(opts))).generation.id })),
  finish: async (_req, out) => result('breedEvolution', out),
};

export const reinvertEvolutionJob: JobKind<'reinvertEvolution', Stepped> = {
  type: 'reinvertEvolution',
  schema: ReinvertEvolutionRequestSchema,
  run: (req, opts, { engine, library }) =>
    stepSession(req, opts, engine, library, async (s) => ({ individual: (await s.reinvert(req.id, stepOptions(opts))).id })),
  finish: async (_req, out) => result('reinvertEvolution', out),
};
