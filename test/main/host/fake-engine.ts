/**
 * A stand-in engine for plumbing tests of the host (queue, cancel, crash handling, transports):
 * deterministic solid-colour PNGs, timed steps, cancellation with a partial result. Tests that
 * need real behaviour use the real engine (real-engine.ts).
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { CancelledError, EngineError } from '../../../src/main/engine/errors.js';
import type { ModelInfo } from '../../../src/shared/ipc/models.js';
import type { TokenizeResult } from '../../../src/shared/ipc/requests.js';
import type {
  EngineAdapter,
  GenerateOutput,
  GenerateSpec,
  InvertOutput,
  InvertSpec,
  RunOptions,
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

export function createFakeEngine(options: FakeEngineOptions = {}): EngineAdapter & { calls: string[] } {
  const stepMs = options.stepMs ?? 20;
  const calls: string[] = [];
  const models: ModelInfo[] = [{ id: 'demo', name: 'Demo model set', kind: 'diffusion', source: 'demo', installed: true }];
  return {
    calls,
    capabilities: ['generate', 'invert', 'tokenize', 'models'],
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
      return { png: await solidPng(spec.prompt, spec.seed, w, h), width: w, height: h, params, warnings: [] };
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
      out.candidates[0]!.png = await solidPng(out.prompt, spec.seed, 32, 32);
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
