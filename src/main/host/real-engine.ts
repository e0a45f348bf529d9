/**
 * The EngineAdapter over the project's engine (src/main/engine). Each operation delegates to the
 * engine module that owns it; this file only maps arguments and keeps loaded model sets warm
 * (loading a set opens onnxruntime sessions, which is the slow part of a first generation). The
 * attention-capture session of a set (a second UNet session, opened by the first generation with
 * maps or segmentation) is released with the set when another set is loaded or the worker stops;
 * so is its attention-control session (a third, opened by the first edit: edit-engine.ts).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { MAX_LIST_ITEMS } from '../../shared/ipc/limits.js';
import type { ModelInfo } from '../../shared/ipc/models.js';
import type { TokenizeResult } from '../../shared/ipc/requests.js';
import type { Settings } from '../../shared/ipc/settings.js';
import {
  AttentionCaptureError,
  openAttentionCapture,
  planSegmentation,
  releaseAttentionCapture,
  segmentGeneration,
  segmentImage,
  workingSize,
  type Segmentation,
} from '../engine/attention/index.js';
import { releaseAttentionControl } from '../engine/concepts/edit/index.js';
import { loadModelSet, resolveModelSetDir, type ModelSet } from '../engine/diffusion/load-model-set.js';
import { generate, type GenerateProgress, type GenerateRequest, type GenerateResult } from '../engine/diffusion/pipeline.js';
import { checkImageSize, sizeLimitModelForInversion } from '../engine/diffusion/size-limits.js';
import { countTokens, loadClipTokenizer, type ClipTokenizer } from '../engine/diffusion/tokenizer/index.js';
import { CancelledError, EngineError } from '../engine/errors.js';
import { chwToRgbBytes, loadImage } from '../engine/image/image-io.js';
import { inversionModelsFromSet } from '../engine/inversion/from-model-set.js';
import type { InversionModels } from '../engine/inversion/inversion-models.js';
import { invert, type InitSpec, type InvertResult } from '../engine/inversion/invert.js';
import { OptionalModelCache, resolveOptionalModels } from '../engine/inversion/optional-models.js';
import { presetSettings } from '../engine/inversion/presets.js';
import { listModels, resolveCacheDir, type ModelListing } from '../engine/models/cache.js';
import { downloadModel } from '../engine/models/downloader.js';
import { importModelFolder } from '../engine/models/import.js';
import { getManifest, loadManifests } from '../engine/models/shipped-manifests.js';
import type {
  EditOutput,
  EditSpec,
  EngineAdapter,
  EngineProgress,
  EvalRunOutput,
  EvalRunSpec,
  EvolutionBackendHandle,
  FuseOutput,
  FuseSpec,
  GenerateOutput,
  GenerateSpec,
  InvertOutput,
  InvertSpec,
  RunOptions,
  SegmentOutput,
  SegmentSpec,
} from './engine-adapter.js';
import { runEdit } from './edit-engine.js';
import { evolutionBackendFor } from './evolution-engine.js';
import { runFuse } from './fuse-engine.js';
import { evaluateWithEngine } from './real-eval.js';
import { invertBaseline, methodInfo, MethodModelCache } from './real-methods.js';
import { segmentOutputSize } from './segmentations.js';

const KIND_MAP: Record<string, ModelInfo['kind']> = {
  diffusion: 'diffusion',
  captioner: 'captioner',
  clip: 'clip',
  lm: 'language-model',
  e2t: 'e2t',
};

export function toModelInfo(m: ModelListing): ModelInfo {
  return {
    id: m.id,
    name: (m.title || m.id).slice(0, 256),
    kind: KIND_MAP[m.kind] ?? 'other',
    source: m.source === 'generated' ? 'demo' : m.source === 'import' ? 'local' : 'hub',
    installed: m.status === 'installed',
    ...(m.expectedBytes !== undefined ? { sizeBytes: Math.round(m.expectedBytes) } : {}),
    downloadedBytes: Math.round(m.bytesOnDisk),
    path: m.path,
    ...(m.hubRepo ? { description: `${m.hubRepo}${m.revision ? `@${m.revision.slice(0, 12)}` : ''}` } : {}),
  };
}

/** Cache name for an imported folder: `local-<folder name>-<short hash of the path>`. */
export function importName(folder: string): string {
  const base =
    path
      .basename(path.resolve(folder))
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 40) || 'model';
  const hash = createHash('sha256').update(path.resolve(folder)).digest('hex').slice(0, 8);
  return `local-${base}-${hash}`;
}

