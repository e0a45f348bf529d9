/**
 * The baselines in the studio's Invert view (docs/evaluation.md): an `invert` request with
 * `method` ph2p, pez or caption answers through the engine's `invertWith`, with the models the
 * method needs kept warm next to the model set (PEZ's CLIP, the differentiable text towers, the
 * shapes set's own captioner), and the answer regenerated once so the library item shows what the
 * prompt gives. `methodInfo` says which methods a model set can run, from its files.
 */
import { resolveModelSetDir, type ModelSet } from '../engine/diffusion/load-model-set.js';
import { generate } from '../engine/diffusion/pipeline.js';
import { CancelledError, EngineError } from '../engine/errors.js';
import { loadShapesCaptioner } from '../engine/eval/shapes-helpers.js';
import type { Captioner } from '../engine/inversion/captioner.js';
import type { InversionModels } from '../engine/inversion/inversion-models.js';
import type { InvertProgress, TargetImage } from '../engine/inversion/invert.js';
import { findMethodFiles, methodsAvailable } from '../engine/inversion/methods/availability.js';
import { loadMethodClip, type ClipTowers } from '../engine/inversion/methods/clip-towers.js';
import { invertWith, type MethodContext, type MethodName } from '../engine/inversion/methods/index.js';
import { createPezTower } from '../engine/inversion/methods/pez.js';
import { createPh2pTower } from '../engine/inversion/methods/ph2p.js';
import type { TextTower } from '../engine/inversion/methods/text-tower.js';
import type { OptionalModels } from '../engine/inversion/optional-models.js';
import { readShapesStamp } from '../engine/models/shapes/stamp.js';
import { INVERSION_METHODS, type MethodInfo } from '../../shared/ipc/methods.js';
import type { EngineProgress, InvertOutput, InvertSpec, RunOptions } from './engine-adapter.js';

/** Which methods can run with the model set `ref` (files only; a set that cannot be found makes none available). */
export async function methodInfo(ref: string, cacheDir: string): Promise<MethodInfo[]> {
  let dir: string;
  try {
    ({ dir } = await resolveModelSetDir(ref, { cacheDir }));
  } catch (e) {
    const reason = `the model set '${ref}' is not available: ${e instanceof Error ? e.message : String(e)}`.slice(0, 4000);
    return INVERSION_METHODS.map((method) => ({ method, available: false, reason }));
  }
  const why = methodsAvailable(await findMethodFiles(dir, cacheDir));
  return INVERSION_METHODS.map((method) => {
    const reason = why[method];
    return reason ? { method, available: false, reason: reason.slice(0, 4000) } : { method, available: true };
  });
}

/**
 * The models the baselines need beyond the model set, for one set at a time (they are released
 * when another set is used, and by `dispose`).
 */
export class MethodModelCache {
  private key = '';
  private clip?: Promise<ClipTowers | undefined>;
  private captioner?: Promise<Captioner | undefined>;
  private readonly towers = new Map<'ph2p' | 'pez', Promise<TextTower>>();

  private async use(key: string): Promise<void> {
    if (key !== this.key) await this.dispose();
    this.key = key;
  }

  async clipFor(ms: ModelSet, models: InversionModels, cacheDir: string): Promise<ClipTowers | undefined> {
    await this.use(`${ms.dir}|${cacheDir}`);
    this.clip ??= loadMethodClip({ setDir: ms.dir, cacheDir, ...(models.sessionOptions ? { sessionOptions: models.sessionOptions } : {}) });
    return this.clip.catch((e) => {
      this.clip = undefined;
      throw e;
    });
  }

  /** The shapes set's own captioner (no registered loader reads it: eval/shapes-helpers.ts). */
  async shapesCaptioner(ms: ModelSet, cacheDir: string): Promise<Captioner | undefined> {
    await this.use(`${ms.dir}|${cacheDir}`);
    this.captioner ??= readShapesStamp(ms.dir).then((stamp) => (stamp ? loadShapesCaptioner(ms.dir).catch(() => undefined) : undefined));
    return this.captioner;
  }

  tower(kind: 'ph2p' | 'pez', make: () => Promise<TextTower>): Promise<TextTower> {
    let t = this.towers.get(kind);
    if (!t) {
      t = make();
      this.towers.set(kind, t);
      t.catch(() => this.towers.delete(kind));
    }
    return t;
  }

  async dispose(): Promise<void> {
    const clip = this.clip;
    const towers = [...this.towers.values()];
    this.clip = undefined;
    this.captioner = undefined;
    this.towers.clear();
    this.key = '';
    for (const t of towers) await (await t.catch(() => undefined))?.release();
    await (await clip?.catch(() => undefined))?.release();
  }
}

