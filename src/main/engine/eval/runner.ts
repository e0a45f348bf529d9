/**
 * The evaluation harness: every dataset item × method × seed (× ablation value) inverted,
 * regenerated from the answer and scored; each result appended to `<run>/results.jsonl` as it
 * finishes (a rerun skips what is done and redoes failed or cancelled units), regenerations saved
 * under `<run>/images/`, and at the end the report (report.ts). docs/evaluation.md describes it.
 */
import path from 'node:path';
import { loadModelSet, type ModelSet } from '../diffusion/load-model-set.js';
import { generate } from '../diffusion/pipeline.js';
import type { LanguageModel } from '../e2t/language-model.js';
import { CancelledError, EngineError } from '../errors.js';
import { imageToPng } from '../image/image-io.js';
import { safeWriteFile } from '../io/safe-write.js';
import { loadCaptioner, type Captioner, type CaptionerName } from '../inversion/captioner.js';
import { inversionModelsFromSet } from '../inversion/from-model-set.js';
import type { InversionModels } from '../inversion/inversion-models.js';
import type { ImageScorer, InvertProgress, TargetImage } from '../inversion/invert.js';
import { loadMethodClip, type ClipTowers } from '../inversion/methods/clip-towers.js';
import {
  invertWith,
  methodUnavailable,
  type MethodContext,
  type MethodName,
  type MethodOptions,
  type MethodResult,
} from '../inversion/methods/index.js';
import { createPezTower } from '../inversion/methods/pez.js';
import { createPh2pTower } from '../inversion/methods/ph2p.js';
import { resolveOptionalModels } from '../inversion/optional-models.js';
import type { InvertSettings, PresetName } from '../inversion/presets.js';
import { readShapesStamp } from '../models/shapes/stamp.js';
import { resolveCacheDir } from '../models/cache.js';
import type { ProviderChoice } from '../runtime/providers.js';
import { ablationApplies, ablationOptions, type Ablation } from './ablation.js';
import { loadTarget, readDataset, type Dataset, type DatasetItem, type DatasetSpec } from './dataset.js';
import { createMetricSuite, type ImageEmbedder, type MetricProfile, type MetricSuite } from './metric-suite.js';
import { writeReport, type ReportFiles, type RunMeta } from './report.js';
import { ResultsLog, type EvalRecord } from './results-log.js';
import { loadShapesCaptioner, worldLanguageModel } from './shapes-helpers.js';

export interface EvalOptions {
  dataset: DatasetSpec;
  methods: MethodName[];
  /** Model set: a name ('demo', 'shapes', 'sd15') or a folder; default 'shapes' for shapes:N, else 'demo'. */
  models?: string;
  cacheDir?: string;
  /** Where results.jsonl, images/ and the report go (created). */
  runDir: string;
  /** First N items only. */
  limit?: number;
  /** Seeds of every method run (default [0]). */
  seeds?: number[];
  /** Iterations of EDITOR, PH2P and PEZ (default: the preset's). */
  iterations?: number;
  /** `fast` (default) or `paper`. */
  preset?: PresetName;
  /** Square size the targets are loaded at (default: the model set's). */
  size?: number;
  /** Sampler steps of the regenerations (default: the model set's). */
  regenSteps?: number;
  /** EDITOR settings beyond the preset. */
  editor?: Partial<InvertSettings>;
  ablation?: Ablation;
  provider?: ProviderChoice;
  threads?: number;
  /** For tests: replace the method runner, add or replace models of the context, the metric suite. */
  hooks?: {
    invert?: typeof invertWith;
    context?: Partial<MethodContext>;
    metrics?: MetricSuite;
    captioner?: (name: string) => Promise<Captioner>;
  };
}

export interface EvalProgress {
  phase: 'loading' | 'inverting' | 'regenerating' | 'scoring' | 'report' | 'done';
  /** Units finished in this run, and of all (those done by earlier runs count as finished). */
  done: number;
  total: number;
  /** Units a previous run had finished. */
  resumed: number;
  etaSeconds?: number;
  item?: string;
  method?: MethodName;
  seed?: number;
  setting?: { name: string; value: string };
  /** The method's own progress. */
  inner?: InvertProgress;
  message?: string;
}

