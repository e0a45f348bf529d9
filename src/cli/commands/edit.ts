/**
 * `inversion-studio edit SOURCE.png "EDITED PROMPT" -o OUT.png`: edit an image by editing its
 * prompt (docs/editing.md). The source's prompt, seed and settings come from SOURCE.png's chunks or
 * from options; the command prints the edit the word diff found and the mode it used, writes the
 * edited PNG (recording the source and the edit) and reports how much changed outside the edit's
 * mask.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  describeEdit,
  describeReport,
  editGeneration,
  EDIT_DEFAULTS,
  isEditModeChoice,
  NothingToEditError,
  releaseAttentionControl,
  sourceParameters,
  type EditModeChoice,
  type EditRequest,
  type EditSource,
} from '../../main/engine/concepts/edit/index.js';
import { loadModelSet } from '../../main/engine/diffusion/load-model-set.js';
import type { GenerateProgress } from '../../main/engine/diffusion/pipeline.js';
import { isSchedulerName, SCHEDULER_NAMES, type SchedulerName } from '../../main/engine/diffusion/schedulers/index.js';
import { EngineError } from '../../main/engine/errors.js';
import { imageToPng, loadImage } from '../../main/engine/image/image-io.js';
import { assertWritableTarget, safeWriteFile } from '../../main/engine/io/safe-write.js';
import { isProviderChoice, PROVIDER_CHOICES, type ProviderChoice } from '../../main/engine/runtime/providers.js';
import { intOption, numberOption, parseCommandArgs, usageError as usageErrorOf } from '../args.js';
import { runCancellable } from '../cancellable.js';
import { statusLine } from '../status-line.js';
import { parseSize, progressBar } from './generate.js';

export const summary =
  'edit an image by editing its prompt (SOURCE.png "EDITED PROMPT" [--mode auto|regenerate|attention|blend] -o OUT.png)';

const USAGE = `usage: inversion-studio edit SOURCE.png "EDITED PROMPT" [-o OUT.png] [options]

Edits an image by editing its prompt: remove, replace, insert or reweight words and the image
changes there. The source's prompt, seed and settings come from SOURCE.png (PNGs made by
inversion-studio or A1111) or from the options below. The edited prompt is compared with the
source's word by word; the command prints the edit it found and the mode it used, writes OUT.png
(recording the source and the edit) and reports how much changed outside the edit's mask.

modes (--mode; default auto, chosen from the edit):
  regenerate   the edited prompt with the same seed and settings, nothing else shared
  attention    prompt-to-prompt: the edited prompt is sampled beside the source with the source's
               attention for the words they share (auto for insertions and reweights)
  blend        attention + local blend: outside the mask of the edited words every step keeps the
               source (auto for removals and replacements)

options:
  -o, --output FILE     PNG to write (default: <SOURCE>-edit.png next to it)
  --mode M              auto | regenerate | attention | blend (default: auto)
  --cross-steps F       fraction of the steps with the source's cross-attention (default ${EDIT_DEFAULTS.crossSteps})
  --self-steps F        fraction of the steps with the source's self-attention in the coarse
                        layers (default ${EDIT_DEFAULTS.selfSteps})
  --threshold T         blend mask threshold on the words' normalised maps, 0..1 (default ${EDIT_DEFAULTS.blend.threshold})
  --dilate N            blend mask dilation in latent pixels (default: 1/16 of the latent side, at least 1)
  --suppress            for removals: also guide away from the removed words (SEGA-style)
  --mask FILE           also write the edit's mask as a PNG (white = the edited region)
  --prompt TEXT         the source prompt (when SOURCE.png does not carry one, or to replace it)
  --negative TEXT       the source's negative prompt
  --seed N              the source's seed (needed when SOURCE.png does not carry one)
  --steps N, --scheduler ${SCHEDULER_NAMES.join('|')}, --guidance G, --size WxH
                        the source's settings (default: SOURCE.png's, else the model set's)
  --models NAME|DIR     model set (default: the one SOURCE.png names, else demo)
  --provider P          ${PROVIDER_CHOICES.join(' | ')} (default: auto)
  --threads N           CPU threads for onnxruntime
  --cache DIR           model cache (default: INVERSION_STUDIO_CACHE or the per-user cache)
  --json                print the result (edit, mode, report, record) as JSON on stdout

Exit status: 0 written (or nothing to edit: the prompts read the same), 1 engine error (e.g. a
source without parameters, a source made with another model set), 2 bad usage, 130 cancelled.`;

const usageError = (message: string): number => usageErrorOf('edit', USAGE, message);

function fraction(v: string | undefined, name: string): number | string | undefined {
  return numberOption(v, name, 0, 1);
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs('edit', USAGE, argv, {
    output: { type: 'string', short: 'o' },
    mode: { type: 'string' },
    'cross-steps': { type: 'string' },
    'self-steps': { type: 'string' },
    threshold: { type: 'string' },
    dilate: { type: 'string' },
    suppress: { type: 'boolean' },
    mask: { type: 'string' },
    prompt: { type: 'string' },
    negative: { type: 'string' },
    seed: { type: 'string' },
    steps: { type: 'string' },
    scheduler: { type: 'string' },
    guidance: { type: 'string' },
    size: { type: 'string' },
    models: { type: 'string' },
    provider: { type: 'string' },
    threads: { type: 'string' },
    cache: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof parsed === 'number') return parsed;
  const v = parsed.values;
  if (parsed.positionals.length !== 2)
    return usageError(
      parsed.positionals.length === 0
        ? 'a SOURCE image and the EDITED PROMPT are required'
        : parsed.positionals.length === 1
          ? 'the EDITED PROMPT is required (quote it)'
          : `expected SOURCE and one EDITED PROMPT, got ${parsed.positionals.length} arguments; quote the prompt`,
    );
  const sourcePath = path.resolve(parsed.positionals[0]!);
  const editedPrompt = parsed.positionals[1]!;
  if (editedPrompt.trim() === '') return usageError('the EDITED PROMPT is empty');
  const mode = (v.mode ?? 'auto').toLowerCase();
  if (!isEditModeChoice(mode)) return usageError(`--mode must be auto, regenerate, attention or blend (got '${v.mode}')`);
  const crossSteps = fraction(v['cross-steps'], '--cross-steps');
  const selfSteps = fraction(v['self-steps'], '--self-steps');
  const threshold = fraction(v.threshold, '--threshold');
  const dilate = intOption(v.dilate, '--dilate', 0, 64);
  const seed = intOption(v.seed, '--seed', 0);
  const steps = intOption(v.steps, '--steps', 1, 1000);
  const threads = intOption(v.threads, '--threads', 1, 1024);
  const guidance = numberOption(v.guidance, '--guidance', 0, 100);
  for (const x of [crossSteps, selfSteps, threshold, dilate, seed, steps, threads, guidance])
    if (typeof x === 'string') return usageError(x);
  let scheduler: SchedulerName | undefined;
  if (v.scheduler !== undefined) {
    const s = v.scheduler.toLowerCase();
    if (!isSchedulerName(s)) return usageError(`--scheduler must be one of ${SCHEDULER_NAMES.join(', ')} (got '${v.scheduler}')`);
    scheduler = s;
  }
  let size: { width: number; height: number } | undefined;
  if (v.size !== undefined) {
    size = parseSize(v.size);
    if (!size || size.width <= 0 || size.height <= 0) return usageError(`--size must look like 512x512 (got '${v.size}')`);
  }
  if (v.prompt !== undefined && v.prompt.trim() === '') return usageError('--prompt is empty: give the source prompt');
  if (v.provider !== undefined && !isProviderChoice(v.provider))
    return usageError(`--provider must be one of ${PROVIDER_CHOICES.join(', ')} (got '${v.provider}')`);
  const output = path.resolve(
    v.output ?? path.join(path.dirname(sourcePath), `${path.basename(sourcePath, path.extname(sourcePath))}-edit.png`),
  );
  await assertWritableTarget(output, 'the output image');
  if (v.mask !== undefined) await assertWritableTarget(path.resolve(v.mask), 'the mask image');

  const status = statusLine();
  let lastPhase = '';
  const note = (line: string): void => status.print(line);
  const onProgress = (e: GenerateProgress): void => {
    const line = progressBar(e);
    if (status.tty) status.draw(line);
    else if (e.phase !== lastPhase || e.step === e.total) status.print(line);
    lastPhase = e.phase;
  };
  const cancelOptions = { command: 'edit', whenCancelled: 'cancelled; nothing was written.', beforeReport: () => status.end() };
  return runCancellable(cancelOptions, async (ac) => {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(sourcePath);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new EngineError('IMAGE', `cannot read ${sourcePath}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    const found = sourceParameters(bytes);
    const prompt = v.prompt ?? found.params.prompt;
    const srcSeed = typeof seed === 'number' ? seed : found.params.seed;
    if (prompt === undefined || srcSeed === undefined) {
      const missing = [prompt === undefined ? '--prompt "SOURCE PROMPT"' : '', srcSeed === undefined ? '--seed N' : '']
        .filter(Boolean)
        .join(' and ');
      throw new EngineError(
        'INVALID_ARGUMENT',
        `${sourcePath} ${found.from === 'none' ? 'carries no generation parameters' : 'does not say its prompt and seed'}: ` +
          `give ${missing} (and --steps, --scheduler, --guidance, --size when they are not the model set's defaults)`,
      );
    }
    if (found.embeddingConditioned && v.prompt === undefined)
      note('the source was rendered from an embedding the PNG does not carry: editing its recorded prompt (the regeneration will differ)');
    if (found.isEdit) note('the source is itself an edit: the new edit starts from a regeneration of its prompt');

    const ms = await loadModelSet(v.models ?? found.params.model ?? 'demo', {
      ...(v.provider ? { provider: v.provider as ProviderChoice } : {}),
      ...(typeof threads === 'number' ? { threads } : {}),
      ...(v.cache ? { cacheDir: v.cache } : {}),
      skipVaeEncoder: true,
      signal: ac.signal,
      onWarning: (w) => note(`warning: ${w.message}`),
      onProgress: (e) => {
        if (e.phase === 'generate-demo' && e.step === 0) note('generating the demo model set (first use only, a few seconds)...');
      },
    });
    try {
      const d = ms.defaults;
      const source: EditSource = {
        prompt,
        seed: srcSeed,
        steps: typeof steps === 'number' ? steps : (found.params.steps ?? d.steps),
        scheduler: scheduler ?? found.params.scheduler ?? d.scheduler,
        guidance: typeof guidance === 'number' ? guidance : (found.params.guidance ?? d.guidance),
        width: size?.width ?? found.params.width ?? d.width,
        height: size?.height ?? found.params.height ?? d.height,
        kind: 'generation',
      };
      const negative = v.negative ?? found.params.negativePrompt;
      if (negative !== undefined) source.negativePrompt = negative;
      if (found.params.model !== undefined) source.model = found.params.model;
      try {
        const image = await loadImage(bytes);
        if (image.width === source.width && image.height === source.height) source.image = image.data;
        else
          note(
            `the image is ${image.width}x${image.height}, not the source's ${source.width}x${source.height}: the report compares with its regeneration`,
          );
      } catch {
        note('SOURCE is not an image this build can read: the report compares with the regeneration of its parameters');
      }
      const req: EditRequest = {
        source,
        prompt: editedPrompt,
        mode: mode as EditModeChoice,
        ...(typeof crossSteps === 'number' ? { crossSteps } : {}),
        ...(typeof selfSteps === 'number' ? { selfSteps } : {}),
        ...(typeof threshold === 'number' || typeof dilate === 'number'
          ? { blend: { ...(typeof threshold === 'number' ? { threshold } : {}), ...(typeof dilate === 'number' ? { dilate } : {}) } }
          : {}),
        ...(v.suppress ? { suppress: true } : {}),
      };
      let r;
      try {
        r = await editGeneration(ms, req, { signal: ac.signal, onProgress, onWarning: (w) => note(`warning: ${w.message}`) });
      } catch (e) {
        if (e instanceof NothingToEditError) {
          status.end();
          console.log(`${e.message}; nothing was written`);
          return 0;
        }
        throw e;
      }
      status.end();
      await safeWriteFile(output, r.png, { mkdir: true, what: 'the output image' });
      let maskPath: string | undefined;
      if (v.mask !== undefined) {
        maskPath = path.resolve(v.mask);
        const n = r.width * r.height;
        const chw = new Float32Array(3 * n);
        for (let c = 0; c < 3; c++) for (let i = 0; i < n; i++) chw[c * n + i] = r.mask.data[i] ? 1 : -1;
        await safeWriteFile(maskPath, await imageToPng(chw, r.width, r.height), { mkdir: true, what: 'the mask image' });
      }
      const edits = r.diff.edits.filter((e) => !e.punctuation);
      if (v.json) {
        console.log(
          JSON.stringify(
            {
              output,
              ...(maskPath ? { mask: maskPath } : {}),
              edit: r.summary,
              edits: edits.map((e) => ({
                kind: e.kind,
                source: e.source.text,
                edited: e.edited.text,
                ...(e.weight ? { weight: e.weight } : {}),
              })),
              mode: r.mode,
              modeReason: r.modeReason,
              maskWords: r.mask.words,
              report: r.report,
              ...(r.sourceReproduced !== undefined ? { sourceReproduced: r.sourceReproduced } : {}),
              record: r.record,
              seconds: r.seconds,
              warnings: r.warnings,
            },
            (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? null : x),
            2,
          ),
        );
      } else {
        console.log(`edit: ${edits.length ? edits.map(describeEdit).join('; ') : 'punctuation only'}`);
        console.log(`mode: ${r.mode} (${r.modeReason})`);
        const words = [...new Set([...r.mask.words.source, ...r.mask.words.edited].map((w) => w.toLowerCase()))];
        console.log(
          `wrote ${output} (${r.width}x${r.height}, ${ms.name}, seed ${source.seed}, ${source.scheduler} ${source.steps} steps; ${r.seconds.toFixed(1)} s)` +
            (maskPath ? `; mask ${maskPath}` : ''),
        );
        console.log(
          `${describeReport(r.report)}` +
            ` [mask from: ${words.length ? words.join(', ') : 'no words'}; changed = a channel off by more than ${r.report.tolerance}/255]`,
        );
      }
      return 0;
    } finally {
      await releaseAttentionControl(ms);
      await ms.release();
    }
  });
}
