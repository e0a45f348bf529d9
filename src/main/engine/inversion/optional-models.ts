/**
 * Which optional models an inversion uses, decided in one place for the studio and the CLI: a
 * captioner for the start text (Florence-2, else ViT-GPT2), CLIP ViT-L/14 to rank candidates,
 * GPT-2 for the decoder's proposals and fluency term. Only what is installed is used; nothing is
 * ever downloaded. A model set that brings its own (model-set-helpers.ts) gets those first.
 *
 * Without a model the inversion still runs: from random words instead of a caption, ranked by
 * pixel MSE instead of CLIP, decoded without a language model. `warnings` say when that changed
 * the run; `notes` say which models are simply not installed (and how to install them).
 */
import { EngineError } from '../errors.js';
import { DEFAULT_LM_MANIFEST, DEFAULT_LM_REPO, languageModelInstalled, loadCausalLm, type LanguageModel } from '../e2t/language-model.js';
import { CLIP_IMAGE_MANIFEST, CLIP_IMAGE_REPO, clipImageInstalled, loadClipImageScorer } from '../metrics/clip-image.js';
import {
  CAPTIONER_MANIFESTS,
  CAPTIONER_REPOS,
  captionerInstalled,
  captionerInstallHint,
  loadCaptioner,
  type Captioner,
  type CaptionerName,
} from './captioner.js';
import type { ImageScorer } from './invert.js';
import {
  findOwnHelper,
  HELPER_FORMATS,
  HELPER_ROLES,
  type HelperFormats,
  type HelperOf,
  type HelperRole,
  type OwnHelper,
} from './model-set-helpers.js';

/** Captioners tried in this order when none is named (Florence-2 first, as the reference). */
export const CAPTIONER_ORDER: readonly CaptionerName[] = ['florence2', 'vit-gpt2'];

/**
 * How a ranking or language model is chosen: `auto` the set's own, else the cache's when
 * installed (a note when not); `require` the same, with a warning when there is none; `own` only
 * the set's own; `off` none.
 */
export type ModelUse = 'auto' | 'require' | 'own' | 'off';

export interface OptionalModelChoices {
  /**
   * `auto` (default): the set's own captioner, else the first installed of CAPTIONER_ORDER, else
   * none (the inversion starts from random words, with a warning). A name: that captioner from
   * the cache, NOT_INSTALLED when absent. `off`: no captioner (the caller gives the start text).
   */
  captioner?: 'auto' | 'off' | CaptionerName;
  /** CLIP ranking (default auto; without it candidates are ranked by pixel MSE). */
  clip?: ModelUse;
  /** The decoder's language model (default auto). */
  lm?: ModelUse;
}

/** What is installed: the cache's general models and the model set's own helper folders. */
export interface InstalledModels {
  captioners: CaptionerName[];
  clip: boolean;
  lm: boolean;
  own: Partial<Record<HelperRole, OwnHelper>>;
  /** Helper folders of the set that were passed over, and why. */
  ownProblems: string[];
}

/** Looks at files only (loads nothing). */
export function findInstalledModels(cacheDir: string, modelSetDir?: string): InstalledModels {
  const own: InstalledModels['own'] = {};
  const ownProblems: string[] = [];
  if (modelSetDir) {
    for (const role of HELPER_ROLES) {
      const { helper, problem } = findOwnHelper(modelSetDir, role);
      if (helper) own[role] = helper;
      if (problem) ownProblems.push(problem);
    }
  }
  return {
    captioners: (Object.keys(CAPTIONER_REPOS) as CaptionerName[]).filter((c) => captionerInstalled(c, cacheDir)),
    clip: clipImageInstalled(cacheDir),
    lm: languageModelInstalled(cacheDir),
    own,
    ownProblems,
  };
}

export interface OptionalModelsRequest {
  /** The model cache (where `inversion-studio models download` puts them). */
  cacheDir: string;
  /** The model set's folder: its own helpers are preferred. */
  modelSetDir?: string;
  /** What is installed; default: findInstalledModels(cacheDir, modelSetDir). */
  installed?: InstalledModels;
  choices?: OptionalModelChoices;
  /** onnxruntime / transformers.js device for the models loaded. */
  device?: string;
}

/** Where a chosen model comes from: the model set's helper folder, or the cache (by name). */
export type ModelSource = { from: 'set'; dir: string; format: string } | { from: 'cache'; name: string };

export interface OptionalModelPlan {
  captioner?: ModelSource;
  clip?: ModelSource;
  lm?: ModelSource;
  warnings: string[];
  notes: string[];
}