export interface EvalRunResult {
  runDir: string;
  records: EvalRecord[];
  /** Units that failed (their `error`), in this run or left failed by an earlier one. */
  failed: EvalRecord[];
  /** Methods not run, and why (a missing model). */
  skippedMethods: { method: MethodName; reason: string }[];
  /** Metrics not computed, and why. */
  skippedMetrics: { metric: string; reason: string }[];
  warnings: string[];
  report: ReportFiles;
  cancelled: boolean;
}

interface Unit {
  key: string;
  item: DatasetItem;
  method: MethodName;
  seed: number;
  setting?: { name: string; value: string };
  options: Partial<MethodOptions>;
}

/** The units of work, item-major so a partial run covers whole items. */
export function planUnits(items: DatasetItem[], methods: MethodName[], seeds: number[], ablation?: Ablation): Unit[] {
  const units: Unit[] = [];
  const key = (item: string, method: string, seed: number, setting?: { name: string; value: string }) =>
    `${item}|${method}|seed=${seed}${setting ? `|${setting.name}=${setting.value}` : ''}`;
  for (const item of items) {
    for (const method of methods) {
      if (!ablation) {
        for (const seed of seeds) units.push({ key: key(item.id, method, seed), item, method, seed, options: {} });
        continue;
      }
      if (!ablationApplies(ablation.setting, method)) {
        // Run once at its defaults (the caption does not depend on the seed).
        const seedsHere = method === 'caption' ? seeds.slice(0, 1) : seeds;
        for (const seed of seedsHere) units.push({ key: key(item.id, method, seed), item, method, seed, options: {} });
        continue;
      }
      for (const value of ablation.values) {
        const setting = { name: ablation.setting, value };
        const seedsHere = ablation.setting === 'seed' ? [Number(value)] : seeds;
        for (const seed of seedsHere)
          units.push({
            key: key(item.id, method, seed, setting),
            item,
            method,
            seed,
            setting,
            options: ablationOptions(ablation.setting, value),
          });
      }
    }
  }
  return units;
}

function downsample(loss: number[], max = 300): { loss: number[]; stride: number } {
  const stride = Math.max(1, Math.ceil(loss.length / max));
  return { loss: loss.filter((_, i) => i % stride === 0), stride };
}

const fileSafe = (s: string) => s.replace(/[^A-Za-z0-9._=-]+/g, '_').slice(0, 160);

interface LoadedModels {
  ms: ModelSet;
  m: InversionModels;
  ctx: MethodContext;
  suite: MetricSuite;
  profile: MetricProfile;
  warnings: string[];
  ownCaptioner?: Captioner;
  release(): Promise<void>;
}

