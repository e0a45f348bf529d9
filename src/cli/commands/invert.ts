/**
 * `inversion-studio invert IMAGE…`: recover the prompt behind images (EDITOR). Images and
 * folders are processed in sequence, the prompt of each is printed on stdout, progress goes to
 * stderr, and `--json OUT.json` records every result (rewritten atomically after each image, so
 * a rerun resumes where the last one stopped). Ctrl-C stops the current image and keeps its
 * best result so far.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { CancelledError, EngineError } from '../../main/engine/errors.js';
import { loadModelSet } from '../../main/engine/diffusion/load-model-set.js';
import { assertWritableTarget, safeWriteFile } from '../../main/engine/io/safe-write.js';
import { checkImageSize, sizeLimitModel } from '../../main/engine/diffusion/size-limits.js';
import { loadImage } from '../../main/engine/image/image-io.js';
import { CAPTIONER_REPOS, type CaptionerName } from '../../main/engine/inversion/captioner.js';
import { inversionModelsFromSet } from '../../main/engine/inversion/from-model-set.js';
import { invert, type InitSpec, type InvertProgress, type InvertResult } from '../../main/engine/inversion/invert.js';
import { loadMethodClip } from '../../main/engine/inversion/methods/clip-towers.js';
import {
  invertWith,
  isMethodName,
  METHOD_NAMES,
  methodUnavailable,
  type MethodContext,
  type MethodName,
  type MethodResult,
} from '../../main/engine/inversion/methods/index.js';
import { assertCaptionerInstalled, resolveOptionalModels, type OptionalModels } from '../../main/engine/inversion/optional-models.js';
import {
  DEFAULT_LM_FLUENCY_WEIGHT,
  objectiveSchema,
  presetSettings,
  PRESETS,
  type PresetName,
} from '../../main/engine/inversion/presets.js';
import { DEFAULT_LM_MANIFEST } from '../../main/engine/e2t/language-model.js';
import { CLIP_IMAGE_MANIFEST } from '../../main/engine/metrics/clip-image.js';
import { resolveCacheDir } from '../../main/engine/models/cache.js';
import { isProviderChoice, PROVIDER_CHOICES, type ProviderChoice } from '../../main/engine/runtime/providers.js';
import { intOption, numberOption, parseCommandArgs, usageError as usageErrorOf } from '../args.js';
import { runCancellable } from '../cancellable.js';
import { statusLine } from '../status-line.js';

export const summary = 'recover the prompt behind images (IMAGE|DIR… [--preset fast|paper] [--json OUT.json] ...)';

const CAPTIONERS = Object.keys(CAPTIONER_REPOS) as CaptionerName[];
const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic', '.heif']);
/** Smallest source image worth inverting (the models work at 256-512 px). */
export const MIN_SOURCE_SIZE = 64;

const USAGE = `usage: inversion-studio invert IMAGE|DIR... [options]

Recovers a prompt for each image (EDITOR: caption, refine the text embedding through the
diffusion model, decode it back to words, keep the candidate whose regeneration is closest).
Folders contribute their image files (not recursive), in name order.

options:
  --models NAME|DIR     model set: demo (generated on first use), sd15, sd-turbo, another installed
                        name, or a diffusers ONNX folder with vae_encoder/ (default: demo)
  --preset P            ${PRESET_NAMES.join(' | ')} (default: fast); paper = the EDITOR reference: pixel
                        objective, 1000 iterations
  --method M            ${METHOD_NAMES.join(' | ')} (default: editor); ph2p and pez optimise hard
                        tokens (PH2P: noise prediction through the model; PEZ: CLIP text-image
                        cosine, needs a CLIP text tower), caption answers the captioner's text
  --objective O         ${objectiveSchema.options.join(' | ')} (default: the preset's)
  --iterations N        refinement iterations (default: the preset's)
  --init "TEXT"         start from this text instead of a caption
  --captioner C         ${CAPTIONERS.join(' | ')}; must be installed (inversion-studio models
                        download ...). Default: the model set's own captioner, else florence2, else
                        vit-gpt2, else random words (with a warning)
  --lm                  decode with GPT-2 (inversion-studio models download ${DEFAULT_LM_MANIFEST}): next-word
                        proposals and a fluency term; without it installed, a note and no LM
  --fluency W           weight of the fluency term (mean GPT-2 token NLL added to the embedding
                        distance; default ${DEFAULT_LM_FLUENCY_WEIGHT}); implies --lm
  --seed N              seed of the sampler noise the objective uses (default: 0)
  --size N              inversion size in pixels, square (default: the model set's, 256 demo, 512 SD);
                        a multiple of the set's size step (8; 32 for demo)
  --provider P          ${PROVIDER_CHOICES.join(' | ')} (default: auto)
  --threads N           CPU threads for onnxruntime
  --cache DIR           model cache (default: INVERSION_STUDIO_CACHE or the per-user cache)
  --json OUT.json       write the results (an object for one image, an array for several); if the
                        file exists, images already in it are skipped (cancelled ones are redone)

Candidates are ranked by CLIP ViT-L/14 image similarity when it is installed
(inversion-studio models download ${CLIP_IMAGE_MANIFEST}), otherwise by pixel MSE.
Ctrl-C stops the current image and keeps its best result so far; Ctrl-C twice quits at once.
Exit status: 0 done, 1 an image failed (the others are still processed), 2 bad usage, 130 cancelled.`;

