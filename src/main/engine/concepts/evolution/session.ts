/**
 * Evolution sessions (docs/fusion-evolution.md): a population of individuals with readable
 * genomes (prompt, seed; an embedding for those born in embedding space), bred generation after
 * generation from the artist's picks and/or a fitness, with elitism, locked words, re-inversion of
 * a chosen image into the gene pool, and branching from any ancestor. Everything persists in the
 * session folder (store.ts) after each step, so a session resumes after a restart, and every
 * random choice is keyed by (session seed, generation, choices), so the same seed and the same
 * choices give the same children.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { CancelledError, EngineError } from '../../errors.js';
import type { ImageTensor } from '../../attention/image-attention.js';
import { imageToPng, loadImage } from '../../image/image-io.js';
import { normals } from '../../models/demo/prng.js';
import { lerpMany, rms, slerp } from '../fusion/embedding-math.js';
import type { EvolutionBackend, RenderSettings } from './backend.js';
import { checkerFitness, type Fitness, type FitnessSpec } from './fitness.js';
import { containsWords, enforceLocks, promptCrossover, wordMutation } from './operators.js';
import { Random } from './random.js';
import {
  SESSION_FORMAT,
  SESSION_VERSION,
  SessionSettingsSchema,
  type Generation,
  type Individual,
  type Operator,
  type SessionFile,
  type SessionSettings,
  type StoredFitness,
} from './session-schema.js';
import {
  assetPath,
  embeddingBytes,
  embeddingFromBytes,
  EvolutionSessionError,
  readAsset,
  readSessionFile,
  sessionFilePath,
  sha256,
  writeAsset,
  writeSessionFile,
} from './store.js';

/** How a session starts: prompts and images (an image's recorded prompt is used, else it is inverted). */
export type SessionInit =
  | { kind: 'prompt'; text: string }
  | {
      kind: 'image';
      image: ImageTensor;
      /** The image file's bytes, kept in targets/ (default: the tensor encoded as PNG). */
      png?: Uint8Array;
      recorded?: { prompt: string; model: string };
    };

/** A session's fitness as asked for (a clip target is given as an image and stored in targets/). */
export type FitnessRequest = Exclude<FitnessSpec, { kind: 'clip' }> | { kind: 'clip'; image: ImageTensor; png?: Uint8Array };

/** Builds the fitness of a stored spec (clip/text need models the caller loads; see defaultFitnessFactory). */
export type FitnessFactory = (spec: StoredFitness, sessionDir: string) => Promise<Fitness>;

export interface CreateSessionRequest {
  init: SessionInit[];
  settings?: Partial<Omit<SessionSettings, 'render' | 'operators'>> & {
    render?: Partial<RenderSettings>;
    operators?: Partial<SessionSettings['operators']>;
  };
  fitness?: FitnessRequest;
  name?: string;
  /** Session id (default: the folder's name). */
  id?: string;
}

export interface EvolutionProgress {
  phase: 'invert' | 'breed' | 'render' | 'fitness' | 'save';
  done: number;
  total: number;
  id?: string;
  message?: string;
}

export interface StepOptions {
  signal?: AbortSignal;
  onProgress?: (e: EvolutionProgress) => void;
}

export interface SessionOptions {
  /** Fitness of the stored spec (default: the checker only; clip and text need this). */
  fitnessFactory?: FitnessFactory;
}

/** An individual with its files as absolute paths (for the studio's lineage tree and grids). */
export interface IndividualView extends Individual {
  imagePath: string;
  thumbnailPath: string;
}

export interface GenerationView {
  generation: Generation;
  individuals: IndividualView[];
  /** The highest fitness in the generation (absent without a fitness). */
  best?: number;
}

/** The whole session as a tree: every individual with its parents, and the generations' own tree. */
export interface LineageTree {
  head: string;
  generations: Generation[];
  nodes: IndividualView[];
  /** [parent id, child id] for every parent link. */
  edges: [string, string][];
}