async function loadModels(o: EvalOptions, cacheDir: string, dataset: Dataset, signal?: AbortSignal): Promise<LoadedModels> {
  const name = o.models ?? (dataset.kind === 'shapes' ? 'shapes' : 'demo');
  let ms: ModelSet;
  try {
    ms = await loadModelSet(name, {
      cacheDir,
      ...(o.provider ? { provider: o.provider } : {}),
      ...(o.threads ? { threads: o.threads } : {}),
      ...(signal ? { signal } : {}),
    });
  } catch (e) {
    if (e instanceof EngineError && e.code === 'NOT_INSTALLED' && name === 'shapes')
      throw new EngineError('NOT_INSTALLED', `${dataset.name} is evaluated on the shapes model set, which is not here yet: ${e.message}`, {
        cause: e,
      });
    throw e;
  }
  const releases: (() => Promise<void>)[] = [() => ms.release()];
  try {
    const m = await inversionModelsFromSet(ms);
    const isShapesSet = (await readShapesStamp(ms.dir)) !== undefined;
    const profile: MetricProfile = isShapesSet || dataset.kind === 'shapes' ? 'shapes' : 'paper';
    const warnings: string[] = [];
    if (dataset.kind === 'shapes' && !isShapesSet)
      warnings.push(
        `${dataset.name} is inverted with the '${ms.name}' model set, which was not trained on the shapes world: expect meaningless numbers (use --models shapes)`,
      );
    const needsCaptioner = o.methods.includes('editor') || o.methods.includes('caption');
    const opt = await resolveOptionalModels({
      cacheDir,
      modelSetDir: ms.dir,
      choices: { captioner: needsCaptioner ? 'auto' : 'off', clip: 'auto', lm: 'own' },
    });
    releases.push(() => opt.release());
    const own = opt.sources.captioner?.from === 'set' ? opt.captioner : undefined;
    let captioner = opt.captioner;
    let ownCaptioner = own;
    if (isShapesSet && !own) {
      // The set's captioner in its documented format, when no loader for it is registered.
      ownCaptioner = await loadShapesCaptioner(ms.dir).catch(() => undefined);
      if (ownCaptioner) captioner = ownCaptioner;
    }
    // What this module reads itself (the shapes helpers) is not a problem worth a warning.
    const handled = (w: string) =>
      isShapesSet && (/which this build cannot load/.test(w) || (ownCaptioner !== undefined && /random words/.test(w)));
    warnings.push(...opt.warnings.filter((w) => !handled(w) && (!/random words/.test(w) || o.methods.includes('editor'))));
    // PEZ's CLIP and the CLIP metric: the world CLIP on the shapes set, else CLIP ViT-L/14.
    let clip: ClipTowers | undefined;
    let clipMissing: string | undefined;
    try {
      clip = await loadMethodClip({ setDir: ms.dir, cacheDir, ...(m.sessionOptions ? { sessionOptions: m.sessionOptions } : {}) });
    } catch (e) {
      if (!(e instanceof EngineError)) throw e;
      clipMissing = e.message;
    }
    if (clip) releases.push(() => clip!.release());
    let scorer: ImageScorer | undefined = opt.scorer;
    if (!scorer && clip && profile === 'shapes') {
      const c = clip;
      scorer = { name: 'clip', score: async (a, b) => cosineOf(await c.embedImage(a), await c.embedImage(b)) };
    }
    const embedder: ImageEmbedder | undefined = clip
      ? { name: clip.name, embed: (img) => clip!.embedImage(img) }
      : scorer && 'embed' in scorer
        ? { name: (scorer as { repo?: string }).repo ?? 'clip', embed: (scorer as unknown as ImageEmbedder).embed }
        : undefined;
    const lm: LanguageModel | undefined = opt.lm;
    const pplLm = profile === 'shapes' ? (opt.sources.lm?.from === 'set' ? opt.lm : worldLanguageModel()) : undefined;
    const suite =
      o.hooks?.metrics ??
      (await createMetricSuite({
        profile,
        cacheDir,
        ...(embedder
          ? { clip: embedder }
          : {
              clipMissing:
                clipMissing ??
                (profile === 'shapes'
                  ? `the model set has no world CLIP (clip/)`
                  : 'CLIP ViT-L/14 is not installed (`inversion-studio models download clip-vit-l14`)'),
            }),
        ...(pplLm ? { lm: pplLm } : {}),
      }));
    releases.push(() => suite.release());
    const ctx: MethodContext = {
      models: m,
      ...(captioner ? { captioner } : {}),
      ...(scorer ? { scorer } : {}),
      ...(lm ? { lm } : {}),
      ...(clip ? { clip } : {}),
      towers: {},
      ...o.hooks?.context,
    };
    releases.push(async () => {
      await ctx.towers?.ph2p?.release();
      await ctx.towers?.pez?.release();
    });
    return {
      ms,
      m,
      ctx,
      suite,
      profile,
      warnings,
      ...(ownCaptioner ? { ownCaptioner } : {}),
      release: async () => {
        for (const r of releases.reverse()) await r().catch(() => undefined);
      },
    };
  } catch (e) {
    for (const r of releases.reverse()) await r().catch(() => undefined);
    throw e;
  }
}