/** One image's record in --json (the engine's result minus images, plus where it came from). */
export interface InvertRecord {
  image: string;
  initialPrompt: string;
  prompt: string;
  candidates: { prompt: string; score: number; iteration: number; loss: number; e2tDistance: number }[];
  loss: number[];
  iterations: number;
  seconds: number;
  objective: MethodResult['objective'];
  /** The method (absent: editor, as in files written before methods existed). */
  method?: MethodName;
  preset: PresetName;
  model: string;
  /** Where the start text came from: --init, a captioner (by name), or random words. */
  init: 'text' | 'random' | `caption:${string}`;
  /** The decoder's language model and fluency weight, when one was used. */
  lm?: string;
  fluencyWeight?: number;
  rankedBy: MethodResult['rankedBy'];
  width: number;
  height: number;
  seed: number;
  stopped?: InvertResult['stopped'];
  message?: string;
}

const usageError = (message: string): number => usageErrorOf('invert', USAGE, message);

function fmtSeconds(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '?';
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

function fmtLoss(v: number | undefined): string {
  if (v === undefined) return '?';
  return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toFixed(4) : v.toExponential(3);
}

/** `refining [#######-----------------] 30/100  loss 0.0123 (best 0.0119)  ETA 1m05s` */
export function progressLine(e: InvertProgress, width = 24): string {
  const label = e.phase.padEnd(10);
  if (e.total === undefined) return `${label}${e.message ? ` ${e.message}` : ''}`;
  const done = e.iteration ?? 0;
  const frac = e.total > 0 ? Math.min(1, done / e.total) : 1;
  const filled = Math.round(frac * width);
  let line = `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${e.total}`;
  if (e.loss !== undefined) line += `  loss ${fmtLoss(e.loss)}${e.bestLoss !== undefined ? ` (best ${fmtLoss(e.bestLoss)})` : ''}`;
  if (e.etaSeconds !== undefined) line += `  ETA ${fmtSeconds(e.etaSeconds)}`;
  if (e.message && e.phase !== 'refining') line += `  ${e.message}`;
  return line;
}

function progressReporter(): { update(e: InvertProgress): void; note(line: string): void; done(): void } {
  const status = statusLine();
  let lastPhase = '';
  let lastTenth = -1;
  return {
    update(e) {
      if (e.previewPng || e.phase === 'done') return;
      const line = progressLine(e);
      if (status.tty) status.draw(line);
      else {
        // A log file or a test: one line per phase change, per tenth of refinement and at phase ends.
        const tenth = e.phase === 'refining' && e.total ? Math.floor(((e.iteration ?? 0) * 10) / e.total) : -1;
        if (e.phase !== lastPhase || tenth !== lastTenth || (e.total !== undefined && e.iteration === e.total)) status.print(line);
        lastTenth = tenth;
      }
      lastPhase = e.phase;
    },
    note: (line) => status.print(line),
    done() {
      status.end();
      lastPhase = '';
      lastTenth = -1;
    },
  };
}

/** Files and folders to images: folders give their image files (not recursive), sorted by name. */
export async function collectImages(args: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const a of args) {
    const abs = path.resolve(a);
    const st = await stat(abs).catch(() => undefined);
    if (st?.isDirectory()) {
      const entries = (await readdir(abs, { withFileTypes: true })).filter((d) => IMAGE_EXTENSIONS.has(path.extname(d.name).toLowerCase()));
      // Symlinked images count (a folder of links into a photo library); broken links are named.
      const broken: string[] = [];
      const names: string[] = [];
      for (const d of entries) {
        if (d.isFile()) names.push(d.name);
        else if (d.isSymbolicLink()) {
          const target = await stat(path.join(abs, d.name)).catch(() => undefined);
          if (target?.isFile()) names.push(d.name);
          else broken.push(d.name);
        }
      }
      names.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
      if (names.length === 0)
        throw new EngineError(
          'INVALID_ARGUMENT',
          broken.length
            ? `${abs} has no readable image files: ${broken.length} symbolic link(s) point at missing files (${broken.slice(0, 3).join(', ')}${broken.length > 3 ? ', …' : ''})`
            : `${abs} contains no image files (${[...IMAGE_EXTENSIONS].join(' ')})`,
        );
      out.push(...names.map((n) => path.join(abs, n)));
    } else {
      // Missing or unreadable files are reported when their turn comes (loadImage says why).
      out.push(abs);
    }
  }
  return [...new Set(out)];
}

