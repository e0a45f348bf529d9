/**
 * Loading a Stable Diffusion model set (diffusers ONNX layout: docs/generation.md): validates the folder,
 * opens the four sessions, loads tokenizer and scheduler config, and reads the I/O metadata that
 * differs between exports (timestep int64/float32/float16, fp16 or fp32 activations, int32 or
 * int64 token ids, LCM's `timestep_cond`, fixed or symbolic batch).
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError, throwIfAborted } from '../errors.js';
import { assertModelFolder } from '../models/model-folder.js';
import { cacheTempDir, installedModelDir, resolveCacheDir, sweepCache } from '../models/cache.js';
import { MODEL_ID_PATTERN } from '../models/manifest-schema.js';
import { DEMO_MODEL_ID, ensureDemoModelSet, readDemoStamp } from '../models/demo/index.js';
import { ensureShapesModelSet } from '../models/shapes/install.js';
import { readShapesStamp, SHAPES_MODEL_ID } from '../models/shapes/stamp.js';
import { createSession, type ProviderChoice, type RuntimeWarning, type Session, type TensorInfo } from '../runtime/index.js';
import type { ExecutionProvider } from '../runtime/providers.js';
import type { FloatType, IdsType, TimestepType } from '../runtime/tensors.js';
import { readModel, serializeForSession, setSessionTempDir, sweepSessionTemps } from '../onnx/model-io.js';
import { zeroRandomSamplers } from '../onnx/zero-random.js';
import { loadSchedulerConfig, type DiffusersSchedulerConfig, type SchedulerName } from './schedulers/index.js';
import { loadClipTokenizer, type ClipTokenizer } from './tokenizer/index.js';

/** What the pipeline needs to know about the exports' inputs and outputs. */
export interface ModelSetIo {
  /** Text-encoder width D (SD 1.5: 768; demo: 64): embeddings are [77, D]. */
  hiddenSize: number;
  /** Token positions (77). */
  sequenceLength: number;
  idsType: IdsType;
  /** Element type of last_hidden_state. */
  textOutputType: FloatType;
  /** Element type of the UNet's sample / encoder_hidden_states / out_sample. */
  unetType: FloatType;
  timestepType: TimestepType;
  /** Width of LCM's `timestep_cond` input, when the UNet has one. */
  timestepCondDim?: number;
  latentChannels: number;
  /** Fixed UNet batch size, or undefined when the batch dim is symbolic (CFG then runs as one batch of 2). */
  unetFixedBatch?: number;
  vaeDecoderType: FloatType;
  vaeEncoderType?: FloatType;
  /** Latent scaling factor (0.18215 for SD 1.x/2.x). */
  vaeScalingFactor: number;
  /** Image sides must be multiples of this (8 at least; deeper UNets with fixed 2x upsampling need more). */
  sizeMultiple: number;
  /** Output names actually used. */
  names: { textOutput: string; unetOutput: string; vaeDecoderOutput: string; vaeEncoderOutput?: string };
}

export interface GenerationDefaults {
  width: number;
  height: number;
  steps: number;
  guidance: number;
  scheduler: SchedulerName;
}

export interface ModelSet {
  /** 'demo', a cache id such as 'sd15', or the folder's base name. */
  name: string;
  dir: string;
  tokenizer: ClipTokenizer;
  textEncoder: Session;
  unet: Session;
  vaeDecoder: Session;
  /** Absent when the folder has no vae_encoder/ (image-to-latent then is unavailable). */
  vaeEncoder?: Session;
  schedulerConfig: DiffusersSchedulerConfig;
  io: ModelSetIo;
  defaults: GenerationDefaults;
  /** Provider the UNet runs on. */
  provider: ExecutionProvider;
  warnings: string[];
  release(): Promise<void>;
}

export interface LoadModelSetOptions {
  provider?: ProviderChoice;
  threads?: number;
  /** Cache root for names ('demo', 'sd15', ...); default resolveCacheDir(). */
  cacheDir?: string;
  /** Skip vae_encoder even when present (saves memory when only generating). */
  skipVaeEncoder?: boolean;
  signal?: AbortSignal;
  onWarning?: (w: RuntimeWarning | { type: 'warning'; code: string; message: string }) => void;
  /** Loading steps, and 'generate-demo' steps when the demo set is generated on first use. */
  onProgress?: (e: { phase: 'load' | 'generate-demo'; step: number; total: number; message: string }) => void;
}

