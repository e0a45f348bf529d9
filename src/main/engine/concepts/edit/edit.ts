/**
 * Editing a generation by editing its prompt (docs/editing.md): the source prompt and the edited
 * prompt are sampled side by side from the same seed and settings — two generate() runs in
 * lockstep, each through the attention-control session — and, by mode:
 *
 *   regenerate  nothing is shared: the edited prompt alone, same seed (the baseline);
 *   attention   prompt-to-prompt: during the first `crossSteps` of the steps the edited run's
 *               cross-attention is the source's, mapped through the token alignment (replace for
 *               kept and replaced words, their own for inserted words, column scale for
 *               reweights); during the first `selfSteps` its self-attention in the coarse layers
 *               is the source's;
 *   blend       attention + local blend: after every step the edited latent keeps the source's
 *               values outside the mask of the edited words, x_t = x_src + mask·(x_t − x_src).
 *
 * Every mode measures the result against the source inside and outside the edit's mask (the same
 * mask in every mode, from the same maps), so modes can be compared.
 */
import { performance } from 'node:perf_hooks';
import { CancelledError, EngineError } from '../../errors.js';
import type { ModelSet } from '../../diffusion/load-model-set.js';
import {
  encodePromptDetailed,
  generate,
  validateGenerateRequest,
  type GenerateCancelled,
  type GenerateProgress,
  type GenerateResult,
  type GenerationRecord,
} from '../../diffusion/pipeline.js';
import { applyTokenWeights, encodeWeightedPrompt } from '../../diffusion/prompt-weights.js';
import { usesCfg } from '../../diffusion/unet.js';
import { samplerLabel } from '../../image/a1111.js';
import { chwToRgbBytes, imageToPng } from '../../image/image-io.js';
import { AttentionAccumulator, type CapturedAttention, type LayerAttention } from '../../attention/index.js';
import { mapAttention, mappedPositions } from './align.js';
import { blendLatents, editMask, headMean, upsampleMask } from './blend.js';
import { ALL_QUERIES, openAttentionControl, type ControlRunOutput, type LayerFeed, type LayerProbabilities } from './control-session.js';
import { describeEdit, type EditKind, type PromptDiff } from '../../../../shared/prompt-diff.js';
import { planEdit, type EditMode, type EditModeChoice, type EditPlan, type EditRequest, type EditSource } from './plan.js';
import { controlledPredictor, type StepControl } from './predictor.js';
import { editReport, type EditReport } from './report.js';

export type EditProgress = GenerateProgress;

export interface EditWarning {
  type: 'warning';
  code: 'PROMPT_TRUNCATED' | 'SOURCE_NOT_REPRODUCED' | 'EMPTY_MASK';
  message: string;
}

export interface EditOptions {
  signal?: AbortSignal;
  onProgress?: (e: EditProgress) => void;
  onWarning?: (w: EditWarning) => void;
  /** Also encode the PNG (default true). */
  png?: boolean;
}

/** `partial` of the CancelledError editGeneration throws: the edited run's step and latent. */
export type EditCancelled = GenerateCancelled;

/** What the edited PNG records (JSON chunk): the generation record of the edit plus the edit itself. */
export interface EditRecord extends GenerationRecord {
  edit: {
    source: {
      prompt: string;
      negativePrompt: string;
      seed: number;
      steps: number;
      scheduler: GenerationRecord['scheduler'];
      guidance: number;
      width: number;
      height: number;
      model: string;
      conditioning: 'text' | 'embedding';
      kind: 'generation' | 'inversion';
    };
    mode: EditMode;
    requestedMode: EditModeChoice;
    edits: { kind: EditKind; source: string; edited: string; weight?: { source: number; edited: number } }[];
    crossSteps: number;
    selfSteps: number;
    selfMinFactor: number;
    blend?: EditPlan['blend'];
    suppress?: EditPlan['suppress'];
    /** PSNR values are null when infinite (identical) or undefined (empty region). */
    report: {
      maskArea: number;
      outside: { changed: number; psnr: number | null };
      inside: { changed: number; psnr: number | null };
    };
  };
}