const GENERATE_PHASES: Record<string, string> = { encode: 'encoding', denoise: 'denoising', decode: 'decoding' };

/** generate()'s progress as job progress. */
function generateProgress(onProgress: RunOptions['onProgress']): (e: GenerateProgress) => void {
  return (e) =>
    onProgress?.({
      phase: GENERATE_PHASES[e.phase] ?? e.phase,
      step: e.step,
      total: e.total,
      ...(e.etaSeconds !== undefined ? { etaSeconds: e.etaSeconds } : {}),
    });
}

/** Same pixels, within one level of rounding. */
function rgbClose(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) > 1) return false;
  return true;
}

/** Release a model set and its attention-capture and attention-control sessions (when opened). */
async function releaseSet(set: Promise<ModelSet>): Promise<void> {
  const ms = await set.catch(() => undefined);
  if (!ms) return;
  await releaseAttentionCapture(ms);
  await releaseAttentionControl(ms);
  await ms.release();
}

/**
 * Why a generation cannot come with attention maps (a prompt without words, a UNet whose
 * cross-attention cannot be captured), or undefined when it can.
 */
async function mapsUnavailable(ms: ModelSet, prompt: string): Promise<string | undefined> {
  try {
    planSegmentation(ms.tokenizer, prompt);
    await openAttentionCapture(ms);
    return undefined;
  } catch (e) {
    if (e instanceof AttentionCaptureError || (e instanceof EngineError && e.code === 'INVALID_ARGUMENT'))
      return `no attention maps for this image: ${e.message}`;
    throw e;
  }
}

function mapInvertOutput(r: InvertResult, warnings: string[], inversionSize: number): InvertOutput {
  return {
    prompt: r.prompt,
    initialPrompt: r.initialPrompt,
    // Best first, as invert() ranks them.
    candidates: r.candidates.map((c) => ({ prompt: c.prompt, score: c.score, iteration: c.iteration, ...(c.png ? { png: c.png } : {}) })),
    loss: r.loss,
    iterations: r.iterations,
    seconds: r.seconds,
    objective: r.objective,
    inversionSize,
    warnings: [
      ...warnings,
      ...(r.stopped === 'non-finite' ? [r.message ?? 'the loss became NaN/Inf; stopped and kept the best result so far'] : []),
    ],
  };
}