/** Records already in OUT.json (an object or an array of them). */
export async function readRecords(file: string): Promise<InvertRecord[]> {
  if (!existsSync(file)) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new EngineError(
      'INVALID_ARGUMENT',
      `${file} exists but is not valid JSON (${(e as Error).message}); move it away or pick another --json file`,
    );
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  if (
    !list.every(
      (r) => r && typeof r === 'object' && typeof (r as InvertRecord).image === 'string' && typeof (r as InvertRecord).prompt === 'string',
    )
  ) {
    throw new EngineError(
      'INVALID_ARGUMENT',
      `${file} exists but does not hold inversion results; move it away or pick another --json file`,
    );
  }
  return list as InvertRecord[];
}

async function writeRecords(file: string, records: InvertRecord[], asArray: boolean): Promise<void> {
  const body = asArray || records.length !== 1 ? records : records[0];
  await safeWriteFile(file, JSON.stringify(body, null, 2) + '\n', { mkdir: true, what: 'the --json results file' });
}

function toRecord(
  r: InvertResult | MethodResult,
  image: string,
  o: { preset: PresetName; model: string; init: InvertRecord['init']; seed: number },
): InvertRecord {
  return {
    image,
    initialPrompt: r.initialPrompt,
    prompt: r.prompt,
    candidates: r.candidates.map((c) => ({
      prompt: c.prompt,
      score: c.score,
      iteration: c.iteration,
      loss: c.loss,
      e2tDistance: c.e2tDistance,
    })),
    loss: r.loss,
    iterations: r.iterations,
    seconds: r.seconds,
    objective: r.objective,
    ...('method' in r && r.method !== 'editor' ? { method: r.method } : {}),
    preset: o.preset,
    model: o.model,
    init: o.init,
    // The engine reports the weight it applied (the default when --fluency is not given).
    ...(r.lm !== undefined ? { lm: r.lm, ...(r.fluencyWeight !== undefined ? { fluencyWeight: r.fluencyWeight } : {}) } : {}),
    rankedBy: r.rankedBy,
    width: r.width,
    height: r.height,
    seed: o.seed,
    ...(r.stopped ? { stopped: r.stopped } : {}),
    ...(r.message ? { message: r.message } : {}),
  };
}