export interface EditMask {
  /** Image size, 0/1 per pixel. */
  width: number;
  height: number;
  data: Uint8Array;
  /** The same on the latent grid (what the blend used), latentWidth × latentHeight. */
  latent: Uint8Array;
  latentWidth: number;
  latentHeight: number;
  /** The words whose maps made it. */
  words: { source: string[]; edited: string[] };
}

export interface EditResult {
  /** The edited image, CHW RGB float32 in [-1, 1]. */
  image: Float32Array;
  width: number;
  height: number;
  /** PNG bytes with the A1111 parameters and the EditRecord (empty when opts.png is false). */
  png: Buffer;
  /** The source image as sampled alongside (CHW RGB in [-1, 1]). */
  sourceImage: Float32Array;
  /** Whether that sampling reproduced `request.source.image` (undefined when none was given). */
  sourceReproduced?: boolean;
  diff: PromptDiff;
  /** The diff in words. */
  summary: string;
  mode: EditMode;
  modeReason: string;
  mask: EditMask;
  /** Measured against `request.source.image` when given, else against `sourceImage`. */
  report: EditReport;
  record: EditRecord;
  /** Final scaled latents [C, h, w] of the edit and of the source. */
  latents: Float32Array;
  sourceLatents: Float32Array;
  seconds: number;
  warnings: string[];
}

/** Thrown into the run that waits when the other run of the pair stopped. */
class PairStopped extends Error {
  constructor(readonly reason: unknown) {
    super('the other run of the edit stopped');
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  // Rejected slots nobody waits on must not become unhandled rejections.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** Hand-over points between the source and the edited run, keyed by step; fail() releases every waiter. */
class Lockstep {
  private readonly slots = new Map<string, Deferred<unknown>>();
  private stopped: PairStopped | undefined;

  private slot<T>(key: string): Deferred<T> {
    let d = this.slots.get(key);
    if (!d) {
      d = deferred<unknown>();
      if (this.stopped) d.reject(this.stopped);
      this.slots.set(key, d);
    }
    return d as Deferred<T>;
  }
  put<T>(key: string, v: T): void {
    this.slot<T>(key).resolve(v);
  }
  take<T>(key: string): Promise<T> {
    return this.slot<T>(key).promise.finally(() => this.slots.delete(key));
  }
  fail(reason: unknown): void {
    if (this.stopped) return;
    this.stopped = new PairStopped(reason);
    for (const d of this.slots.values()) d.reject(this.stopped);
  }
}

const allOnes = (a: Float32Array): boolean => a.every((v) => v === 1);

function crossMaps(list: readonly (LayerProbabilities | undefined)[], h: number, w: number): LayerAttention[] {
  return list.filter((p): p is LayerProbabilities => p !== undefined).map((p) => headMean(p, h, w));
}

function psnrOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function bytesClose(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) > 1) return false;
  return true;
}

/**
 * Edit a generation (or an inversion's answer) by editing its prompt.
 * @throws NothingToEditError when the edited prompt reads the same as the source's;
 *   EngineError('INVALID_ARGUMENT') for a source without a prompt, one made with another model
 *   set, bad settings; AttentionCaptureError when the UNet's attention cannot be controlled;
 *   CancelledError (partial: the edited run's step and latent) when `signal` aborts
 */
