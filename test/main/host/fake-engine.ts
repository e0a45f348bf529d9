/**
 * A stand-in engine for plumbing tests of the host (queue, cancel, crash handling, transports):
 * deterministic solid-colour PNGs, timed steps, cancellation with a partial result, and
 * segmentations whose word maps are blobs at known places (word k peaks at column k of a row of
 * cells). Tests that need real behaviour use the real engine (real-engine.ts).
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { maskArea, multiLabel, STOP_WORDS, thresholdMask, type Segmentation } from '../../../src/main/engine/attention/index.js';
import { CancelledError, EngineError } from '../../../src/main/engine/errors.js';
import type { ModelInfo } from '../../../src/shared/ipc/models.js';
import { describeDiff, diffPrompts } from '../../../src/shared/prompt-diff.js';
import type { TokenizeResult } from '../../../src/shared/ipc/requests.js';
import type {
  EditOutput,
  EditSpec,
  EngineAdapter,
  GenerateOutput,
  GenerateSpec,
  InvertOutput,
  InvertSpec,
  RunOptions,
  SegmentOutput,
  SegmentSpec,
} from '../../../src/main/host/engine-adapter.js';

export interface FakeEngineOptions {
  /** Milliseconds per step. */
  stepMs?: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new CancelledError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

async function solidPng(text: string, seed: number, width: number, height: number): Promise<Buffer> {
  const h = createHash('sha256').update(`${text}|${seed}`).digest();
  return sharp({ create: { width, height, channels: 3, background: { r: h[0]!, g: h[1]!, b: h[2]! } } })
    .png()
    .toBuffer();
}

/** The side the fake "inverts" at: stored targets are scaled to a shorter side of at most this. */
export const FAKE_INVERSION_SIZE = 64;

/**
 * A segmentation of `prompt`'s words (stop words left out, or `words`) over a width×height image:
 * word k of n is a blob centred at ((k + 0.5) / n · width, height / 2), min–max normalised.
 */
export function fakeSegmentation(
  prompt: string,
  width: number,
  height: number,
  opts: { words?: readonly string[]; threshold?: number; source?: Segmentation['source'] } = {},
): Segmentation {
  const all: string[] = prompt.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  if (all.length === 0) throw new EngineError('INVALID_ARGUMENT', 'the prompt is empty: there are no words to segment');
  const chosen = opts.words ?? [...new Set(all.filter((w) => !STOP_WORDS.has(w)))];
  for (const w of chosen)
    if (!all.includes(w.toLowerCase())) throw new EngineError('INVALID_ARGUMENT', `"${w}" is not a word of the prompt`);
  const threshold = opts.threshold ?? 0.4;
  const words = chosen.map((word, k) => {
    const cx = ((k + 0.5) / chosen.length) * width;
    const cy = height / 2;
    const r = Math.max(1, Math.min(width / chosen.length, height) / 2);
    const heat = new Float32Array(width * height);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) heat[y * width + x] = Math.max(0, 1 - Math.hypot(x + 0.5 - cx, y + 0.5 - cy) / (2 * r));
    const mask = thresholdMask(heat, threshold);
    return { word, positions: [k + 1], tokens: [word], occurrences: 1, heat, mask, area: maskArea(mask) };
  });
  return {
    prompt,
    width,
    height,
    threshold,
    backgroundThreshold: threshold,
    words,
    labels: words.length
      ? multiLabel(
          words.map((w) => w.heat),
          threshold,
        )
      : new Uint8Array(width * height),
    layers: ['fake.attn2'],
    timesteps: [500],
    source: opts.source ?? 'noising',
  };
}

/**
 * A fake edit: the word diff is the real one (shared/prompt-diff.ts), the image a solid PNG of the
 * edited prompt, the mask the left half of the latent grid, the report made up but well-formed.
 * An edited prompt that reads the same fails as the engine's does.
 */