/** Default settings; embedding operators only where the backend can encode and decode. */
export function defaultSettings(backend: EvolutionBackend): Omit<SessionSettings, 'render'> & { render: RenderSettings } {
  const emb = backend.encode !== undefined && backend.decode !== undefined;
  return {
    seed: 0,
    population: 8,
    elite: 1,
    tournament: 3,
    operators: { promptCrossover: 0.4, embeddingCrossover: emb ? 0.15 : 0, wordMutation: 0.35, gaussianMutation: emb ? 0.1 : 0 },
    mutationRate: 0.3,
    seedMutationRate: 0.2,
    rootRate: 0.2,
    sigma: 0.25,
    interpolation: 'slerp',
    joiner: 'and',
    render: { ...backend.defaults },
  };
}

const now = () => new Date().toISOString();
const pad = (k: number) => String(k).padStart(2, '0');

/** Thumbnail side, pixels (images at most this size are their own thumbnail's pixels). */
export const THUMBNAIL_SIDE = 128;

async function thumbnail(png: Buffer, width: number, height: number): Promise<Buffer> {
  if (Math.max(width, height) <= THUMBNAIL_SIDE) return png;
  return sharp(png)
    .resize(THUMBNAIL_SIDE, THUMBNAIL_SIDE, { fit: 'inside' })
    .png({ compressionLevel: 6, adaptiveFiltering: false })
    .toBuffer();
}

/** The default fitness factory: the shapes-world checker; clip/text say they need a scorer. */
export const checkerOnlyFitness: FitnessFactory = async (spec) => {
  if (spec.kind === 'checker') return checkerFitness(spec.prompt);
  throw new EngineError(
    'NOT_INSTALLED',
    `this session's ${spec.kind} fitness needs a CLIP model: open it with a fitness factory that loads one (the CLI and the studio do)`,
  );
};

/** Load a session target image (targets/…) as a tensor at the session's render size. */
export async function loadTarget(sessionDir: string, rel: string, width: number, height: number): Promise<ImageTensor> {
  const img = await loadImage(assetPath(sessionDir, rel), { width, height });
  return { data: img.data, width: img.width, height: img.height };
}