export async function editGeneration(ms: ModelSet, req: EditRequest, opts: EditOptions = {}): Promise<EditResult> {
  const t0 = performance.now();
  const plan = planEdit(ms, req);
  const src: EditSource = req.source;
  const settings = {
    seed: src.seed,
    steps: src.steps,
    scheduler: src.scheduler,
    guidance: src.guidance,
    width: src.width,
    height: src.height,
  };
  validateGenerateRequest(ms, { ...settings, prompt: req.prompt, ...(src.embedding ? { embedding: src.embedding } : {}) });
  const { width, height } = settings;
  if (src.image && src.image.length !== 3 * width * height)
    throw new EngineError(
      'INVALID_ARGUMENT',
      `the source image has ${src.image.length} values; ${width}x${height} RGB needs ${3 * width * height}`,
    );
  const cfg = usesCfg(ms, src.guidance);
  if (plan.suppress && !cfg)
    throw new EngineError('INVALID_ARGUMENT', 'suppressing removed words needs classifier-free guidance (a guidance scale above 1)');
  const { signal } = opts;
  const warnings: string[] = [];
  const warn = (code: EditWarning['code'], message: string): void => {
    warnings.push(message);
    opts.onWarning?.({ type: 'warning', code, message });
  };
  if (signal?.aborted) throw new CancelledError<EditCancelled>('edit cancelled before it started', { step: 0 });

  // Conditioning. In attention modes a mapped word's emphasis lives in its attention column
  // (align.ts), so its text-encoder row keeps the source's weight.
  opts.onProgress?.({ phase: 'encode', step: 0, total: 1 });
  const D = ms.io.hiddenSize;
  const truncated = (which: string, t: { words: string[]; text: string } | null): void => {
    if (t) warn('PROMPT_TRUNCATED', `${which} is longer than ${ms.io.sequenceLength} tokens; dropped: ${t.words.join(' ') || t.text}`);
  };
  let srcCond: Float32Array;
  if (src.embedding) srcCond = src.embedding;
  else {
    const e = await encodeWeightedPrompt(ms, src.prompt);
    truncated('the source prompt', e.truncated);
    srcCond = e.embedding;
  }
  let editCond: Float32Array;
  if (plan.mode === 'regenerate') {
    const e = await encodeWeightedPrompt(ms, req.prompt);
    truncated('the edited prompt', e.truncated);
    editCond = e.embedding;
  } else {
    const e = await encodePromptDetailed(ms, plan.edited.pieces.plain);
    truncated('the edited prompt', e.truncated);
    const wts = plan.mapping.embeddingWeights;
    editCond = allOnes(wts) ? e.embedding : applyTokenWeights(e.embedding, wts, D);
  }
  const uncond = cfg ? (await encodeWeightedPrompt(ms, src.negativePrompt ?? '')).embedding : undefined;
  const concept = plan.suppress ? (await encodeWeightedPrompt(ms, plan.suppressText ?? '')).embedding : undefined;
  opts.onProgress?.({ phase: 'encode', step: 1, total: 1 });

  const control = await openAttentionControl(ms);
  const h = height / 8;
  const w = width / 8;
  const steps = src.steps;
  const controlled = plan.mode !== 'regenerate';
  const crossUntil = controlled ? Math.floor(plan.crossSteps * steps) : 0;
  const selfUntil = controlled ? Math.floor(plan.selfSteps * steps) : 0;
  const f = plan.selfMinFactor;
  const selfMax = Math.ceil(h / f) * Math.ceil(w / f);
  const blendFrom = plan.mode === 'blend' ? Math.floor(plan.blend.start * steps) : Infinity;
  const srcWords = plan.maskWords.source;
  const editWords = plan.maskWords.edited;
  if (srcWords.length === 0 && editWords.length === 0)
    warn('EMPTY_MASK', 'the edit names no words whose attention could make a mask; the report counts the whole image as outside it');
  const srcAcc = new AttentionAccumulator(h, w);
  const editAcc = new AttentionAccumulator(h, w);
  const captured = (acc: AttentionAccumulator): CapturedAttention | undefined => (acc.count > 0 ? acc.result() : undefined);
  const maskNow = (): Uint8Array => editMask(captured(srcAcc), captured(editAcc), plan.maskWords, h, w, plan.blend);
  const mappedUse = mappedPositions(plan.mapping);
  const useAll = Uint8Array.of(1);
  const lock = new Lockstep();

  const srcPredict = controlledPredictor(ms, control, {
    control: async (i) => {
      if (i > 0) await lock.take(`edited:${i - 1}`);
      return { maxQueries: { cross: i < crossUntil || srcWords.length > 0 ? ALL_QUERIES : 0, self: i < selfUntil ? selfMax : 0 } };
    },
    onAttention: (i, t, out) => {
      if (srcWords.length > 0) srcAcc.add(crossMaps(out.cross, h, w), t);
      lock.put(`attention:${i}`, out);
    },
  });
  let srcLatent: Float32Array | undefined;
  const editPredict = controlledPredictor(ms, control, {
    control: async (i) => {
      const att = await lock.take<Pick<ControlRunOutput, 'cross' | 'self'>>(`attention:${i}`);
      srcLatent = await lock.take<Float32Array>(`latent:${i}`);
      const ctl: StepControl = { maxQueries: { cross: editWords.length > 0 ? ALL_QUERIES : 0, self: 0 } };
      if (i < crossUntil) {
        const cross = new Map<number, LayerFeed>();
        for (const p of att.cross) {
          if (!p) continue;
          if (p.keys !== plan.mapping.positions)
            throw new EngineError(
              'SHAPE_MISMATCH',
              `layer ${p.layer.name} attends to ${p.keys} text positions, not ${plan.mapping.positions}`,
            );
          cross.set(p.layer.index, {
            data: mapAttention(p.data, plan.mapping),
            dims: [1, p.heads, p.queries, p.keys],
            use: mappedUse,
            useDims: [1, 1, 1, p.keys],
          });
        }
        ctl.cross = cross;
      }
      if (i < selfUntil) {
        const self = new Map<number, LayerFeed>();
        for (const p of att.self)
          if (p) self.set(p.layer.index, { data: p.data, dims: [1, p.heads, p.queries, p.keys], use: useAll, useDims: [1, 1, 1, 1] });
        ctl.self = self;
      }
      return ctl;
    },
    onAttention: (_i, t, out) => {
      if (editWords.length > 0) editAcc.add(crossMaps(out.cross, h, w), t);
    },
    ...(concept && plan.suppress ? { suppress: { embedding: concept, options: plan.suppress, steps } } : {}),
  });

  const common = {
    ...settings,
    ...(src.negativePrompt !== undefined ? { negativePrompt: src.negativePrompt } : {}),
    ...(uncond ? { negativeEmbedding: uncond } : {}),
  };
  const settle = <T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> =>
    p.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => {
        lock.fail(error);
        return { ok: false as const, error };
      },
    );
  const srcRun = settle(
    generate(
      ms,
      { ...common, prompt: src.prompt, embedding: srcCond },
      {
        ...(signal ? { signal } : {}),
        png: false,
        predictNoise: srcPredict,
        onStep: (i, x) => lock.put(`latent:${i}`, Float32Array.from(x)),
      },
    ),
  );
  const editRun = settle(
    generate(
      ms,
      { ...common, prompt: req.prompt, embedding: editCond },
      {
        ...(signal ? { signal } : {}),
        png: false,
        predictNoise: editPredict,
        adjustLatent: (i, x) => {
          const out = i >= blendFrom ? blendLatents(x, srcLatent!, maskNow()) : x;
          lock.put(`edited:${i}`, true);
          return out;
        },
        onProgress: (e) => {
          if (e.phase !== 'encode') opts.onProgress?.(e);
        },
      },
    ),
  );
  const [s, e] = await Promise.all([srcRun, editRun]);
  if (!s.ok || !e.ok) {
    const errors = [e, s].filter((r) => !r.ok).map((r) => (r as { error: unknown }).error);
    const cancelled = errors.find((x): x is CancelledError<GenerateCancelled> => x instanceof CancelledError);
    if (cancelled || signal?.aborted) {
      const partial = e.ok ? undefined : e.error instanceof CancelledError ? (e.error.partial as GenerateCancelled | undefined) : undefined;
      throw new CancelledError<EditCancelled>(
        `edit cancelled${partial ? ` at step ${partial.step} of ${steps}` : ''}`,
        partial ?? { step: 0 },
      );
    }
    throw errors.find((x) => !(x instanceof PairStopped)) ?? errors[0];
  }
  const source: GenerateResult = s.value;
  const edited: GenerateResult = e.value;

  // The edit's mask from the whole run's maps (in blend mode: the last step's blend mask).
  const latentMask = maskNow();
  const imageMask = upsampleMask(latentMask, h, w, 8);
  const editedBytes = chwToRgbBytes(edited.image, width, height);
  const sourceBytes = chwToRgbBytes(source.image, width, height);
  let reference = sourceBytes;
  let sourceReproduced: boolean | undefined;
  if (src.image) {
    reference = chwToRgbBytes(src.image, width, height);
    sourceReproduced = bytesClose(reference, sourceBytes);
    if (!sourceReproduced)
      warn(
        'SOURCE_NOT_REPRODUCED',
        'the source image differs from its regeneration (edited after it was made, another model version, or itself an edit): ' +
          'the edit starts from the regeneration, and the report compares against the image you gave',
      );
  }
  const report = editReport(editedBytes, reference, imageMask);

  const record: EditRecord = {
    ...edited.params,
    conditioning: 'text',
    edit: {
      source: {
        prompt: src.prompt,
        negativePrompt: cfg ? (src.negativePrompt ?? '') : '',
        seed: src.seed,
        steps: src.steps,
        scheduler: src.scheduler,
        guidance: src.guidance,
        width,
        height,
        model: src.model ?? ms.name,
        conditioning: src.embedding ? 'embedding' : 'text',
        kind: src.kind ?? 'generation',
      },
      mode: plan.mode,
      requestedMode: req.mode ?? 'auto',
      edits: plan.diff.edits
        .filter((x) => !x.punctuation)
        .map((x) => ({ kind: x.kind, source: x.source.text, edited: x.edited.text, ...(x.weight ? { weight: x.weight } : {}) })),
      crossSteps: plan.crossSteps,
      selfSteps: plan.selfSteps,
      selfMinFactor: plan.selfMinFactor,
      ...(plan.mode === 'blend' ? { blend: plan.blend } : {}),
      ...(plan.suppress ? { suppress: plan.suppress } : {}),
      report: {
        maskArea: report.maskArea,
        outside: { changed: report.outside.changed, psnr: psnrOrNull(report.outside.psnr) },
        inside: { changed: report.inside.changed, psnr: psnrOrNull(report.inside.psnr) },
      },
    },
  };
  const png =
    opts.png === false
      ? Buffer.alloc(0)
      : await imageToPng(edited.image, width, height, {
          parameters: {
            prompt: record.prompt,
            ...(record.negativePrompt ? { negativePrompt: record.negativePrompt } : {}),
            steps: record.steps,
            sampler: samplerLabel(record.scheduler),
            cfgScale: record.guidance,
            seed: record.seed,
            width,
            height,
            model: record.model,
            extra: {
              'Edit mode': plan.mode,
              'Edit source': src.prompt,
              Edit: plan.diff.edits
                .filter((x) => !x.punctuation)
                .map(describeEdit)
                .join('; '),
            },
          },
          json: record,
        });
  return {
    image: edited.image,
    width,
    height,
    png,
    sourceImage: source.image,
    ...(sourceReproduced !== undefined ? { sourceReproduced } : {}),
    diff: plan.diff,
    summary: plan.summary,
    mode: plan.mode,
    modeReason: plan.modeReason,
    mask: {
      width,
      height,
      data: imageMask,
      latent: latentMask,
      latentWidth: w,
      latentHeight: h,
      words: { source: srcWords.map((x) => x.word), edited: editWords.map((x) => x.word) },
    },
    report,
    record,
    latents: edited.latents,
    sourceLatents: source.latents,
    seconds: (performance.now() - t0) / 1000,
    warnings,
  };
}