function cosineOf(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * Run (or resume) an evaluation.
 * @throws EngineError for a bad dataset, a model set that cannot load (shapes:N without the shapes
 *   set says so), an unwritable run folder; per-unit failures are recorded, not thrown. A
 *   cancelled run writes the report of what is done and returns `cancelled: true`.
 */
export async function runEval(
  o: EvalOptions,
  run: { signal?: AbortSignal; onProgress?: (e: EvalProgress) => void } = {},
): Promise<EvalRunResult> {
  const { signal } = run;
  const emit = (e: EvalProgress) => run.onProgress?.(e);
  const cacheDir = resolveCacheDir(o.cacheDir);
  const dataset = await readDataset(o.dataset, o.limit !== undefined ? { limit: o.limit } : {});
  const { log, problems } = await ResultsLog.open(path.join(o.runDir, 'results.jsonl'));
  emit({ phase: 'loading', done: 0, total: 0, resumed: 0, message: 'loading models' });
  const L = await loadModels(o, cacheDir, dataset, signal);
  const warnings = [...dataset.problems.map((p) => `dataset: ${p}`), ...problems, ...L.warnings];
  const invoke = o.hooks?.invert ?? invertWith;
  const size = o.size ?? L.ms.defaults.width;
  const seeds = o.seeds?.length ? o.seeds : [0];
  const skippedMethods: EvalRunResult['skippedMethods'] = [];
  const methods = o.methods.filter((method) => {
    if (method === 'caption' && o.ablation?.setting === 'captioner') return true;
    const why = methodUnavailable(method, L.ctx);
    if (why) skippedMethods.push({ method, reason: why });
    return !why;
  });
  const units = planUnits(dataset.items, methods, seeds, o.ablation);
  const resumed = units.filter((u) => log.done(u.key)).length;
  let done = resumed;
  let spent = 0;
  let ranHere = 0;
  let cancelled = false;
  const targets = new Map<string, Promise<TargetImage>>();
  const regenCache = new Map<string, TargetImage>();
  const captioners = new Map<string, Promise<Captioner>>();
  const meta: RunMeta = {
    dataset: dataset.name,
    models: L.ms.name,
    profile: L.profile,
    methods: o.methods,
    seeds,
    preset: o.preset ?? 'fast',
    ...(o.iterations !== undefined ? { iterations: o.iterations } : {}),
    size,
    regenSteps: o.regenSteps ?? L.ms.defaults.steps,
    ...(o.ablation ? { ablation: o.ablation } : {}),
    columns: L.suite.columns,
    metricSources: L.suite.sources,
    skippedMetrics: L.suite.skipped,
    skippedMethods,
    warnings,
    models_used: {
      ...(L.ctx.captioner ? { captioner: L.ctx.captioner.name } : {}),
      ...(L.ctx.clip ? { clip: L.ctx.clip.name } : {}),
      ...(L.ctx.scorer ? { ranking: L.ctx.scorer.name } : {}),
      ...(L.ctx.lm ? { lm: L.ctx.lm.name } : {}),
    },
  };

  const regenerate = async (prompt: string, seed: number): Promise<TargetImage> => {
    const k = `${seed}|${prompt}`;
    const hit = regenCache.get(k);
    if (hit) return hit;
    const d = L.ms.defaults;
    const r = await generate(
      L.ms,
      { prompt, seed, steps: o.regenSteps ?? d.steps, scheduler: d.scheduler, guidance: d.guidance, width: size, height: size },
      { png: false, ...(signal ? { signal } : {}) },
    );
    const img = { data: r.image, width: size, height: size };
    if (regenCache.size > 64) regenCache.clear();
    regenCache.set(k, img);
    return img;
  };
  const captionerFor = (value: string): Promise<Captioner> => {
    let p = captioners.get(value);
    if (!p) {
      p = o.hooks?.captioner
        ? o.hooks.captioner(value)
        : value === 'own'
          ? L.ownCaptioner
            ? Promise.resolve(L.ownCaptioner)
            : Promise.reject(new EngineError('NOT_INSTALLED', `the model set ${L.ms.name} has no captioner of its own`))
          : loadCaptioner({ cacheDir, captioner: value as CaptionerName, offline: true });
      p.catch(() => undefined);
      captioners.set(value, p);
    }
    return p;
  };
  const saveImage = async (name: string, img: TargetImage): Promise<string> => {
    const rel = path.join('images', name);
    await safeWriteFile(path.join(o.runDir, rel), await imageToPng(img.data, img.width, img.height), {
      mkdir: true,
      what: 'a regeneration',
    });
    return rel;
  };

  try {
    await safeWriteFile(path.join(o.runDir, 'run.json'), JSON.stringify({ ...meta, startedAt: new Date().toISOString() }, null, 2) + '\n', {
      mkdir: true,
      what: 'the run description',
    });
    for (const u of units) {
      if (log.done(u.key)) continue;
      if (signal?.aborted) {
        cancelled = true;
        break;
      }
      const started = performance.now();
      const base = {
        done,
        total: units.length,
        resumed,
        item: u.item.id,
        method: u.method,
        seed: u.seed,
        ...(u.setting ? { setting: u.setting } : {}),
      };
      const eta = ranHere > 0 ? (spent / ranHere) * (units.length - done) : undefined;
      const record: EvalRecord = {
        key: u.key,
        item: u.item.id,
        method: u.method,
        seed: u.seed,
        ...(u.setting ? { setting: u.setting } : {}),
        reference: u.item.prompt,
        finishedAt: '',
      };
      let result: MethodResult | undefined;
      try {
        emit({ ...base, phase: 'inverting', ...(eta !== undefined ? { etaSeconds: eta } : {}) });
        let target = targets.get(u.item.id);
        if (!target) {
          target = loadTarget(u.item, size);
          targets.set(u.item.id, target);
          if (targets.size > 4) targets.delete(targets.keys().next().value!);
        }
        const t = await target;
        const ctx = u.setting?.name === 'captioner' ? { ...L.ctx, captioner: await captionerFor(u.setting.value) } : L.ctx;
        if (u.method === 'ph2p' && !ctx.towers?.ph2p) ctx.towers!.ph2p = await createPh2pTower(L.m);
        if (u.method === 'pez' && ctx.clip && !ctx.towers?.pez) ctx.towers!.pez = await createPezTower(ctx.clip);
        const opts: MethodOptions = {
          preset: o.preset ?? 'fast',
          seed: u.seed,
          ...(o.iterations !== undefined ? { iterations: o.iterations } : {}),
          ...u.options,
          editor: { ...o.editor, ...u.options.editor },
          ...(signal ? { signal } : {}),
          onProgress: (inner) => emit({ ...base, phase: 'inverting', inner, ...(eta !== undefined ? { etaSeconds: eta } : {}) }),
        };
        result = await invoke(u.method, ctx, t, opts);
        Object.assign(record, {
          prompt: result.prompt,
          initialPrompt: result.initialPrompt,
          iterations: result.iterations,
          seconds: result.seconds,
          ...(result.stopped ? { stopped: result.stopped } : {}),
        });
        const ds = downsample(result.loss);
        record.loss = ds.loss;
        record.lossStride = ds.stride;
        if (result.stopped === 'cancelled' || signal?.aborted) {
          record.stopped = 'cancelled';
          cancelled = true;
        } else {
          emit({ ...base, phase: 'regenerating' });
          const regen = await regenerate(result.prompt, u.seed);
          const initial =
            result.initialPrompt && result.initialPrompt !== result.prompt ? await regenerate(result.initialPrompt, u.seed) : regen;
          emit({ ...base, phase: 'scoring' });
          record.metrics = await L.suite.score({
            target: t,
            regenerated: regen,
            initialRegenerated: initial,
            answer: result.prompt,
            reference: u.item.prompt,
            ...(u.item.scene ? { scene: u.item.scene } : {}),
          });
          const stem = fileSafe(u.key.replaceAll('|', '_'));
          record.regeneration = await saveImage(`${stem}.png`, regen);
          if (initial !== regen) record.initialRegeneration = await saveImage(`${stem}.initial.png`, initial);
        }
      } catch (e) {
        if (e instanceof CancelledError || signal?.aborted) {
          cancelled = true;
          record.stopped = 'cancelled';
        } else record.error = e instanceof Error ? e.message : String(e);
      }
      record.unitSeconds = (performance.now() - started) / 1000;
      record.finishedAt = new Date().toISOString();
      await log.append(record);
      if (cancelled) break;
      done++;
      ranHere++;
      spent += record.unitSeconds;
    }
    emit({ phase: 'report', done, total: units.length, resumed });
    const keys = new Set(units.map((u) => u.key));
    const records = log.all().filter((r) => keys.has(r.key));
    const report = await writeReport(o.runDir, records, meta);
    emit({ phase: 'done', done, total: units.length, resumed });
    return {
      runDir: o.runDir,
      records,
      failed: records.filter((r) => r.error !== undefined),
      skippedMethods,
      skippedMetrics: L.suite.skipped,
      warnings,
      report,
      cancelled,
    };
  } finally {
    await L.release();
  }
}