async function fakeEdit(spec: EditSpec, { signal, onProgress }: RunOptions, stepMs: number, calls: string[]): Promise<EditOutput> {
  calls.push(`edit:${spec.source.prompt}->${spec.prompt}`);
  const diff = diffPrompts(spec.source.prompt, spec.prompt);
  if (diff.identical)
    throw new EngineError(
      'INVALID_ARGUMENT',
      'the edited prompt reads the same as the source prompt (same words, same weights): nothing to edit',
    );
  const steps = spec.source.steps ?? 4;
  for (let i = 1; i <= steps; i++) {
    await sleep(stepMs, signal);
    onProgress?.({ phase: 'denoising', step: i, total: steps });
  }
  const width = spec.source.width ?? 64;
  const height = spec.source.height ?? 64;
  const w = width / 8;
  const h = height / 8;
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w / 2; x++) data[y * w + x] = 1;
  const pixels = width * height;
  const edits = diff.edits.filter((e) => !e.punctuation);
  const removal = edits.some((e) => e.kind === 'removal' || e.kind === 'replacement');
  const mode = spec.mode && spec.mode !== 'auto' ? spec.mode : removal ? 'blend' : 'attention';
  return {
    png: await solidPng(spec.prompt, spec.source.seed, width, height),
    width,
    height,
    params: {
      steps,
      scheduler: spec.source.scheduler ?? 'ddim',
      guidance: spec.source.guidance ?? 7.5,
      width,
      height,
      model: spec.modelSet,
    },
    summary: describeDiff(diff),
    edits: edits.map((e) => ({ kind: e.kind, source: e.source.text, edited: e.edited.text, ...(e.weight ? { weight: e.weight } : {}) })),
    mode,
    modeReason: spec.mode && spec.mode !== 'auto' ? 'asked for' : 'chosen by the fake engine',
    crossSteps: spec.crossSteps ?? 0.8,
    selfSteps: spec.selfSteps ?? 0.4,
    ...(mode === 'blend' ? { blend: { threshold: spec.blend?.threshold ?? 0.3, dilate: spec.blend?.dilate ?? 1 } } : {}),
    mask: { width: w, height: h, data, words: { source: edits.map((e) => e.source.text).filter(Boolean), edited: [] } },
    report: {
      maskArea: 0.5,
      outside: { pixels: pixels / 2, changed: 0, psnr: null },
      inside: { pixels: pixels / 2, changed: 1, psnr: 12.5 },
      whole: { pixels, changed: 0.5, psnr: 15.5 },
      tolerance: 12,
    },
    ...(spec.source.image ? { sourceReproduced: true } : {}),
    warnings: [],
  };
}