/** A method's progress as job progress (the same phases as EDITOR's: encoding, refining...). */
function progressOf(onProgress: RunOptions['onProgress'], iterations: number): ((e: InvertProgress) => void) | undefined {
  if (!onProgress) return undefined;
  return (e) => {
    if (e.phase === 'done') return;
    const p: EngineProgress = { phase: e.phase, step: e.iteration ?? 0, total: e.total ?? (e.phase === 'refining' ? iterations : 1) };
    if (e.loss !== undefined) p.loss = e.loss;
    if (e.lr !== undefined) p.lr = e.lr;
    if (e.etaSeconds !== undefined) p.etaSeconds = e.etaSeconds;
    if (e.message) p.message = e.message;
    onProgress(p);
  };
}

export interface BaselineInputs {
  ms: ModelSet;
  models: InversionModels;
  /** CHW [-1, 1] at `size` × `size`. */
  target: TargetImage;
  size: number;
  spec: InvertSpec;
  /** The optional models the inversion resolved (the captioner, for the caption baseline). */
  helpers: OptionalModels;
  cacheDir: string;
  cache: MethodModelCache;
}

/**
 * Invert with a baseline (ph2p, pez, caption) and regenerate its answer once (the model set's
 * sampler, the request's seed).
 * @throws EngineError('NOT_INSTALLED') with what to install when the method's model is missing;
 *   CancelledError carrying the answer so far when cancelled
 */
export async function invertBaseline(method: Exclude<MethodName, 'editor'>, i: BaselineInputs, opts: RunOptions): Promise<InvertOutput> {
  const { ms, models, spec, cache, cacheDir } = i;
  const captioner = method === 'caption' ? (i.helpers.captioner ?? (await cache.shapesCaptioner(ms, cacheDir))) : undefined;
  const clip = method === 'pez' ? await cache.clipFor(ms, models, cacheDir) : undefined;
  const ctx: MethodContext = { models, ...(captioner ? { captioner } : {}), ...(clip ? { clip } : {}), towers: {} };
  if (method === 'ph2p' && models.encodeLatent) ctx.towers!.ph2p = await cache.tower('ph2p', () => createPh2pTower(models));
  if (method === 'pez' && clip) ctx.towers!.pez = await cache.tower('pez', () => createPezTower(clip));
  const signal = opts.signal ? { signal: opts.signal } : {};
  const onProgress = progressOf(opts.onProgress, spec.iterations ?? 0);
  const r = await invertWith(method, ctx, i.target, {
    preset: spec.preset,
    seed: spec.seed,
    ...(spec.iterations !== undefined ? { iterations: spec.iterations } : {}),
    ...signal,
    ...(onProgress ? { onProgress } : {}),
  });
  const out: InvertOutput = {
    prompt: r.prompt,
    initialPrompt: r.initialPrompt,
    candidates: r.candidates.map((c) => ({ prompt: c.prompt, score: c.score, iteration: c.iteration })),
    loss: r.loss,
    iterations: r.iterations,
    seconds: r.seconds,
    objective: r.objective,
    method,
    inversionSize: i.size,
    // The captioner warning concerns EDITOR's start text; the other notes stay.
    warnings: [
      ...i.helpers.warnings.filter((w) => method === 'caption' || !/captioner/i.test(w)),
      ...(r.stopped === 'non-finite' ? [r.message ?? 'the loss became NaN/Inf; stopped and kept the best result so far'] : []),
    ],
  };
  if (r.stopped === 'cancelled') throw new CancelledError('inversion cancelled; best result so far kept', out);
  if (!out.candidates.length) out.candidates.push({ prompt: out.prompt, score: 0 });
  if (!out.prompt.trim()) return out;
  opts.onProgress?.({ phase: 'regenerating', step: 0, total: 1, message: 'the answer regenerated' });
  const d = ms.defaults;
  try {
    const g = await generate(
      ms,
      { prompt: out.prompt, seed: spec.seed, steps: d.steps, scheduler: d.scheduler, guidance: d.guidance, width: i.size, height: i.size },
      signal,
    );
    out.candidates[0]!.png = g.png;
  } catch (e) {
    if (e instanceof CancelledError) throw new CancelledError('inversion cancelled; the answer is kept without its regeneration', out);
    if (!(e instanceof EngineError)) throw e;
    out.warnings.push(`the answer could not be regenerated: ${e.message}`);
  }
  return out;
}
