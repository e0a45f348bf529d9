/**
 * `inversion-studio fuse A B [C…] --mode M -o OUT.png`: cross-concept fusion of two or more
 * parents (image files, inverted on the fly unless they carry the prompt they were made from, or
 * quoted prompts) in one of five modes, or a grid of modes × weights (docs/fusion-evolution.md).
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { releaseAttentionCapture } from '../../main/engine/attention/index.js';
import { fuse, fuseGrid } from '../../main/engine/concepts/fusion/fuse.js';
import {
  FUSE_MODES,
  REGION_NAMES,
  type FuseMode,
  type FuseProgress,
  type FusionParent,
  type RegionName,
} from '../../main/engine/concepts/fusion/types.js';
import { E2T_CHOICES, type E2tChoice } from '../../main/engine/e2t/choose-decoder.js';
import { loadModelSet, type ModelSet } from '../../main/engine/diffusion/load-model-set.js';
import { isSchedulerName, SCHEDULER_NAMES, type SchedulerName } from '../../main/engine/diffusion/schedulers/index.js';
import { EngineError } from '../../main/engine/errors.js';
import { isPng } from '../../main/engine/image/png-chunks.js';
import { loadImage, readPngMetadata } from '../../main/engine/image/image-io.js';
import { assertWritableTarget, safeWriteFile } from '../../main/engine/io/safe-write.js';
import { resolveOptionalModels, type OptionalModels } from '../../main/engine/inversion/optional-models.js';
import { resolveCacheDir } from '../../main/engine/models/cache.js';
import { isProviderChoice, PROVIDER_CHOICES, type ProviderChoice } from '../../main/engine/runtime/providers.js';
import { intOption, numberOption, parseCommandArgs, usageError as usageErrorOf } from '../args.js';
import { runCancellable } from '../cancellable.js';
import { statusLine } from '../status-line.js';
import { parseSize } from './generate.js';

export const summary = 'fuse two or more images or prompts into one (A B [C...] --mode concat|blend|compose|alternate|regions -o OUT.png)';

const USAGE = `usage: inversion-studio fuse A B [C...] --mode MODE -o OUT.png [options]

A, B, ...: image files or quoted prompts (an argument naming an existing file is an image). An
image made by Inversion Studio carries its prompt and is fused by it; other images are inverted
on the fly (EDITOR, the fast preset).

modes:
  concat      "A and B": the prompts joined, fitted to the 75-token window by dropping the least
              important words (by attention mass; the dropped words are printed)
  blend       the parents' text embeddings interpolated (slerp, or --interpolation lerp), the
              result decoded back to text (printed)
  compose     A1111 AND: uncond + sum of w_i * g * (cond_i - uncond) (weights as given, default 1)
  alternate   A1111 [a|b]: the parents take turns per sampler step
  regions     parent i steers its region: --regions left,right (default) or attention (its own
              cross-attention mask)

options:
  --mode M              ${FUSE_MODES.join(' | ')} (default: blend)
  -o, --output FILE     PNG to write (required)
  --weights W,W,...     one weight per parent (default equal); with --grid, repeat for several columns
  --grid                render modes x weights into one image (rows: --modes, default all; columns:
                        each --weights, default 3:1, 1:1, 1:3 for two parents)
  --modes M,M,...       the grid's modes
  --regions R,R,...     regions mode: ${REGION_NAMES.join(' | ')}, one per parent
  --interpolation I     blend: slerp (default) | lerp
  --connective WORD     concat: the joining word (default: and)
  --keep W,W,...        concat: words the token budget must not drop
  --invert              invert image parents even when they carry a recorded prompt
  --models NAME|DIR     model set (default: demo)
  --seed N              (default 0)
  --steps N, --scheduler S (${SCHEDULER_NAMES.join(' | ')}), --guidance G, --size WxH, --negative TEXT
  --e2t D               ${E2T_CHOICES.join(' | ')}: the blend's embedding-to-text decoder (default auto)
  --lm                  decode (and invert) with the language model (GPT-2, or the set's own)
  --json FILE           also write the result record as JSON
  --provider P          ${PROVIDER_CHOICES.join(' | ')} (default: auto)
  --threads N, --cache DIR`;

const usageError = (message: string): number => usageErrorOf('fuse', USAGE, message);

const IMAGE_EXT = /\.(png|jpe?g|webp|gif|tiff?|avif|heic|heif)$/i;

/** Whether an argument names an image file (existing file), a missing image path (error), or is a prompt. */
export function classifyArgument(arg: string): 'image' | 'missing-image' | 'prompt' {
  if (existsSync(arg) && statSync(arg).isFile()) return 'image';
  if (IMAGE_EXT.test(arg.trim()) && !/\s/.test(arg.trim())) return 'missing-image';
  return 'prompt';
}