export class EvolutionSession {
  private state: SessionFile;
  private fitnessFn: Fitness | undefined;
  private fitnessLoaded = false;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly dir: string,
    private readonly backend: EvolutionBackend,
    state: SessionFile,
    private readonly options: SessionOptions,
  ) {
    this.state = state;
  }

  /**
   * Start a session in `dir` (created; it must be empty or absent): the initial individuals
   * (prompts; images by their recorded prompt or by inversion), filled up to the population with
   * word mutations of them, rendered and scored.
   * @throws EvolutionSessionError('exists') when `dir` already holds a session or other files;
   *   EngineError('INVALID_ARGUMENT') for no init, bad settings, an image from another model set
   */
  static async create(
    dir: string,
    backend: EvolutionBackend,
    req: CreateSessionRequest,
    opts: StepOptions & SessionOptions = {},
  ): Promise<EvolutionSession> {
    const root = path.resolve(dir);
    const entries = await readdir(root).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [] as string[];
      throw new EvolutionSessionError(`cannot use ${root} for a session: ${e.message}`, 'exists', root);
    });
    if (entries.includes('session.json'))
      throw new EvolutionSessionError(`${root} already holds an evolution session; open it to continue`, 'exists', sessionFilePath(root));
    const foreign = entries.filter((e) => !e.startsWith('.'));
    if (foreign.length)
      throw new EvolutionSessionError(
        `${root} is not empty (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}); start a session in an empty or new folder`,
        'exists',
        root,
      );
    if (req.init.length === 0) throw new EngineError('INVALID_ARGUMENT', 'a session needs at least one initial image or prompt');
    const base = defaultSettings(backend);
    const parsed = SessionSettingsSchema.safeParse({
      ...base,
      ...req.settings,
      operators: { ...base.operators, ...req.settings?.operators },
      render: { ...base.render, ...req.settings?.render },
    });
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new EngineError('INVALID_ARGUMENT', `bad session setting ${i.path.join('.')}: ${i.message}`);
    }
    const settings = parsed.data;
    if (settings.elite >= settings.population)
      throw new EngineError('INVALID_ARGUMENT', `elite (${settings.elite}) must be smaller than the population (${settings.population})`);
    const emb = backend.encode !== undefined && backend.decode !== undefined;
    if (!emb && (settings.operators.embeddingCrossover > 0 || settings.operators.gaussianMutation > 0))
      throw new EngineError(
        'INVALID_ARGUMENT',
        `the ${backend.model} backend has no text encoder or decoder: embedding operators must be 0`,
      );
    const ops = settings.operators;
    if (ops.promptCrossover + ops.embeddingCrossover + ops.wordMutation + ops.gaussianMutation <= 0)
      throw new EngineError('INVALID_ARGUMENT', 'at least one operator weight must be above 0');
    for (const i of req.init) {
      if (i.kind === 'prompt' && i.text.trim() === '') throw new EngineError('INVALID_ARGUMENT', 'an initial prompt is empty');
      if (i.kind === 'image' && i.recorded && i.recorded.model !== backend.model)
        throw new EngineError(
          'INVALID_ARGUMENT',
          `an initial image was made with model set '${i.recorded.model}', but this session renders with '${backend.model}'; ` +
            `evolve on '${i.recorded.model}', or give the image without its record so it is inverted on '${backend.model}'`,
        );
      if (i.kind === 'image' && !i.recorded && !backend.invert)
        throw new EngineError('INVALID_ARGUMENT', `the ${backend.model} backend cannot invert images: give prompts`);
    }
    let fitness: StoredFitness | undefined;
    const pending: [string, Uint8Array][] = [];
    if (req.fitness?.kind === 'clip') {
      const png = req.fitness.png ?? (await imageToPng(req.fitness.image.data, req.fitness.image.width, req.fitness.image.height));
      pending.push(['targets/fitness.png', png]);
      fitness = { kind: 'clip', image: 'targets/fitness.png' };
    } else if (req.fitness) fitness = req.fitness;
    if (fitness?.kind === 'checker') checkerFitness(fitness.prompt); // a bad caption fails before any work
    const t = now();
    const state: SessionFile = {
      format: SESSION_FORMAT,
      version: SESSION_VERSION,
      id: req.id ?? path.basename(root),
      ...(req.name ? { name: req.name } : {}),
      createdAt: t,
      updatedAt: t,
      model: backend.model,
      settings,
      ...(fitness ? { fitness } : {}),
      head: 'g0',
      generations: [{ id: 'g0', kind: 'init', members: [], createdAt: t }],
      individuals: [],
      events: [{ at: t, kind: 'create', generation: 'g0' }],
    };
    const session = new EvolutionSession(root, backend, state, opts);
    for (const [rel, bytes] of pending) await writeAsset(root, rel, bytes);
    await session.initialGeneration(req.init, opts);
    return session;
  }

  /**
   * Open a saved session (resume). Changes nothing on disk.
   * @throws EvolutionSessionError (missing, damaged, foreign, another version); EngineError when
   *   the session was made with another model set than the backend's
   */
  static async open(dir: string, backend: EvolutionBackend, opts: SessionOptions = {}): Promise<EvolutionSession> {
    const root = path.resolve(dir);
    const state = await readSessionFile(root);
    if (state.model !== backend.model)
      throw new EngineError(
        'INVALID_ARGUMENT',
        `the session in ${root} renders with model set '${state.model}', not '${backend.model}'; open it with --models ${state.model}`,
      );
    return new EvolutionSession(root, backend, state, opts);
  }

  /** A deep copy of the session file's content. */
  get file(): SessionFile {
    return structuredClone(this.state);
  }

  get settings(): SessionSettings {
    return structuredClone(this.state.settings);
  }

  individual(id: string): IndividualView {
    const i = this.state.individuals.find((x) => x.id === id);
    if (!i) throw new EngineError('INVALID_ARGUMENT', `no individual ${id} in this session`);
    return this.view(i);
  }

  /** The generation breeding continues from. */
  head(): GenerationView {
    return this.generationView(this.state.head);
  }

  generationView(id: string): GenerationView {
    const g = this.state.generations.find((x) => x.id === id);
    if (!g) throw new EngineError('INVALID_ARGUMENT', `no generation ${id} in this session`);
    const individuals = g.members.map((m) => this.individual(m));
    const fit = individuals.map((i) => i.fitness).filter((f): f is number => f !== undefined);
    return { generation: structuredClone(g), individuals, ...(fit.length ? { best: Math.max(...fit) } : {}) };
  }

  /** The best individual of the whole session by fitness (ties: the earliest), or undefined without a fitness. */
  best(): IndividualView | undefined {
    let best: Individual | undefined;
    for (const i of this.state.individuals) if (i.fitness !== undefined && (!best || i.fitness > best.fitness!)) best = i;
    return best ? this.view(best) : undefined;
  }

  lineage(): LineageTree {
    return {
      head: this.state.head,
      generations: structuredClone(this.state.generations),
      nodes: this.state.individuals.map((i) => this.view(i)),
      edges: this.state.individuals.flatMap((i) => i.parents.map((p) => [p, i.id] as [string, string])),
    };
  }

  /**
   * Breed the next generation from the head: parents are the picks (any individuals of the
   * session) or, without picks, chosen by tournament on fitness; the best `elite` of the head (by
   * fitness; without one, the first picks) carry over unchanged; the rest are children of the
   * operators. The new generation becomes the head.
   * @throws EngineError('INVALID_ARGUMENT') without picks and without a fitness; CancelledError
   *   (the session is then unchanged)
   */
  breed(picks?: readonly string[], opts: StepOptions = {}): Promise<GenerationView> {
    return this.serial(() => this.breedNow(picks, opts));
  }

  /** Set the words an individual's children must keep (each must occur in its prompt; [] clears). */
  lock(id: string, words: readonly string[]): Promise<IndividualView> {
    return this.serial(async () => {
      const ind = this.find(id);
      const clean = [...new Set(words.map((w) => w.trim()).filter(Boolean))];
      const absent = clean.filter((w) => !containsWords(ind.prompt, w));
      if (absent.length)
        throw new EngineError(
          'INVALID_ARGUMENT',
          `${id}'s prompt "${ind.prompt}" does not contain ${absent.map((w) => `"${w}"`).join(', ')}`,
        );
      const next = structuredClone(this.state);
      next.individuals.find((x) => x.id === id)!.locks = clean;
      next.events.push({ at: now(), kind: 'lock', ids: [id], words: clean });
      await this.commit(next);
      return this.individual(id);
    });
  }

  /**
   * Invert an individual's image (EDITOR) and add the recovered prompt to the head generation as
   * a new individual (operator 'reinvert', same seed), rendered and scored.
   */
  reinvert(id: string, opts: StepOptions = {}): Promise<IndividualView> {
    return this.serial(async () => {
      const src = this.find(id);
      if (!this.backend.invert) throw new EngineError('INVALID_ARGUMENT', `the ${this.backend.model} backend cannot invert images`);
      const s = this.state.settings.render;
      const image = await loadTarget(this.dir, src.image, s.width, s.height);
      opts.onProgress?.({ phase: 'invert', done: 0, total: 1, id });
      const r = await this.backend.invert(image, {
        ...(opts.signal ? { signal: opts.signal } : {}),
        onProgress: (m) => opts.onProgress?.({ phase: 'invert', done: 0, total: 1, id, message: m }),
      });
      const next = structuredClone(this.state);
      const head = next.generations.find((g) => g.id === next.head)!;
      const k = next.individuals.filter((i) => i.generation === head.id && i.operator === 'reinvert').length + 1;
      const prompt = enforceLocks(r.prompt, src.locks);
      const child: Draft = {
        id: `${head.id}-r${k}`,
        generation: head.id,
        prompt,
        seed: src.seed,
        parents: [src.id],
        operator: 'reinvert',
        detail: `EDITOR inversion of ${src.id}`,
        locks: src.locks.filter((l) => containsWords(prompt, l)),
      };
      const [done] = await this.realise([child], opts);
      next.individuals.push(done!);
      head.members.push(done!.id);
      next.events.push({ at: now(), kind: 'reinvert', generation: head.id, ids: [src.id, done!.id] });
      await this.commit(next);
      return this.individual(done!.id);
    });
  }

  /**
   * Make an ancestor's generation the head again, as a new branch generation whose default pick is
   * that ancestor; later breeding continues from there. The lineage keeps everything.
   */
  branch(fromId: string): Promise<GenerationView> {
    return this.serial(async () => {
      const from = this.find(fromId);
      const next = structuredClone(this.state);
      const born = next.generations.find((g) => g.id === from.generation)!;
      const id = `g${next.generations.length}`;
      next.generations.push({ id, parent: born.id, kind: 'branch', members: [...born.members], branchedFrom: fromId, createdAt: now() });
      next.head = id;
      next.events.push({ at: now(), kind: 'branch', generation: id, ids: [fromId] });
      await this.commit(next);
      return this.head();
    });
  }

  /**
   * Copy the session into `outDir` (absent or empty): session.json, every image, thumbnail,
   * embedding and target, plus lineage.json and prompts.tsv (id, generation, operator, parents,
   * seed, fitness, prompt).
   */
  exportTo(outDir: string): Promise<{ dir: string; files: number }> {
    return this.serial(async () => {
      const out = path.resolve(outDir);
      const entries = await readdir(out).catch(() => [] as string[]);
      if (entries.filter((e) => !e.startsWith('.')).length)
        throw new EvolutionSessionError(`the export folder ${out} is not empty; choose a new or empty folder`, 'exists', out);
      const rels = new Set<string>();
      for (const i of this.state.individuals) {
        rels.add(i.image);
        rels.add(i.thumbnail);
        if (i.embedding) rels.add(i.embedding.file);
      }
      if (this.state.fitness?.kind === 'clip') rels.add(this.state.fitness.image);
      for (const e of await readdir(path.join(this.dir, 'targets')).catch(() => [] as string[]))
        if (!e.startsWith('.')) rels.add(`targets/${e}`);
      for (const rel of rels) await writeAsset(out, rel, await readAsset(this.dir, rel));
      await writeSessionFile(out, this.state);
      const tree = this.lineage();
      const relTree = { ...tree, nodes: tree.nodes.map(({ imagePath: _i, thumbnailPath: _t, ...n }) => n) };
      await writeAsset(out, 'lineage.json', Buffer.from(JSON.stringify(relTree, null, 1)));
      const tsv = [
        'id\tgeneration\toperator\tparents\tseed\tfitness\tprompt',
        ...this.state.individuals.map((i) =>
          [i.id, i.generation, i.operator, i.parents.join(','), i.seed, i.fitness ?? '', i.prompt.replace(/[\t\n]/g, ' ')].join('\t'),
        ),
      ].join('\n');
      await writeAsset(out, 'prompts.tsv', Buffer.from(`${tsv}\n`));
      return { dir: out, files: rels.size + 3 };
    });
  }

  /** Release the fitness models (the backend belongs to the caller). */
  async close(): Promise<void> {
    await this.chain.catch(() => undefined);
    await this.fitnessFn?.release();
    this.fitnessFn = undefined;
    this.fitnessLoaded = false;
  }

  // ------------------------------------------------------------------------------ internals

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.chain.then(f, f);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private find(id: string): Individual {
    const i = this.state.individuals.find((x) => x.id === id);
    if (!i) throw new EngineError('INVALID_ARGUMENT', `no individual ${id} in this session`);
    return i;
  }

  private view(i: Individual): IndividualView {
    return { ...structuredClone(i), imagePath: assetPath(this.dir, i.image), thumbnailPath: assetPath(this.dir, i.thumbnail) };
  }

  private async fitness(): Promise<Fitness | undefined> {
    if (!this.fitnessLoaded) {
      const spec = this.state.fitness;
      this.fitnessFn = spec ? await (this.options.fitnessFactory ?? checkerOnlyFitness)(spec, this.dir) : undefined;
      this.fitnessLoaded = true;
    }
    return this.fitnessFn;
  }

  private async commit(next: SessionFile): Promise<void> {
    next.updatedAt = now();
    await writeSessionFile(this.dir, next);
    this.state = next;
  }

  private async embeddingOf(i: Individual): Promise<{ embedding: Float32Array; length: number }> {
    if (i.embedding) {
      const bytes = await readAsset(this.dir, i.embedding.file);
      if (sha256(bytes) !== i.embedding.sha256)
        throw new EvolutionSessionError(
          `the embedding file ${i.embedding.file} of ${i.id} in ${this.dir} does not match its checksum (damaged); breed from other individuals, or restore the session from an export`,
          'damaged',
          assetPath(this.dir, i.embedding.file),
        );
      return { embedding: embeddingFromBytes(bytes), length: i.embedding.length };
    }
    return this.backend.encode!(i.prompt);
  }

  /** Render, thumbnail, score and write a child's files; returns the stored individual. */
  private async realise(drafts: readonly Draft[], opts: StepOptions): Promise<Individual[]> {
    const fit = await this.fitness();
    const out: Individual[] = [];
    for (const [k, d] of drafts.entries()) {
      if (opts.signal?.aborted) throw new CancelledError('breeding cancelled; the session is unchanged');
      opts.onProgress?.({ phase: 'render', done: k, total: drafts.length, id: d.id });
      const r = await this.backend.render(
        { prompt: d.prompt, ...(d.embedding ? { embedding: d.embedding.data } : {}), seed: d.seed, settings: this.state.settings.render },
        opts.signal ? { signal: opts.signal } : {},
      );
      const image = `images/${d.id}.png`;
      const thumb = `thumbs/${d.id}.png`;
      await writeAsset(this.dir, image, r.png);
      await writeAsset(this.dir, thumb, await thumbnail(r.png, r.image.width, r.image.height));
      let embedding: Individual['embedding'];
      if (d.embedding) {
        const bytes = embeddingBytes(d.embedding.data);
        const file = `embeddings/${d.id}.f32`;
        await writeAsset(this.dir, file, bytes);
        embedding = { file, sha256: sha256(bytes), length: d.embedding.length };
      }
      let fitness: number | undefined;
      if (fit) {
        opts.onProgress?.({ phase: 'fitness', done: k, total: drafts.length, id: d.id });
        fitness = await fit.score(r.image);
      }
      out.push({
        id: d.id,
        generation: d.generation,
        prompt: d.prompt,
        seed: d.seed,
        parents: d.parents,
        operator: d.operator,
        ...(d.detail ? { detail: d.detail } : {}),
        conditioning: d.embedding ? 'embedding' : 'text',
        ...(embedding ? { embedding } : {}),
        ...(d.decodedDistance !== undefined ? { decodedDistance: d.decodedDistance } : {}),
        image,
        thumbnail: thumb,
        ...(fitness !== undefined ? { fitness } : {}),
        locks: d.locks,
        createdAt: now(),
      });
    }
    opts.onProgress?.({ phase: 'render', done: drafts.length, total: drafts.length });
    return out;
  }

  private async initialGeneration(init: readonly SessionInit[], opts: StepOptions): Promise<void> {
    const s = this.state.settings;
    const rng = new Random(s.seed, 'g0/init');
    const drafts: Draft[] = [];
    const seen = new Set<string>();
    for (const [k, i] of init.entries()) {
      let prompt: string;
      let operator: Operator = 'init';
      let detail: string | undefined;
      if (i.kind === 'prompt') prompt = i.text.trim();
      else {
        const png = i.png ?? (await imageToPng(i.image.data, i.image.width, i.image.height));
        await writeAsset(this.dir, `targets/init-${pad(k)}.png`, png);
        operator = 'init-image';
        if (i.recorded && i.recorded.prompt.trim()) {
          prompt = i.recorded.prompt.trim();
          detail = `recorded prompt of targets/init-${pad(k)}.png`;
        } else {
          opts.onProgress?.({ phase: 'invert', done: k, total: init.length });
          prompt = (await this.backend.invert!(i.image, opts.signal ? { signal: opts.signal } : {})).prompt;
          detail = `EDITOR inversion of targets/init-${pad(k)}.png`;
        }
      }
      seen.add(prompt.toLowerCase());
      drafts.push({
        id: `g0-${pad(k)}`,
        generation: 'g0',
        prompt,
        seed: rng.seed(),
        parents: [],
        operator,
        ...(detail ? { detail } : {}),
        locks: [],
      });
    }
    // Fill up the population with word mutations of the initial individuals (round robin).
    for (let k = drafts.length, tries = 0; k < s.population && tries < s.population * 20; tries++) {
      const src = drafts[k % init.length]!;
      const m = await wordMutation(src.prompt, rng, {
        ...(this.backend.lm ? { lm: this.backend.lm } : {}),
        dictionary: this.backend.dictionary,
      });
      if (seen.has(m.text.toLowerCase()) && tries < s.population * 10) continue;
      seen.add(m.text.toLowerCase());
      drafts.push({
        id: `g0-${pad(k)}`,
        generation: 'g0',
        prompt: m.text,
        seed: rng.seed(),
        parents: [src.id],
        operator: 'word-mutation',
        detail: m.detail,
        locks: [],
      });
      k++;
    }
    const done = await this.realise(drafts, opts);
    const next = structuredClone(this.state);
    next.individuals.push(...done);
    next.generations[0]!.members = done.map((d) => d.id);
    await this.commit(next);
  }

  private async breedNow(picksIn: readonly string[] | undefined, opts: StepOptions): Promise<GenerationView> {
    const st = this.state;
    const s = st.settings;
    const head = st.generations.find((g) => g.id === st.head)!;
    const members = head.members.map((m) => this.find(m));
    const fit = await this.fitness();
    const picks =
      picksIn && picksIn.length
        ? [...new Set(picksIn)]
        : head.kind === 'branch' && !fit && head.branchedFrom
          ? [head.branchedFrom]
          : undefined;
    for (const p of picks ?? []) this.find(p);
    if (!picks && !fit)
      throw new EngineError('INVALID_ARGUMENT', 'pick at least one favourite to breed from (this session has no fitness to select by)');
    // Individuals of the head without a fitness (a fitness added later, or reinverted ones): none here; all are scored when made.
    const id = `g${st.generations.length}`;
    const rng = new Random(s.seed, `${id}/${head.id}/${picks ? picks.join(',') : 'fitness'}`);
    const byFitness = [...members].sort((a, b) => (b.fitness ?? -Infinity) - (a.fitness ?? -Infinity));
    const elites = fit ? byFitness.slice(0, s.elite) : (picks ?? []).slice(0, s.elite).map((p) => this.find(p));
    const pool = picks ? picks.map((p) => this.find(p)) : members;
    const select = (): Individual => {
      if (picks || !fit) return rng.pick(pool);
      let best: Individual | undefined;
      for (let k = 0; k < Math.min(s.tournament, pool.length); k++) {
        const c = rng.pick(pool);
        if (!best || (c.fitness ?? -Infinity) > (best.fitness ?? -Infinity)) best = c;
      }
      return best!;
    };
    // The session's starting concepts (init prompts and images), as occasional crossover partners.
    const roots = st.individuals.filter((i) => i.operator === 'init' || i.operator === 'init-image');
    const emb = this.backend.encode !== undefined && this.backend.decode !== undefined && this.backend.embedding !== undefined;
    const distinct = pool.length > 1;
    const w = s.operators;
    const weights = [
      distinct ? w.promptCrossover : 0,
      emb && distinct ? w.embeddingCrossover : 0,
      w.wordMutation,
      emb ? w.gaussianMutation : 0,
    ];
    if (weights.every((x) => x <= 0)) weights[2] = 1;
    const lmOpts = { ...(this.backend.lm ? { lm: this.backend.lm } : {}), dictionary: this.backend.dictionary };
    const keyOf = (prompt: string, seed: number) => `${prompt.toLowerCase().replace(/\s+/g, ' ').trim()}#${seed}`;
    const seen = new Set(elites.map((e) => keyOf(e.prompt, e.seed)));
    const drafts: Draft[] = [];
    const children = s.population - elites.length;
    for (let k = 0; drafts.length < children; k++) {
      if (opts.signal?.aborted) throw new CancelledError('breeding cancelled; the session is unchanged');
      opts.onProgress?.({ phase: 'breed', done: drafts.length, total: children });
      const last = k >= children * 8; // give up on distinctness after many tries
      const op = rng.weighted(weights);
      const a = select();
      let b = select();
      for (let t = 0; t < 4 && b.id === a.id && pool.length > 1; t++) b = select();
      if (op <= 1 && roots.length && rng.chance(s.rootRate)) {
        const r = rng.pick(roots);
        if (r.id !== a.id) b = r;
      }
      const locks = [...new Set([...a.locks, ...(op <= 1 ? b.locks : [])])];
      let draft: Omit<Draft, 'id' | 'generation' | 'seed'>;
      if (op === 0) {
        const c = promptCrossover(a.prompt, b.prompt, rng, { locks, joiner: s.joiner });
        let text = c.text;
        let detail = `phrases ${c.detail}`;
        if (rng.chance(s.mutationRate)) {
          const m = await wordMutation(text, rng, { ...lmOpts, locks });
          text = m.text;
          detail += `; ${m.detail}`;
        }
        draft = { prompt: text, parents: [a.id, b.id], operator: 'prompt-crossover', detail, locks };
      } else if (op === 2) {
        const m = await wordMutation(a.prompt, rng, { ...lmOpts, locks });
        draft = { prompt: m.text, parents: [a.id], operator: 'word-mutation', detail: m.detail, locks };
      } else {
        const ea = await this.embeddingOf(a);
        const dim = this.backend.embedding!.dim;
        let e: Float32Array;
        let detail: string;
        let inits: string[];
        let length = ea.length;
        const parents = op === 1 ? [a.id, b.id] : [a.id];
        if (op === 1) {
          const eb = await this.embeddingOf(b);
          const t = 0.25 + 0.5 * rng.next();
          e = s.interpolation === 'lerp' ? lerpMany([ea.embedding, eb.embedding], [1 - t, t]) : slerp(ea.embedding, eb.embedding, t, dim);
          detail = `${s.interpolation} t=${t.toFixed(3)}`;
          inits = t < 0.5 ? [a.prompt, b.prompt] : [b.prompt, a.prompt];
          length = Math.max(ea.length, eb.length);
        } else {
          const noise = normals(s.seed, `${id}/gauss/${k}`, ea.embedding.length, s.sigma * rms(ea.embedding));
          e = ea.embedding.map((v, i) => v + noise[i]!);
          detail = `gaussian sigma=${s.sigma}×rms`;
          inits = [a.prompt];
        }
        opts.onProgress?.({ phase: 'breed', done: drafts.length, total: children, message: 'decoding an embedding to text' });
        const dec = await this.backend.decode!(e, { length, inits, ...(opts.signal ? { signal: opts.signal } : {}) });
        const text = enforceLocks(dec.text, locks);
        // A decoded text that lost a locked word is rendered from its (repaired) text, so the word is really there.
        const keepEmbedding = text === dec.text;
        draft = {
          prompt: text,
          parents,
          operator: op === 1 ? 'embedding-crossover' : 'gaussian-mutation',
          detail: keepEmbedding ? detail : `${detail}; locked words restored`,
          locks,
          decodedDistance: dec.distance,
          ...(keepEmbedding ? { embedding: { data: e, length } } : {}),
        };
      }
      const seed = rng.chance(s.seedMutationRate) ? rng.seed() : a.seed;
      const key = keyOf(draft.prompt, seed);
      if (seen.has(key) && !last) continue;
      seen.add(key);
      drafts.push({
        ...draft,
        id: `${id}-${pad(drafts.length)}`,
        generation: id,
        seed,
        locks: draft.locks.filter((l) => containsWords(draft.prompt, l)),
      });
    }
    const done = await this.realise(drafts, opts);
    opts.onProgress?.({ phase: 'save', done: 0, total: 1 });
    const next = structuredClone(st);
    next.individuals.push(...done);
    next.generations.push({
      id,
      parent: head.id,
      kind: 'bred',
      members: [...elites.map((e) => e.id), ...done.map((d) => d.id)],
      ...(picks ? { picks } : {}),
      createdAt: now(),
    });
    next.head = id;
    next.events.push({ at: now(), kind: 'breed', generation: id, ...(picks ? { ids: picks } : {}) });
    await this.commit(next);
    return this.head();
  }
}

/** A child before it is rendered. */
interface Draft {
  id: string;
  generation: string;
  prompt: string;
  seed: number;
  parents: string[];
  operator: Operator;
  detail?: string;
  locks: string[];
  decodedDistance?: number;
  embedding?: { data: Float32Array; length: number };
}