export interface OptionalModels {
  /** Loaded, when the start text is to be a caption. */
  captioner?: Captioner;
  /** CLIP-style ranking; absent: rank by pixel MSE. */
  scorer?: ImageScorer;
  lm?: LanguageModel;
  /** Where each model in use came from. */
  sources: Partial<Record<HelperRole, ModelSource>>;
  warnings: string[];
  notes: string[];
  /** Release what was loaded for this call (nothing when an OptionalModelCache keeps them). */
  release(): Promise<void>;
}

/** Said when an inversion without a start text finds no captioner. */
export const NO_CAPTIONER_WARNING =
  `No captioner is installed (${CAPTIONER_REPOS.florence2}), so the inversion started from random words. ` +
  `Give a start text, or install a captioner (the Models view, or \`inversion-studio models download ${CAPTIONER_MANIFESTS.florence2}\`).`;

/** What each role's cache model is, how to install it, and what the inversion does without it. */
const CACHE_MODELS = {
  clip: {
    name: CLIP_IMAGE_REPO,
    label: 'CLIP ViT-L/14',
    manifest: CLIP_IMAGE_MANIFEST,
    without: 'Candidates are ranked by pixel MSE.',
    absent: `CLIP ViT-L/14 is not installed: ranking candidates by pixel MSE (install it with \`inversion-studio models download ${CLIP_IMAGE_MANIFEST}\`).`,
  },
  lm: {
    name: DEFAULT_LM_REPO,
    label: 'the fluency language model',
    manifest: DEFAULT_LM_MANIFEST,
    without: 'Decoding without the language model (no fluency term).',
    absent: `GPT-2 is not installed: decoding without a language model (install it with \`inversion-studio models download ${DEFAULT_LM_MANIFEST}\`).`,
  },
} as const;

/**
 * Decide which optional models to use, from what is installed and the choices; loads nothing.
 * @throws EngineError('NOT_INSTALLED') when a captioner named in the choices is not installed
 */
export function planOptionalModels(request: OptionalModelsRequest, formats: HelperFormats = HELPER_FORMATS): OptionalModelPlan {
  const { cacheDir, choices = {} } = request;
  const installed = request.installed ?? findInstalledModels(cacheDir, request.modelSetDir);
  const plan: OptionalModelPlan = { warnings: [...installed.ownProblems], notes: [] };
  const own = (role: HelperRole): ModelSource | undefined => {
    const h = installed.own[role];
    if (!h) return undefined;
    if (formats[role][h.format]) return { from: 'set', dir: h.dir, format: h.format };
    plan.warnings.push(`${h.dir} holds a ${role} in format '${h.format}', which this build cannot load; it is not used.`);
    return undefined;
  };

  const cap = choices.captioner ?? 'auto';
  if (cap !== 'off' && cap !== 'auto') {
    assertCaptionerInstalled(cap, cacheDir, installed);
    plan.captioner = { from: 'cache', name: cap };
  } else if (cap === 'auto') {
    const name = CAPTIONER_ORDER.find((c) => installed.captioners.includes(c));
    plan.captioner = own('captioner') ?? (name ? { from: 'cache', name } : undefined);
    if (!plan.captioner) plan.warnings.push(NO_CAPTIONER_WARNING);
  }

  for (const role of ['clip', 'lm'] as const) {
    const use = choices[role] ?? 'auto';
    if (use === 'off') continue;
    const source = own(role);
    const m = CACHE_MODELS[role];
    if (source) plan[role] = source;
    else if (use === 'own') continue;
    else if (installed[role]) plan[role] = { from: 'cache', name: m.name };
    else if (use === 'require')
      plan.warnings.push(
        `${m.label} (${m.name}) is not installed in ${cacheDir}. Install it with \`inversion-studio models download ${m.manifest}\` on a connected machine, or copy the ${m.name} hub folder to ${cacheDir}/${m.name}. ${m.without}`,
      );
    else plan.notes.push(m.absent);
  }
  return plan;
}

/** @throws EngineError('NOT_INSTALLED') saying how to install `name` (or to give a start text) when it is absent */
export function assertCaptionerInstalled(
  name: CaptionerName,
  cacheDir: string,
  installed: Pick<InstalledModels, 'captioners'> = { captioners: captionerInstalled(name, cacheDir) ? [name] : [] },
): void {
  if (installed.captioners.includes(name)) return;
  throw new EngineError(
    'NOT_INSTALLED',
    `the ${name} captioner (${CAPTIONER_REPOS[name]}) is not installed in ${cacheDir}. ${captionerInstallHint(name, cacheDir)}`,
  );
}

/** One loaded value per key; a failed load is forgotten so the next call tries again. */
class LoadedOnce<T> {
  private entry?: { key: string; value: Promise<T> };
  constructor(private readonly release: (old: T) => Promise<void> = async () => undefined) {}