/** The prompt and model set an image file records (a PNG this app wrote, or a library item), if any. */
export function recordedPrompt(bytes: Uint8Array): { prompt: string; model: string } | undefined {
  if (!isPng(bytes)) return undefined;
  const json = readPngMetadata(bytes).json as { app?: unknown; prompt?: unknown; model?: unknown } | undefined;
  if (json?.app !== 'inversion-studio' || typeof json.prompt !== 'string' || typeof json.model !== 'string' || !json.prompt.trim())
    return undefined;
  return { prompt: json.prompt, model: json.model };
}

/** An image argument loaded at `width`×`height`, with its recorded prompt. */
export async function loadImageArgument(
  file: string,
  width: number,
  height: number,
): Promise<{ image: { data: Float32Array; width: number; height: number }; bytes: Buffer; recorded?: { prompt: string; model: string } }> {
  const bytes = await readFile(file);
  const img = await loadImage(bytes, { width, height });
  const recorded = recordedPrompt(bytes);
  return { image: { data: img.data, width: img.width, height: img.height }, bytes, ...(recorded ? { recorded } : {}) };
}

function list(v: string | undefined): string[] | undefined {
  return v === undefined
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

function parseWeights(v: string): number[] | string {
  const parts = v.split(/[,/]/).map((s) => s.trim());
  const out: number[] = [];
  for (const p of parts) {
    const n = numberOption(p, '--weights', 0);
    if (typeof n !== 'number') return `--weights takes numbers >= 0 separated by commas (got '${v}')`;
    out.push(n);
  }
  return out;
}

function progressReporter(): { update(e: FuseProgress): void; note(line: string): void; done(): void } {
  const status = statusLine();
  let last = '';
  return {
    update(e) {
      const where = e.total !== undefined && e.index !== undefined ? ` ${e.index + 1}/${e.total}` : '';
      const step = e.step !== undefined && e.steps ? ` step ${e.step}/${e.steps}` : '';
      const line = `${e.phase}${where}${step}${e.message ? `  ${e.message}` : ''}`;
      if (status.tty) status.draw(line);
      else if (`${e.phase}${where}` !== last) status.print(line);
      last = `${e.phase}${where}`;
    },
    note: (line) => status.print(line),
    done: () => status.end(),
  };
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs('fuse', USAGE, argv, {
    mode: { type: 'string' },
    output: { type: 'string', short: 'o' },
    weights: { type: 'string', multiple: true },
    grid: { type: 'boolean' },
    modes: { type: 'string' },
    regions: { type: 'string' },
    interpolation: { type: 'string' },
    connective: { type: 'string' },
    keep: { type: 'string' },
    invert: { type: 'boolean' },
    models: { type: 'string' },
    seed: { type: 'string' },
    steps: { type: 'string' },
    scheduler: { type: 'string' },
    guidance: { type: 'string' },
    size: { type: 'string' },
    negative: { type: 'string' },
    e2t: { type: 'string' },
    lm: { type: 'boolean' },
    json: { type: 'string' },
    provider: { type: 'string' },
    threads: { type: 'string' },
    cache: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof parsed === 'number') return parsed;
  const v = parsed.values;
  const args = parsed.positionals;
  if (args.length < 2)
    return usageError(
      args.length === 0
        ? 'give two or more parents (image files or quoted prompts)'
        : 'a fusion needs at least two parents; only one was given',
    );
  const mode = (v.mode ?? 'blend') as FuseMode;
  if (!(FUSE_MODES as readonly string[]).includes(mode))
    return usageError(`--mode must be one of ${FUSE_MODES.join(', ')} (got '${v.mode}')`);
  const modes = list(v.modes) as FuseMode[] | undefined;
  for (const m of modes ?? [])
    if (!(FUSE_MODES as readonly string[]).includes(m)) return usageError(`--modes takes ${FUSE_MODES.join(', ')} (got '${m}')`);
  if (modes && !v.grid) return usageError('--modes is for --grid');
  const weightSets: number[][] = [];
  for (const w of v.weights ?? []) {
    const r = parseWeights(w);
    if (typeof r === 'string') return usageError(r);
    if (r.length !== args.length)
      return usageError(`--weights needs one weight per parent: ${args.length} parents, ${r.length} weights in '${w}'`);
    weightSets.push(r);
  }
  if (weightSets.length > 1 && !v.grid) return usageError('give --weights once (several are for --grid)');
  const regions = list(v.regions) as RegionName[] | undefined;
  if (regions) {
    for (const r of regions)
      if (!(REGION_NAMES as readonly string[]).includes(r)) return usageError(`--regions takes ${REGION_NAMES.join(', ')} (got '${r}')`);
    if (regions.length !== args.length) return usageError(`--regions needs one region per parent (${args.length})`);
  }
  if (v.interpolation !== undefined && v.interpolation !== 'slerp' && v.interpolation !== 'lerp')
    return usageError(`--interpolation must be slerp or lerp (got '${v.interpolation}')`);
  if (v.e2t !== undefined && !(E2T_CHOICES as readonly string[]).includes(v.e2t))
    return usageError(`--e2t must be one of ${E2T_CHOICES.join(', ')} (got '${v.e2t}')`);
  const output = v.output;
  if (!output) return usageError('-o OUT.png is required');
  await assertWritableTarget(output, 'the output image');
  if (v.json) await assertWritableTarget(v.json, 'the --json file');
  const seed = intOption(v.seed, '--seed', 0);
  const steps = intOption(v.steps, '--steps', 1, 1000);
  const threads = intOption(v.threads, '--threads', 1, 1024);
  for (const x of [seed, steps, threads]) if (typeof x === 'string') return usageError(x);
  const guidance = numberOption(v.guidance, '--guidance', 0, 100);
  if (typeof guidance === 'string') return usageError(guidance);
  let scheduler: SchedulerName | undefined;
  if (v.scheduler !== undefined) {
    if (!isSchedulerName(v.scheduler)) return usageError(`--scheduler must be one of ${SCHEDULER_NAMES.join(', ')} (got '${v.scheduler}')`);
    scheduler = v.scheduler;
  }
  const size = v.size !== undefined ? parseSize(v.size) : undefined;
  if (v.size !== undefined && !size) return usageError(`--size must look like 512x512 (got '${v.size}')`);
  if (v.provider !== undefined && !isProviderChoice(v.provider))
    return usageError(`--provider must be one of ${PROVIDER_CHOICES.join(', ')} (got '${v.provider}')`);
  const kinds = args.map(classifyArgument);
  const missing = args.filter((_, i) => kinds[i] === 'missing-image');
  if (missing.length)
    return usageError(`no such image file: ${missing.join(', ')} (quote a prompt that looks like a file name differently)`);

  const progress = progressReporter();
  const cacheDir = resolveCacheDir(v.cache);
  const cancelOptions = { command: 'fuse', whenCancelled: 'cancelled; nothing was written.', beforeReport: () => progress.done() };
  return runCancellable(cancelOptions, async (ac) => {
    const ms: ModelSet = await loadModelSet(v.models ?? 'demo', {
      ...(v.provider ? { provider: v.provider as ProviderChoice } : {}),
      ...(typeof threads === 'number' ? { threads } : {}),
      ...(v.cache ? { cacheDir: v.cache } : {}),
      signal: ac.signal,
      onWarning: (w) => progress.note(`warning: ${w.message}`),
    });
    let helpers: OptionalModels | undefined;
    try {
      const width = size?.width ?? ms.defaults.width;
      const height = size?.height ?? ms.defaults.height;
      const parents: FusionParent[] = [];
      for (const [i, a] of args.entries()) {
        if (kinds[i] === 'prompt') {
          parents.push({ kind: 'prompt', text: a });
          continue;
        }
        const img = await loadImageArgument(a, width, height);
        parents.push({
          kind: 'image',
          image: img.image,
          label: path.basename(a),
          ...(img.recorded ? { recorded: img.recorded } : {}),
          ...(v.invert ? { reinvert: true } : {}),
        });
        if (img.recorded && !v.invert) progress.note(`${path.basename(a)}: using its recorded prompt "${img.recorded.prompt}"`);
      }
      const needsInversion = parents.some((p) => p.kind === 'image' && (!p.recorded || p.reinvert));
      if (needsInversion || v.lm || mode === 'blend' || v.grid) {
        helpers = await resolveOptionalModels({
          cacheDir,
          modelSetDir: ms.dir,
          choices: { captioner: needsInversion ? 'auto' : 'off', clip: needsInversion ? 'auto' : 'off', lm: v.lm ? 'require' : 'own' },
        });
        for (const w of helpers.warnings) progress.note(`warning: ${w}`);
      }
      const common = {
        parents,
        seed: typeof seed === 'number' ? seed : 0,
        ...(typeof steps === 'number' ? { steps } : {}),
        ...(scheduler ? { scheduler } : {}),
        ...(guidance !== undefined ? { guidance } : {}),
        width,
        height,
        ...(v.negative !== undefined ? { negativePrompt: v.negative } : {}),
        ...(v.connective !== undefined ? { connective: v.connective } : {}),
        ...(v.keep ? { keepWords: list(v.keep)! } : {}),
        ...(v.interpolation ? { interpolation: v.interpolation as 'slerp' | 'lerp' } : {}),
        ...(regions ? { regions } : {}),
      };
      const opts = {
        signal: ac.signal,
        onProgress: (e: FuseProgress) => progress.update(e),
        onWarning: (m: string) => progress.note(`warning: ${m}`),
        ...(v.e2t ? { e2t: v.e2t as E2tChoice } : {}),
        ...(helpers?.lm ? { lm: helpers.lm } : {}),
        invert: {
          ...(helpers?.captioner ? { init: { kind: 'caption' as const, cacheDir, offline: true, instance: helpers.captioner } } : {}),
          ...(helpers?.scorer ? { scorer: helpers.scorer } : {}),
          ...(helpers?.lm ? { lm: helpers.lm } : {}),
        },
      };
      const out = path.resolve(output);
      if (v.grid) {
        const g = await fuseGrid(ms, { ...common, ...(modes ? { modes } : {}), ...(weightSets.length ? { weightSets } : {}) }, opts);
        progress.done();
        await safeWriteFile(out, g.png, { mkdir: true, what: 'the output image' });
        g.cells.forEach((row, r) =>
          row.forEach((c, k) => console.log(`${g.modes[r]}\t${g.weightSets[k]!.map((x) => Number(x.toFixed(3))).join('/')}\t${c.prompt}`)),
        );
        if (v.json)
          await safeWriteFile(
            path.resolve(v.json),
            JSON.stringify(
              { output: out, model: ms.name, modes: g.modes, weightSets: g.weightSets, cells: g.cells.map((row) => row.map(record)) },
              null,
              2,
            ),
            { mkdir: true, what: 'the --json file' },
          );
        console.log(
          `wrote ${out} (${g.modes.length} modes x ${g.weightSets.length} weights, ${g.width}x${g.height}, ${ms.name}; ${g.seconds.toFixed(1)} s)`,
        );
        return 0;
      }
      const r = await fuse(ms, { ...common, mode, ...(weightSets[0] ? { weights: weightSets[0] } : {}) }, opts);
      progress.done();
      await safeWriteFile(out, r.png, { mkdir: true, what: 'the output image' });
      if (v.json)
        await safeWriteFile(path.resolve(v.json), JSON.stringify({ output: out, model: ms.name, ...record(r) }, null, 2), {
          mkdir: true,
          what: 'the --json file',
        });
      for (const p of r.parents.filter((x) => x.source === 'inverted')) console.log(`${p.label}: inverted to "${p.prompt}"`);
      if (r.dropped?.length) console.log(`dropped to fit the token window: ${r.dropped.map((d) => d.word).join(', ')}`);
      console.log(r.decoded ? `decoded: ${r.decoded.text}` : `prompt: ${r.prompt}`);
      console.log(
        `wrote ${out} (${mode}, weights ${r.weights.map((x) => Number(x.toFixed(3))).join('/')}, ${r.width}x${r.height}, ${ms.name}, seed ${r.seed}; ${r.seconds.toFixed(1)} s)`,
      );
      return 0;
    } catch (e) {
      progress.done();
      if (e instanceof EngineError && e.code === 'INVALID_ARGUMENT') {
        console.error(`inversion-studio fuse: ${e.message}`);
        return 2;
      }
      throw e;
    } finally {
      await helpers?.release().catch(() => undefined);
      await releaseAttentionCapture(ms);
      await ms.release();
    }
  });
}

/** The JSON record of one fusion (no pixels). */
function record(r: Awaited<ReturnType<typeof fuse>>) {
  const { image: _i, png: _p, ...rest } = r;
  return rest;
}