const SD_DEFAULTS: GenerationDefaults = { width: 512, height: 512, steps: 25, guidance: 7.5, scheduler: 'ddim' };
const TURBO_DEFAULTS: GenerationDefaults = { width: 512, height: 512, steps: 1, guidance: 0, scheduler: 'turbo' };

/**
 * The public diffusers vae_encoder samples mean + std * randn inside the graph; replace the
 * sampler by zeros so encoding returns the latent mean (deterministic, as inversion needs).
 * Graphs without a sampler open unchanged.
 */
async function openDeterministic(file: string, opts: Parameters<typeof createSession>[1]): Promise<Session> {
  const model = await readModel(file);
  const { model: patched, replaced } = zeroRandomSamplers(model);
  if (replaced === 0) return createSession(file, opts);
  const prepared = await serializeForSession(patched);
  try {
    return await createSession((prepared.path ?? prepared.bytes)!, opts);
  } finally {
    await prepared.dispose();
  }
}

/**
 * Resolve 'demo', an installed model id ('sd15', 'sd-turbo', an imported name) or a folder path.
 * 'demo' is generated into the cache on first use.
 */
export async function resolveModelSetDir(
  dirOrName: string,
  opts: Pick<LoadModelSetOptions, 'cacheDir' | 'signal' | 'onProgress'> = {},
): Promise<{ dir: string; name: string }> {
  if (dirOrName === DEMO_MODEL_ID) {
    const dir = await ensureDemoModelSet(opts.cacheDir, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    return { dir, name: DEMO_MODEL_ID };
  }
  if (dirOrName === SHAPES_MODEL_ID) {
    // the trained shapes set: copied into the cache from the committed models/shapes/ on first use
    const dir = await ensureShapesModelSet(opts.cacheDir, opts.signal ? { signal: opts.signal } : {});
    return { dir, name: SHAPES_MODEL_ID };
  }
  const looksLikePath = dirOrName.includes('/') || dirOrName.includes('\\') || dirOrName.startsWith('.');
  if (looksLikePath || existsSync(dirOrName)) {
    const dir = path.resolve(dirOrName);
    if (!existsSync(dir))
      throw new EngineError(
        'MODEL_FOLDER',
        `model folder ${dir} does not exist. Pass a diffusers ONNX folder, 'demo', or an installed model name (see \`inversion-studio models list\`).`,
      );
    if (!statSync(dir).isDirectory())
      throw new EngineError(
        'MODEL_FOLDER',
        `${dir} is a file; pass the model folder that contains text_encoder/, unet/, vae_decoder/, tokenizer/ and scheduler/.`,
      );
    return { dir, name: path.basename(dir) };
  }
  if (!MODEL_ID_PATTERN.test(dirOrName))
    throw new EngineError('MODEL_FOLDER', `'${dirOrName}' is neither a model folder nor a model name.`);
  return { dir: await installedModelDir(resolveCacheDir(opts.cacheDir), dirOrName), name: dirOrName };
}

function floatType(info: TensorInfo | undefined, what: string): FloatType {
  if (!info) throw new EngineError('INVALID_MODEL', `${what} is missing`);
  if (info.type === 'float32' || info.type === 'float16') return info.type;
  throw new EngineError('INVALID_MODEL', `${what} has element type ${info.type}; expected float32 or float16`);
}

function requireInput(s: Session, name: string, component: string): TensorInfo {
  const i = s.input(name);
  if (!i)
    throw new EngineError(
      'INVALID_MODEL',
      `${component}/model.onnx has no input '${name}' (inputs: ${s.inputs.map((x) => x.name).join(', ')}); is this a Stable Diffusion ${component} export?`,
    );
  return i;
}

function outputName(s: Session, preferred: string): string {
  return s.output(preferred) ? preferred : s.outputs[0]!.name;
}

async function readJsonMaybe(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Derive the I/O description from open sessions (exported for tests and tools). */
export function describeIo(
  s: { textEncoder: Session; unet: Session; vaeDecoder: Session; vaeEncoder?: Session },
  vaeScalingFactor: number,
  sizeMultiple: number,
): ModelSetIo {
  const ids = requireInput(s.textEncoder, 'input_ids', 'text_encoder');
  if (ids.type !== 'int32' && ids.type !== 'int64')
    throw new EngineError('INVALID_MODEL', `text_encoder input_ids has type ${ids.type}; expected int32 or int64`);
  const textOutput = outputName(s.textEncoder, 'last_hidden_state');
  const textOut = s.textEncoder.output(textOutput)!;
  const sample = requireInput(s.unet, 'sample', 'unet');
  const ts = requireInput(s.unet, 'timestep', 'unet');
  const ehs = requireInput(s.unet, 'encoder_hidden_states', 'unet');
  if (ts.type !== 'int64' && ts.type !== 'float32' && ts.type !== 'float16')
    throw new EngineError('INVALID_MODEL', `unet timestep has type ${ts.type}; expected int64, float32 or float16`);
  const seqDim = ids.shape[1];
  const sequenceLength = typeof seqDim === 'number' ? seqDim : 77;
  const hText = textOut.shape[2];
  const hUnet = ehs.shape[2];
  const hiddenSize = typeof hUnet === 'number' ? hUnet : typeof hText === 'number' ? hText : NaN;
  if (!Number.isFinite(hiddenSize))
    throw new EngineError(
      'INVALID_MODEL',
      'cannot tell the text embedding width: neither last_hidden_state nor encoder_hidden_states has a fixed last dimension',
    );
  if (typeof hText === 'number' && typeof hUnet === 'number' && hText !== hUnet) {
    throw new EngineError(
      'INVALID_MODEL',
      `the text encoder outputs width ${hText} but the UNet expects encoder_hidden_states of width ${hUnet}: the folder mixes components of different models`,
    );
  }
  const cond = s.unet.input('timestep_cond');
  const condDim = cond?.shape[1];
  const channels = sample.shape[1];
  const batch = sample.shape[0];
  const vaeIn = requireInput(s.vaeDecoder, 'latent_sample', 'vae_decoder');
  const io: ModelSetIo = {
    hiddenSize,
    sequenceLength,
    idsType: ids.type,
    textOutputType: floatType(textOut, 'text_encoder last_hidden_state'),
    unetType: floatType(sample, 'unet sample'),
    timestepType: ts.type,
    latentChannels: typeof channels === 'number' ? channels : 4,
    vaeDecoderType: floatType(vaeIn, 'vae_decoder latent_sample'),
    vaeScalingFactor,
    sizeMultiple,
    names: { textOutput, unetOutput: outputName(s.unet, 'out_sample'), vaeDecoderOutput: outputName(s.vaeDecoder, 'sample') },
  };
  if (typeof batch === 'number') io.unetFixedBatch = batch;
  if (cond) io.timestepCondDim = typeof condDim === 'number' ? condDim : 256;
  if (s.vaeEncoder) {
    io.vaeEncoderType = floatType(requireInput(s.vaeEncoder, 'sample', 'vae_encoder'), 'vae_encoder sample');
    io.names.vaeEncoderOutput = outputName(s.vaeEncoder, 'latent_sample');
  }
  return io;
}

/**
 * Load a model set: 'demo' (generated on first use), an installed name ('sd15', 'sd-turbo', ...)
 * or a diffusers ONNX folder.
 * @throws EngineError('MODEL_FOLDER') naming missing files; ('NOT_INSTALLED') for a known name not in the cache;
 *   ('INVALID_MODEL') when a component is not the expected export.
 */
export async function loadModelSet(dirOrName: string, opts: LoadModelSetOptions = {}): Promise<ModelSet> {
  await useCache(resolveCacheDir(opts.cacheDir));
  try {
    return await loadResolved(dirOrName, opts);
  } catch (e) {
    // The demo set is ours to regenerate: a damaged one (truncated weights, a broken tokenizer...)
    // is rebuilt once instead of sending the user to re-download something that was never downloaded.
    if (dirOrName !== DEMO_MODEL_ID || !(e instanceof EngineError) || !DAMAGED_CODES.has(e.code)) throw e;
    const dir = await resolveModelSetDir(DEMO_MODEL_ID, opts).then(
      (r) => r.dir,
      () => '<cache>/models/demo',
    );
    opts.onWarning?.({
      type: 'warning',
      code: 'MODEL_FOLDER',
      message: `the demo model set in ${dir} was damaged (${firstSentence(e.message)}); regenerating it`,
    });
    await ensureDemoModelSet(opts.cacheDir, {
      regenerate: true,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    try {
      return await loadResolved(dirOrName, opts);
    } catch (again) {
      if (!(again instanceof EngineError) || !DAMAGED_CODES.has(again.code)) throw again;
      throw new EngineError(
        again.code,
        `the demo model set in ${dir} is damaged even after regenerating it (${firstSentence(again.message)}). Delete ${dir} and run the command again; if it persists, check the disk (space, errors).`,
        { cause: again },
      );
    }
  }
}

/** Error codes that mean "the files of the model set are bad" (not a bad request). */
const DAMAGED_CODES = new Set(['INVALID_MODEL', 'MODEL_FOLDER']);

/** The first line of a message without its "re-download it" advice (wrong for a generated set). */
function firstSentence(m: string): string {
  return m
    .split('\n')[0]!
    .replace(/[.;,]?\s*re-download[^.;]*\.?$/i, '')
    .slice(0, 400);
}

const sweptCaches = new Set<string>();

/**
 * Session models of this process go under the cache's temp folder; what earlier processes left
 * there (and elsewhere in the cache) is removed once per cache and process.
 */
async function useCache(cacheDir: string): Promise<void> {
  setSessionTempDir(cacheTempDir(cacheDir));
  if (sweptCaches.has(cacheDir)) return;
  sweptCaches.add(cacheDir);
  await sweepCache(cacheDir);
}

async function loadResolved(dirOrName: string, opts: LoadModelSetOptions): Promise<ModelSet> {
  const { dir, name } = await resolveModelSetDir(dirOrName, opts);
  // Temp models a killed process left next to the weights would otherwise be reported on every load.
  await sweepSessionTemps(dir);
  const report = await assertModelFolder(dir);
  const warnings: string[] = [...report.warnings];
  const warn = (w: RuntimeWarning | { type: 'warning'; code: string; message: string }): void => {
    warnings.push(w.message);
    opts.onWarning?.(w);
  };
  for (const m of report.warnings) opts.onWarning?.({ type: 'warning', code: 'MODEL_FOLDER', message: m });
  if (report.extra.length)
    warn({
      type: 'warning',
      code: 'MODEL_FOLDER',
      message: `${dir}: not part of the diffusers layout, ignored: ${report.extra.join(', ')}`,
    });

  const loadEncoder = report.hasVaeEncoder && !opts.skipVaeEncoder;
  const total = loadEncoder ? 5 : 4;
  let step = 0;
  const progress = (message: string): void => {
    throwIfAborted(opts.signal);
    opts.onProgress?.({ phase: 'load', step: step++, total, message });
  };
  const sessionOpts = (component: string) => ({
    name: `${name}/${component}`,
    ...(opts.provider ? { provider: opts.provider } : {}),
    ...(opts.threads ? { threads: opts.threads } : {}),
    onWarning: warn,
  });

  progress('tokenizer and scheduler');
  const tokenizer = await loadClipTokenizer(path.join(dir, 'tokenizer'));
  const schedulerConfig = await loadSchedulerConfig(path.join(dir, 'scheduler', 'scheduler_config.json'));
  const opened: Session[] = [];
  const open = async (component: string): Promise<Session> => {
    progress(component);
    const file = path.join(dir, component, 'model.onnx');
    const s =
      component === 'vae_encoder'
        ? await openDeterministic(file, sessionOpts(component))
        : await createSession(file, sessionOpts(component));
    opened.push(s);
    return s;
  };
  try {
    const textEncoder = await open('text_encoder');
    const unet = await open('unet');
    const vaeDecoder = await open('vae_decoder');
    const vaeEncoder = loadEncoder ? await open('vae_encoder') : undefined;

    const stamp = (await readDemoStamp(dir)) ?? (await readShapesStamp(dir));
    const vaeConfig = (await readJsonMaybe(path.join(dir, 'vae_decoder', 'config.json'))) ?? {};
    const sf = typeof vaeConfig.scaling_factor === 'number' ? vaeConfig.scaling_factor : 0.18215;
    const sizeMultiple = stamp?.sizeMultiple ?? 8;
    const io = describeIo({ textEncoder, unet, vaeDecoder, ...(vaeEncoder ? { vaeEncoder } : {}) }, sf, sizeMultiple);

    let defaults: GenerationDefaults = stamp ? { ...stamp.defaults } : SD_DEFAULTS;
    if (io.timestepCondDim || schedulerConfig._class_name === 'LCMScheduler')
      defaults = { ...defaults, scheduler: 'turbo', steps: 4, guidance: 8 };
    else if (!stamp && (/turbo/i.test(name) || /turbo/i.test(path.basename(dir)))) defaults = TURBO_DEFAULTS;

    const set: ModelSet = {
      name,
      dir,
      tokenizer,
      textEncoder,
      unet,
      vaeDecoder,
      ...(vaeEncoder ? { vaeEncoder } : {}),
      schedulerConfig,
      io,
      defaults,
      provider: unet.provider,
      warnings,
      async release() {
        for (const s of opened) await s.release().catch(() => {});
      },
    };
    progress('ready');
    return set;
  } catch (e) {
    for (const s of opened) await s.release().catch(() => {});
    throw e;
  }
}