  async get(key: string, load: () => Promise<T>): Promise<T> {
    if (this.entry?.key !== key) {
      const old = this.entry;
      this.entry = { key, value: load() };
      const previous = await old?.value.catch(() => undefined);
      if (previous !== undefined) await this.release(previous);
    }
    const entry = this.entry;
    return entry.value.catch((e: unknown) => {
      if (this.entry === entry) this.entry = undefined;
      throw e;
    });
  }

  async clear(): Promise<void> {
    const old = this.entry;
    this.entry = undefined;
    const previous = await old?.value.catch(() => undefined);
    if (previous !== undefined) await this.release(previous);
  }
}

/**
 * Keeps the optional models loaded between inversions (they are large: every inversion would
 * load them again), one per role; a different source replaces (and releases) the previous one.
 */
export class OptionalModelCache {
  private readonly slots = {
    captioner: new LoadedOnce<Captioner>(),
    clip: new LoadedOnce<HelperOf['clip']>((s) => s.release()),
    lm: new LoadedOnce<LanguageModel>(),
  };

  get<R extends HelperRole>(role: R, key: string, load: () => Promise<HelperOf[R]>): Promise<HelperOf[R]> {
    return (this.slots[role] as unknown as LoadedOnce<HelperOf[R]>).get(key, load);
  }

  async dispose(): Promise<void> {
    await Promise.all(Object.values(this.slots).map((s) => s.clear()));
  }
}

function loaderFor<R extends HelperRole>(
  role: R,
  source: ModelSource,
  o: { cacheDir: string; device?: string },
  formats: HelperFormats,
): () => Promise<HelperOf[R]> {
  const device = o.device ? { device: o.device } : {};
  if (source.from === 'set') {
    const load = formats[role][source.format]!;
    return () => load(source.dir, device);
  }
  const { cacheDir } = o;
  const loaders: { [K in HelperRole]: () => Promise<HelperOf[K]> } = {
    captioner: () => loadCaptioner({ cacheDir, captioner: source.name as CaptionerName, offline: true, ...device }),
    clip: () => loadClipImageScorer({ cacheDir, ...device }),
    lm: () => loadCausalLm({ cacheDir, offline: true, ...device }),
  };
  return loaders[role];
}

/**
 * Load the models of a plan. A ranking or language model that is installed but cannot be loaded
 * (an incomplete folder) is left out with a warning, and the inversion runs without it; a
 * captioner that cannot be loaded is an error (the start text would silently be random words).
 * @param keep keeps the models loaded for later calls; without it they are this call's to release
 */
export async function loadOptionalModels(
  plan: OptionalModelPlan,
  o: { cacheDir: string; device?: string },
  keep?: OptionalModelCache,
  formats: HelperFormats = HELPER_FORMATS,
): Promise<OptionalModels> {
  const warnings = [...plan.warnings];
  const sources: OptionalModels['sources'] = {};
  const loaded: { clip?: HelperOf['clip'] } = {};
  const load = async <R extends HelperRole>(role: R): Promise<HelperOf[R] | undefined> => {
    const source = plan[role];
    if (!source) return undefined;
    const fresh = loaderFor(role, source, o, formats);
    const key = source.from === 'set' ? `set|${source.dir}` : `cache|${o.cacheDir}|${source.name}`;
    const value = await (keep ? keep.get(role, key, fresh) : fresh());
    sources[role] = source;
    return value;
  };
  const optional = async <R extends 'clip' | 'lm'>(role: R): Promise<HelperOf[R] | undefined> => {
    try {
      return await load(role);
    } catch (e) {
      if (!(e instanceof EngineError)) throw e;
      warnings.push(`${e.message} ${CACHE_MODELS[role].without}`);
      return undefined;
    }
  };
  const captioner = await load('captioner');
  const scorer = await optional('clip');
  if (scorer && !keep) loaded.clip = scorer;
  const lm = await optional('lm');
  return {
    ...(captioner ? { captioner } : {}),
    ...(scorer ? { scorer } : {}),
    ...(lm ? { lm } : {}),
    sources,
    warnings,
    notes: [...plan.notes],
    release: async () => {
      await loaded.clip?.release();
    },
  };
}

/**
 * Which optional models an inversion uses, loaded: planOptionalModels, then loadOptionalModels.
 * @throws EngineError('NOT_INSTALLED') for a named captioner that is absent or cannot be loaded
 */
export async function resolveOptionalModels(
  request: OptionalModelsRequest,
  keep?: OptionalModelCache,
  formats: HelperFormats = HELPER_FORMATS,
): Promise<OptionalModels> {
  const plan = planOptionalModels(request, formats);
  return loadOptionalModels(plan, { cacheDir: request.cacheDir, ...(request.device ? { device: request.device } : {}) }, keep, formats);
}