/** Errors that concern one image: report them and go on with the next. */
function isPerImageError(e: unknown): e is EngineError {
  return e instanceof EngineError && !(e instanceof CancelledError) && (e.code === 'IMAGE' || e.code === 'NUMERIC' || e.code === 'RUNTIME');
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs('invert', USAGE, argv, {
    models: { type: 'string' },
    preset: { type: 'string' },
    objective: { type: 'string' },
    method: { type: 'string' },
    iterations: { type: 'string' },
    init: { type: 'string' },
    captioner: { type: 'string' },
    seed: { type: 'string' },
    size: { type: 'string' },
    provider: { type: 'string' },
    threads: { type: 'string' },
    cache: { type: 'string' },
    json: { type: 'string' },
    lm: { type: 'boolean' },
    fluency: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof parsed === 'number') return parsed;
  const v = parsed.values;
  if (parsed.positionals.length === 0) return usageError('give at least one IMAGE or folder');

  const method = (v.method ?? 'editor') as MethodName;
  if (!isMethodName(method)) return usageError(`--method must be one of ${METHOD_NAMES.join(', ')} (got '${v.method}')`);
  const preset = (v.preset ?? 'fast') as PresetName;
  if (!PRESET_NAMES.includes(preset)) return usageError(`--preset must be one of ${PRESET_NAMES.join(', ')} (got '${v.preset}')`);
  const objective = v.objective === undefined ? undefined : objectiveSchema.safeParse(v.objective);
  if (objective && !objective.success)
    return usageError(`--objective must be one of ${objectiveSchema.options.join(', ')} (got '${v.objective}')`);
  const iterations = intOption(v.iterations, '--iterations', 1, 100_000);
  const seed = intOption(v.seed, '--seed', 0);
  const size = intOption(v.size, '--size', MIN_SOURCE_SIZE, 4096);
  const threads = intOption(v.threads, '--threads', 1, 1024);
  const fluency = numberOption(v.fluency, '--fluency', 0, 100);
  for (const x of [iterations, seed, size, threads, fluency]) if (typeof x === 'string') return usageError(x);
  const wantLm = v.lm === true || fluency !== undefined;
  const captionerName = v.captioner as CaptionerName | undefined;
  if (captionerName !== undefined && !CAPTIONERS.includes(captionerName))
    return usageError(`--captioner must be one of ${CAPTIONERS.join(', ')} (got '${v.captioner}')`);
  if (v.init !== undefined && v.init.trim() === '') return usageError('--init must not be empty');
  if (v.provider !== undefined && !isProviderChoice(v.provider))
    return usageError(`--provider must be one of ${PROVIDER_CHOICES.join(', ')} (got '${v.provider}')`);

  const settings = presetSettings(preset, {
    previewEvery: 0,
    ...(objective?.success ? { objective: objective.data } : {}),
    ...(typeof iterations === 'number' ? { iterations } : {}),
    ...(typeof seed === 'number' ? { seed } : {}),
    ...(typeof fluency === 'number' ? { fluencyWeight: fluency } : {}),
  });
  const cacheDir = resolveCacheDir(v.cache);
  const jsonPath = v.json ? path.resolve(v.json) : undefined;
  // Fail before the work when --json names a folder, a device or a FIFO (never replaced by our file).
  if (jsonPath) await assertWritableTarget(jsonPath, 'the --json results file');

  let images: string[];
  let records: InvertRecord[];
  try {
    images = await collectImages(parsed.positionals);
    records = jsonPath ? await readRecords(jsonPath) : [];
  } catch (e) {
    if (e instanceof EngineError) return usageError(e.message);
    throw e;
  }
  const progress = progressReporter();
  const finished = new Map(records.filter((r) => r.stopped !== 'cancelled').map((r) => [r.image, r]));
  const todo = images.filter((p) => !finished.has(p));
  const several = images.length > 1;
  const show = (image: string, prompt: string) =>
    console.log(several ? `${path.relative(process.cwd(), image) || image}\t${prompt}` : prompt);
  if (todo.length < images.length) progress.note(`skipping ${images.length - todo.length} image(s) already in ${jsonPath}`);
  if (todo.length === 0) {
    for (const p of images) show(p, finished.get(p)!.prompt);
    return 0;
  }

  // A captioner asked for by name must be there: say so before loading anything.
  if (v.init === undefined && captionerName) assertCaptionerInstalled(captionerName, cacheDir);

  let helpers: OptionalModels | undefined;
  let clipRelease: (() => Promise<void>) | undefined;
  let failures = 0;
  let cancelled = false;
  const cancelOptions = {
    command: 'invert',
    whenCancelled: 'cancelled before any image was processed; nothing was written.',
    onSigint: () => progress.note('cancelling: finishing with the best result so far (Ctrl-C again to quit now)'),
    beforeReport: () => progress.done(),
  };
  const status = await runCancellable(cancelOptions, async (ac) => {
    const ms = await loadModelSet(v.models ?? 'demo', {
      ...(v.provider ? { provider: v.provider as ProviderChoice } : {}),
      ...(typeof threads === 'number' ? { threads } : {}),
      ...(v.cache ? { cacheDir: v.cache } : {}),
      signal: ac.signal,
      onWarning: (w) => progress.note(`warning: ${w.message}`),
    });
    try {
      const step = Math.max(8, ms.io.sizeMultiple);
      const side = typeof size === 'number' ? size : ms.defaults.width;
      if (side % step !== 0)
        return usageError(
          `--size ${side} is not a multiple of ${step}, which model set ${ms.name} needs; try ${Math.max(step, Math.round(side / step) * step)}`,
        );
      // Memory bound (size-limits.ts), before any image or graph of that size exists.
      checkImageSize(sizeLimitModel(ms), side, side, 'invert', { multiple: step });
      if (method === 'editor' && settings.objective !== 'pixel' && !ms.vaeEncoder) {
        throw new EngineError(
          'MODEL_FOLDER',
          `the ${settings.objective} objective needs vae_encoder/model.onnx, which ${ms.dir} lacks; use --objective pixel`,
        );
      }
      // Which captioner, ranking and language model this run uses (the studio decides the same way).
      helpers = await resolveOptionalModels({
        cacheDir,
        modelSetDir: ms.dir,
        choices: {
          captioner: v.init !== undefined || method === 'ph2p' || method === 'pez' ? 'off' : (captionerName ?? 'auto'),
          clip: 'auto',
          lm: wantLm ? 'require' : 'own',
        },
      });
      for (const note of helpers.notes) progress.note(note);
      for (const w of helpers.warnings) progress.note(`warning: ${w}`);
      const { captioner, scorer, lm } = helpers;
      const init: InvertRecord['init'] = v.init !== undefined ? 'text' : captioner ? `caption:${captioner.name}` : 'random';
      const initSpec: InitSpec =
        v.init !== undefined
          ? { kind: 'text', text: v.init }
          : captioner
            ? { kind: 'caption', cacheDir, offline: true, instance: captioner }
            : { kind: 'random' };
      const m = await inversionModelsFromSet(ms);
      const ctx = { preset, model: ms.name, init, seed: settings.seed };
      // A baseline method (--method): its models, or why it cannot run, before any image.
      const clip = method === 'pez' ? await loadMethodClip({ setDir: ms.dir, cacheDir }) : undefined;
      if (clip) clipRelease = () => clip.release();
      const methodCtx: MethodContext = { models: m, ...(captioner ? { captioner } : {}), ...(clip ? { clip } : {}) };
      const missing = method === 'editor' ? undefined : methodUnavailable(method, methodCtx);
      if (missing) throw new EngineError('NOT_INSTALLED', `--method ${method}: ${missing}`);

      for (const [k, image] of todo.entries()) {
        if (ac.signal.aborted) {
          cancelled = true;
          break;
        }
        const label = several ? ` (${k + 1}/${todo.length}) ${path.basename(image)}` : '';
        try {
          const img = await loadImage(image, { width: side, height: side });
          if (img.sourceWidth < MIN_SOURCE_SIZE || img.sourceHeight < MIN_SOURCE_SIZE) {
            throw new EngineError(
              'IMAGE',
              `${image} is ${img.sourceWidth}x${img.sourceHeight} pixels; inversion needs at least ${MIN_SOURCE_SIZE}x${MIN_SOURCE_SIZE}`,
            );
          }
          const target = { data: img.data, width: img.width, height: img.height };
          const onProgress = (e: InvertProgress) => {
            if (e.phase === 'captioning') e = { ...e, message: `${captioner?.name ?? ''}${label}` };
            if (e.phase === 'encoding' && several && e.message) progress.note(`${path.basename(image)}: start "${e.message}"`);
            progress.update(e);
          };
          const result: InvertResult | MethodResult =
            method === 'editor'
              ? await invert(m, target, {
                  settings,
                  init: initSpec,
                  ...(scorer ? { scorer } : {}),
                  ...(lm ? { lm } : {}),
                  signal: ac.signal,
                  onProgress,
                })
              : await invertWith(method, methodCtx, target, {
                  preset,
                  seed: settings.seed,
                  ...(typeof iterations === 'number' ? { iterations } : {}),
                  signal: ac.signal,
                  onProgress,
                });
          progress.done();
          const record = toRecord(result, image, ctx);
          records = [...records.filter((r) => r.image !== image), record];
          if (jsonPath) await writeRecords(jsonPath, records, several || records.length > 1);
          show(image, result.prompt);
          if (result.stopped === 'non-finite')
            progress.note(`warning: ${image}: ${result.message ?? 'the loss became non-finite'}; kept the best result so far`);
          if (result.stopped === 'cancelled' || ac.signal.aborted) {
            progress.note(
              `cancelled after ${result.iterations} of ${settings.iterations} iterations; kept the best result so far${jsonPath ? ` in ${jsonPath}` : ''}`,
            );
            cancelled = true;
            break;
          }
        } catch (e) {
          progress.done();
          if (e instanceof CancelledError) {
            progress.note(`cancelled before ${path.basename(image)} produced a result`);
            cancelled = true;
            break;
          }
          if (!isPerImageError(e)) throw e;
          failures++;
          console.error(`inversion-studio invert: ${e.message}`);
        }
      }
    } finally {
      await clipRelease?.().catch(() => undefined);
      await helpers?.release().catch(() => undefined);
      await ms.release();
    }
    return 0;
  });
  if (status !== 0) return status;
  if (cancelled) return 130;
  if (failures > 0) {
    console.error(`inversion-studio invert: ${failures} of ${todo.length} image(s) failed`);
    return 1;
  }
  return 0;
}