export function createFakeEngine(options: FakeEngineOptions = {}): EngineAdapter & { calls: string[] } {
  const stepMs = options.stepMs ?? 20;
  const calls: string[] = [];
  const models: ModelInfo[] = [{ id: 'demo', name: 'Demo model set', kind: 'diffusion', source: 'demo', installed: true }];
  return {
    calls,
    capabilities: ['generate', 'invert', 'segment', 'edit', 'tokenize', 'models'],
    configure() {},
    async generate(spec: GenerateSpec, { signal, onProgress }: RunOptions): Promise<GenerateOutput> {
      calls.push(`generate:${spec.prompt}`);
      if (spec.prompt.includes('__fail__')) throw new EngineError('INVALID_ARGUMENT', 'the fake engine was asked to fail');
      const steps = spec.steps ?? 4;
      for (let i = 1; i <= steps; i++) {
        await sleep(stepMs, signal);
        onProgress?.({ phase: 'denoising', step: i, total: steps });
      }
      const width = spec.width ?? 64;
      const height = spec.height ?? 64;
      const w = Math.min(width, 64);
      const h = Math.min(height, 64);
      const params = { steps, scheduler: spec.scheduler ?? 'ddim', guidance: spec.guidance ?? 7.5, width, height, model: spec.modelSet };
      const png = await solidPng(spec.prompt, spec.seed, w, h);
      if (!spec.attentionMaps) return { png, width: w, height: h, params, warnings: [] };
      return {
        png,
        width: w,
        height: h,
        params,
        warnings: [],
        segmentation: fakeSegmentation(spec.prompt, w, h, { source: 'generation' }),
      };
    },
    async segment(spec: SegmentSpec, { signal, onProgress }: RunOptions): Promise<SegmentOutput> {
      calls.push(`segment:${spec.prompt}${spec.generation ? ':generation' : ''}`);
      const meta = await sharp(spec.image)
        .metadata()
        .catch(() => {
          throw new EngineError('IMAGE', 'could not decode the image');
        });
      for (let i = 1; i <= 3; i++) {
        await sleep(stepMs, signal);
        onProgress?.({ phase: 'attending', step: i, total: 3 });
      }
      const source = spec.generation ? 'generation' : 'noising';
      return {
        segmentation: fakeSegmentation(spec.prompt, meta.width ?? 1, meta.height ?? 1, {
          ...(spec.words ? { words: spec.words } : {}),
          ...(spec.threshold !== undefined ? { threshold: spec.threshold } : {}),
          source,
        }),
        warnings: [],
      };
    },
    async edit(spec: EditSpec, opts: RunOptions): Promise<EditOutput> {
      return fakeEdit(spec, opts, stepMs, calls);
    },
    async invert(spec: InvertSpec, { signal, onProgress }: RunOptions): Promise<InvertOutput> {
      calls.push('invert');
      const meta = await sharp(spec.image)
        .metadata()
        .catch(() => {
          throw new EngineError('IMAGE', 'could not decode the image');
        });
      if ((meta.width ?? 0) < 8) throw new EngineError('IMAGE', 'image too small');
      const iterations = spec.iterations ?? 10;
      const initialPrompt = spec.init ?? 'a photo';
      const loss: number[] = [];
      const best = (): InvertOutput => ({
        prompt: `${initialPrompt} refined`,
        initialPrompt,
        candidates: [{ prompt: `${initialPrompt} refined`, score: 1 - (loss.at(-1) ?? 1), iteration: loss.length }],
        loss: [...loss],
        iterations: loss.length,
        seconds: (loss.length * stepMs) / 1000,
        objective: spec.objective ?? 'pixel',
        inversionSize: FAKE_INVERSION_SIZE,
        warnings: [],
      });
      try {
        for (let i = 1; i <= iterations; i++) {
          await sleep(stepMs, signal);
          loss.push(1 / (1 + i));
          onProgress?.({
            phase: 'refining',
            step: i,
            total: iterations,
            loss: loss.at(-1)!,
            lr: 0.1,
            ...(i % 5 === 0 ? { previewPng: await solidPng('preview', i, 16, 16) } : {}),
          });
        }
      } catch (e) {
        if (e instanceof CancelledError) throw new CancelledError('cancelled', best());
        throw e;
      }
      const out = best();
      out.candidates[0]!.png = await solidPng(out.prompt, spec.seed, FAKE_INVERSION_SIZE, FAKE_INVERSION_SIZE);
      return out;
    },
    async tokenize(text: string): Promise<TokenizeResult> {
      const words = text.split(/\s+/).filter(Boolean);
      const tokens = words.map((w, i) => ({ id: i, text: w.toLowerCase() }));
      const limit = 75;
      return { tokens, count: tokens.length, limit, truncated: tokens.length > limit, droppedFrom: null, droppedWords: words.slice(limit) };
    },
    async listModels() {
      return models;
    },
    async downloadModel(id: string, { signal, onProgress }: RunOptions) {
      for (let i = 1; i <= 5; i++) {
        await sleep(stepMs, signal);
        onProgress?.({ phase: 'downloading', step: i, total: 5, bytes: i * 100, totalBytes: 500 });
      }
      return { id, name: id, kind: 'diffusion', source: 'hub', installed: true };
    },
    async importModel(folder: string) {
      throw new EngineError('MODEL_FOLDER', `the fake engine cannot import ${folder}`);
    },
  };
}