export function createRealEngine(): EngineAdapter {
  let settings: Settings | undefined;
  const cacheDir = () => resolveCacheDir(settings?.cacheDir ?? undefined);
  const provider = () => settings?.provider ?? 'auto';

  // One warm model set (and its inversion graphs) at a time: they hold onnxruntime sessions and weights.
  let loaded: { key: string; set: Promise<ModelSet>; inversion?: Promise<InversionModels> } | undefined;
  const tokenizers = new Map<string, Promise<ClipTokenizer>>();
  // Captioner, CLIP and GPT-2 stay loaded between inversions (optional-models.ts).
  const optional = new OptionalModelCache();
  // The baselines' own models (PEZ's CLIP, the text towers), for the warm set (real-methods.ts).
  const methodModels = new MethodModelCache();

  const modelSet = async (ref: string, opts: RunOptions): Promise<{ ms: ModelSet; entry: NonNullable<typeof loaded> }> => {
    const key = `${ref}|${provider()}|${cacheDir()}`;
    if (loaded?.key !== key) {
      const old = loaded;
      loaded = undefined;
      if (old) await releaseSet(old.set);
      opts.onProgress?.({ phase: 'loading', step: 0, total: 1, message: `loading model set ${ref}` });
      const set = loadModelSet(ref, {
        provider: provider(),
        cacheDir: cacheDir(),
        onProgress: (e) => opts.onProgress?.({ phase: 'loading', step: e.step, total: e.total, message: e.message }),
      });
      loaded = { key, set };
      set.catch(() => {
        if (loaded?.set === set) loaded = undefined;
      });
    }
    const entry = loaded!;
    return { ms: await entry.set, entry };
  };

  const tokenizerFor = (ref: string): Promise<ClipTokenizer> => {
    const key = `${ref}|${cacheDir()}`;
    let t = tokenizers.get(key);
    if (!t) {
      t = resolveModelSetDir(ref, { cacheDir: cacheDir() }).then(({ dir }) => loadClipTokenizer(dir));
      tokenizers.set(key, t);
      t.catch(() => tokenizers.delete(key));
    }
    return t;
  };

  const engine: EngineAdapter = {
    capabilities: ['generate', 'invert', 'segment', 'edit', 'eval', 'fuse', 'evolve', 'tokenize', 'models'],
    configure(s) {
      settings = s;
    },

    async generate(spec: GenerateSpec, opts: RunOptions): Promise<GenerateOutput> {
      const { ms } = await modelSet(spec.modelSet, opts);
      const d = ms.defaults;
      const req: GenerateRequest = {
        prompt: spec.prompt,
        negativePrompt: spec.negativePrompt,
        seed: spec.seed,
        steps: spec.steps ?? d.steps,
        scheduler: spec.scheduler ?? d.scheduler,
        guidance: spec.guidance ?? d.guidance,
        width: spec.width ?? d.width,
        height: spec.height ?? d.height,
      };
      const runOpts = { ...(opts.signal ? { signal: opts.signal } : {}), onProgress: generateProgress(opts.onProgress) };
      const warnings: string[] = [];
      let res: GenerateResult;
      let segmentation: Segmentation | undefined;
      // With maps, the capture session samples (the same graph plus outputs: the same image).
      const noMaps = spec.attentionMaps ? await mapsUnavailable(ms, spec.prompt) : 'not asked';
      if (spec.attentionMaps && noMaps) warnings.push(noMaps);
      if (!noMaps) ({ result: res, segmentation } = await segmentGeneration(ms, req, runOpts));
      else res = await generate(ms, req, runOpts);
      const p = res.params;
      return {
        png: res.png,
        width: res.width,
        height: res.height,
        params: { steps: p.steps, scheduler: p.scheduler, guidance: p.guidance, width: p.width, height: p.height, model: spec.modelSet },
        warnings: [...res.warnings, ...warnings],
        ...(segmentation ? { segmentation } : {}),
      };
    },

    async segment(spec: SegmentSpec, opts: RunOptions): Promise<SegmentOutput> {
      const { ms } = await modelSet(spec.modelSet, opts);
      const original = await loadImage(spec.image);
      const out = segmentOutputSize(original.width, original.height);
      const segOpts = {
        ...(spec.words ? { words: spec.words } : {}),
        ...(spec.threshold !== undefined ? { threshold: spec.threshold } : {}),
      };
      planSegmentation(ms.tokenizer, spec.prompt, segOpts); // a word not in the prompt fails before any model runs
      const signal = opts.signal ? { signal: opts.signal } : {};
      const warnings: string[] = [];
      let seg: Segmentation | undefined;
      const g = spec.generation;
      if (g && (g.width !== original.width || g.height !== original.height))
        warnings.push(
          `the image is ${original.width}x${original.height}, not the ${g.width}x${g.height} it was generated at: used the noising path`,
        );
      else if (g) {
        // Its own sampling again (same request, same image), with the attention captured.
        const r = await segmentGeneration(
          ms,
          { prompt: spec.prompt, ...g },
          { ...segOpts, ...signal, png: false, onProgress: generateProgress(opts.onProgress) },
        );
        const same = rgbClose(chwToRgbBytes(r.result.image, g.width, g.height), chwToRgbBytes(original.data, g.width, g.height));
        if (same) seg = r.segmentation;
        else warnings.push('the image differs from its regeneration (edited, or another version of the model set?): used the noising path');
      }
      if (!seg) {
        const size = workingSize(ms, original.width, original.height);
        const work = await loadImage(spec.image, { ...size, fit: 'fill' });
        seg = await segmentImage(ms, work, spec.prompt, {
          ...segOpts,
          ...signal,
          ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
          ...out,
          onProgress: (e) => opts.onProgress?.({ phase: e.phase === 'encode' ? 'encoding' : 'attending', step: e.step, total: e.total }),
        });
      }
      return { segmentation: seg, warnings };
    },

    async edit(spec: EditSpec, opts: RunOptions): Promise<EditOutput> {
      const { ms } = await modelSet(spec.modelSet, opts);
      return runEdit(ms, spec, { ...(opts.signal ? { signal: opts.signal } : {}), onProgress: generateProgress(opts.onProgress) });
    },

    async invert(spec: InvertSpec, opts: RunOptions): Promise<InvertOutput> {
      const { ms, entry } = await modelSet(spec.modelSet, opts);
      entry.inversion ??= inversionModelsFromSet(ms);
      const models = await entry.inversion.catch((e) => {
        entry.inversion = undefined;
        throw e;
      });
      const size = models.defaultSize;
      checkImageSize(sizeLimitModelForInversion(models), size, size, 'invert'); // memory bound, before the image is decoded
      const target = await loadImage(spec.image, { width: size, height: size, fit: 'cover' });
      const givenText = spec.init?.trim() ? spec.init : undefined;
      const method = spec.method ?? 'editor';
      // PH2P and PEZ start from random tokens; the caption baseline is the captioner's text whatever the start text.
      const captions = method === 'caption' || (method === 'editor' && !givenText);
      const helpers = await resolveOptionalModels(
        { cacheDir: cacheDir(), modelSetDir: ms.dir, choices: { captioner: captions ? 'auto' : 'off' } },
        optional,
      );
      if (method !== 'editor')
        return invertBaseline(method, { ms, models, target, size, spec, helpers, cacheDir: cacheDir(), cache: methodModels }, opts);
      const init: InitSpec = givenText
        ? { kind: 'text', text: givenText }
        : helpers.captioner
          ? { kind: 'caption', cacheDir: cacheDir(), offline: true, instance: helpers.captioner }
          : { kind: 'random' };
      const overrides = {
        seed: spec.seed,
        ...(spec.objective ? { objective: spec.objective } : {}),
        ...(spec.iterations ? { iterations: spec.iterations } : {}),
      };
      const settingsForRun = presetSettings(spec.preset, overrides);
      const onProgress = opts.onProgress;
      const result = await invert(models, target, {
        settings: settingsForRun,
        init,
        ...(helpers.scorer ? { scorer: helpers.scorer } : {}),
        ...(helpers.lm ? { lm: helpers.lm } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(onProgress
          ? {
              onProgress: (e) => {
                if (e.phase === 'done') return;
                const p: EngineProgress = {
                  phase: e.phase,
                  step: e.iteration ?? 0,
                  total: e.total ?? (e.phase === 'refining' ? settingsForRun.iterations : 1),
                };
                if (e.loss !== undefined) p.loss = e.loss;
                if (e.lr !== undefined) p.lr = e.lr;
                if (e.etaSeconds !== undefined) p.etaSeconds = e.etaSeconds;
                if (e.previewPng) p.previewPng = e.previewPng;
                if (e.message) p.message = e.message;
                onProgress(p);
              },
            }
          : {}),
      });
      const out = mapInvertOutput(result, helpers.warnings, size);
      if (result.stopped === 'cancelled') throw new CancelledError('inversion cancelled; best result so far kept', out);
      return out;
    },

    async tokenize(text: string, ref: string): Promise<TokenizeResult> {
      return countTokens(await tokenizerFor(ref), text, { maxItems: MAX_LIST_ITEMS, maxTextChars: 256 });
    },

    async listModels() {
      const listed = (await listModels(cacheDir(), await loadManifests())).map(toModelInfo);
      if (!listed.some((m) => m.id === 'demo')) {
        listed.unshift({
          id: 'demo',
          name: 'Demo model set (tiny, generated locally)',
          kind: 'diffusion',
          source: 'demo',
          installed: true,
          description: 'generated on first use',
        });
      }
      return listed;
    },

    async downloadModel(id: string, { signal, onProgress }: RunOptions) {
      const manifest = await getManifest(id);
      const res = await downloadModel(manifest, cacheDir(), {
        ...(signal ? { signal } : {}),
        ...(settings?.offline ? { offline: true } : {}),
        onProgress: (e) =>
          onProgress?.({
            phase: e.phase === 'verify' ? 'verifying' : 'downloading',
            step: e.fileIndex,
            total: e.fileCount,
            bytes: e.bytes,
            ...(e.total !== undefined ? { totalBytes: e.total } : {}),
            bytesPerSecond: e.rate,
            ...(e.etaSeconds !== undefined ? { etaSeconds: e.etaSeconds } : {}),
            message: e.file,
          }),
      });
      const info = (await engine.listModels()).find((m) => m.id === res.id);
      if (!info) throw new EngineError('DOWNLOAD', `model '${id}' was downloaded but is not listed`);
      return info;
    },

    async importModel(folder: string, { signal, onProgress }: RunOptions) {
      const res = await importModelFolder(folder, {
        name: importName(folder),
        cacheDir: cacheDir(),
        manifests: await loadManifests(),
        ...(signal ? { signal } : {}),
        onProgress: (e) =>
          onProgress?.({
            phase: 'importing',
            step: e.files,
            total: e.totalFiles,
            bytes: e.bytes,
            totalBytes: e.totalBytes,
            message: e.phase,
          }),
      });
      const info = (await engine.listModels()).find((m) => m.id === res.id);
      if (!info) throw new EngineError('MODEL_FOLDER', `model folder ${folder} was imported but is not listed`);
      return info;
    },

    async evaluate(spec: EvalRunSpec, opts: RunOptions): Promise<EvalRunOutput> {
      // The harness loads the models it needs itself: release the warm ones rather than hold both.
      const old = loaded;
      loaded = undefined;
      if (old) await releaseSet(old.set);
      await methodModels.dispose();
      await optional.dispose();
      return evaluateWithEngine(spec, opts, { cacheDir: cacheDir(), provider: provider() });
    },

    async fuse(spec: FuseSpec, opts: RunOptions): Promise<FuseOutput> {
      const { ms } = await modelSet(spec.modelSet, opts);
      return runFuse(ms, spec, { cacheDir: cacheDir(), optional }, opts);
    },

    async evolutionBackend(ref: string, needs: { clip?: boolean }, opts: RunOptions): Promise<EvolutionBackendHandle> {
      const { ms } = await modelSet(ref, opts);
      return evolutionBackendFor(ms, needs, { cacheDir: cacheDir(), optional });
    },

    methods: (ref: string) => methodInfo(ref, cacheDir()),

    async dispose() {
      await methodModels.dispose();
      await optional.dispose();
      const old = loaded;
      loaded = undefined;
      if (old) await releaseSet(old.set);
    },
  };
  return engine;
}
