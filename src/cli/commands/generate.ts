/**
 * `inversion-studio generate "PROMPT" -o OUT.png`: text-to-image on a model set, with a progress
 * bar on stderr and the generation parameters embedded in the PNG.
 */
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { loadModelSet } from '../../main/engine/diffusion/load-model-set.js';
import { assertWritableTarget, safeWriteFile } from '../../main/engine/io/safe-write.js';
import { generate, type GenerateProgress } from '../../main/engine/diffusion/pipeline.js';
import { releaseAttentionCapture, segmentGeneration, writeSegmentation } from '../../main/engine/attention/index.js';
import { chwToRgbBytes } from '../../main/engine/image/image-io.js';
import { isSchedulerName, SCHEDULER_NAMES, type SchedulerName } from '../../main/engine/diffusion/schedulers/index.js';
import { isProviderChoice, PROVIDER_CHOICES, type ProviderChoice } from '../../main/engine/runtime/providers.js';
import { intOption, numberOption, parseCommandArgs, usageError as usageErrorOf } from '../args.js';
import { runCancellable } from '../cancellable.js';
import { statusLine } from '../status-line.js';

export const summary = 'generate an image from a prompt (PROMPT -o OUT.png [--models demo|sd15|sd-turbo|DIR] ...)';

const USAGE = `usage: inversion-studio generate "PROMPT" -o OUT.png [options]

options:
  -o, --output FILE     PNG to write (required)
  --negative TEXT       negative prompt
  --models NAME|DIR     model set: demo (generated on first use), sd15, sd15-fp16, sd-turbo,
                        another installed name, or a diffusers ONNX folder (default: demo)
  --seed N              integer >= 0 (default: random, printed)
  --steps N             denoising steps (default: the model set's, e.g. 20 for demo, 1 for sd-turbo)
  --scheduler NAME      ${SCHEDULER_NAMES.join(' | ')} (default: the model set's)
  --guidance G          classifier-free guidance scale; <= 1 disables it (default: 7.5, 0 for turbo)
  --size WxH            image size in pixels, multiples of 8 (default: 256x256 demo, 512x512 SD)
  --provider P          ${PROVIDER_CHOICES.join(' | ')} (default: auto)
  --threads N           CPU threads for onnxruntime
  --cache DIR           model cache (default: INVERSION_STUDIO_CACHE or the per-user cache)
  --attention-maps DIR  also write the prompt words' cross-attention heat maps and masks of this
                        generation into DIR (as \`inversion-studio segment\` does; docs/segmentation.md)
  --json                print the generation record as JSON on stdout`;

const usageError = (message: string): number => usageErrorOf('generate', USAGE, message);

/** Parses "WxH" (also "W" for a square); returns undefined when malformed. */
export function parseSize(s: string): { width: number; height: number } | undefined {
  const m = /^\s*(\d+)\s*(?:[xX×*]\s*(\d+))?\s*$/.exec(s);
  if (!m) return undefined;
  const width = Number(m[1]);
  const height = m[2] !== undefined ? Number(m[2]) : width;
  return { width, height };
}

function fmtSeconds(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '?';
  const t = Math.round(s);
  return t < 60 ? `${t}s` : `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
}

/** `denoise [########----------] 8/20  ETA 4s` */
export function progressBar(e: GenerateProgress, width = 24): string {
  const frac = e.total > 0 ? e.step / e.total : 1;
  const filled = Math.round(frac * width);
  const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
  const eta = e.etaSeconds !== undefined ? `  ETA ${fmtSeconds(e.etaSeconds)}` : '';
  return `${e.phase.padEnd(7)} [${bar}] ${e.step}/${e.total}${eta}`;
}

function progressReporter(): { update(e: GenerateProgress): void; note(line: string): void; done(): void } {
  const status = statusLine();
  let lastPhase = '';
  return {
    update(e) {
      const line = progressBar(e);
      if (status.tty) status.draw(line);
      // Not a terminal (a log file, a test): one line per phase change and at phase ends.
      else if (e.phase !== lastPhase || e.step === e.total) status.print(line);
      lastPhase = e.phase;
    },
    note: (line) => status.print(line),
    done: () => status.end(),
  };
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs('generate', USAGE, argv, {
    output: { type: 'string', short: 'o' },
    negative: { type: 'string' },
    models: { type: 'string' },
    seed: { type: 'string' },
    steps: { type: 'string' },
    scheduler: { type: 'string' },
    guidance: { type: 'string' },
    size: { type: 'string' },
    provider: { type: 'string' },
    threads: { type: 'string' },
    cache: { type: 'string' },
    json: { type: 'boolean' },
    'attention-maps': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof parsed === 'number') return parsed;
  const v = parsed.values;
  if (parsed.positionals.length !== 1)
    return usageError(
      parsed.positionals.length === 0
        ? 'a PROMPT is required (quote it)'
        : `expected one PROMPT, got ${parsed.positionals.length} arguments; quote the prompt`,
    );
  const prompt = parsed.positionals[0]!;
  const output = v.output;
  if (!output) return usageError('-o OUT.png is required');
  // Fail before the work when -o names a folder, a device or a FIFO (never replaced by our PNG).
  await assertWritableTarget(output, 'the output image');

  const seed = intOption(v.seed, '--seed', 0);
  const steps = intOption(v.steps, '--steps', 1, 1000);
  const threads = intOption(v.threads, '--threads', 1, 1024);
  for (const x of [seed, steps, threads]) if (typeof x === 'string') return usageError(x);
  const guidance = numberOption(v.guidance, '--guidance', 0);
  if (typeof guidance === 'string') return usageError(guidance);
  let scheduler: SchedulerName | undefined;
  if (v.scheduler !== undefined) {
    const s = v.scheduler.toLowerCase();
    if (!isSchedulerName(s)) return usageError(`--scheduler must be one of ${SCHEDULER_NAMES.join(', ')} (got '${v.scheduler}')`);
    scheduler = s;
  }
  let size: { width: number; height: number } | undefined;
  if (v.size !== undefined) {
    size = parseSize(v.size);
    if (!size) return usageError(`--size must look like 512x512 (got '${v.size}')`);
    for (const [k, n] of [
      ['width', size.width],
      ['height', size.height],
    ] as const) {
      if (n <= 0 || n % 8 !== 0)
        return usageError(
          `--size: ${k} ${n} is not a positive multiple of 8 (the VAE works on 8x8 blocks); try ${Math.max(8, Math.round(n / 8) * 8)}`,
        );
    }
  }
  if (v.provider !== undefined && !isProviderChoice(v.provider))
    return usageError(`--provider must be one of ${PROVIDER_CHOICES.join(', ')} (got '${v.provider}')`);

  const progress = progressReporter();
  const cancelOptions = { command: 'generate', whenCancelled: 'cancelled; nothing was written.', beforeReport: () => progress.done() };
  return runCancellable(cancelOptions, async (ac) => {
    const ms = await loadModelSet(v.models ?? 'demo', {
      ...(v.provider ? { provider: v.provider as ProviderChoice } : {}),
      ...(typeof threads === 'number' ? { threads } : {}),
      ...(v.cache ? { cacheDir: v.cache } : {}),
      skipVaeEncoder: true,
      signal: ac.signal,
      onWarning: (w) => progress.note(`warning: ${w.message}`),
      onProgress: (e) => {
        if (e.phase === 'generate-demo' && e.step === 0) progress.note('generating the demo model set (first use only, a few seconds)...');
      },
    });
    try {
      const d = ms.defaults;
      const req = {
        prompt,
        ...(v.negative !== undefined ? { negativePrompt: v.negative } : {}),
        seed: typeof seed === 'number' ? seed : randomInt(0, 2 ** 32),
        steps: typeof steps === 'number' ? steps : d.steps,
        scheduler: scheduler ?? d.scheduler,
        guidance: guidance ?? d.guidance,
        width: size?.width ?? d.width,
        height: size?.height ?? d.height,
      };
      if (seed === undefined) progress.note(`seed: ${req.seed}`);
      const genOpts = {
        signal: ac.signal,
        onProgress: (e: GenerateProgress) => progress.update(e),
        onWarning: (w: { message: string }) => progress.note(`warning: ${w.message}`),
      };
      // With --attention-maps the same sampling runs with the cross-attention captured.
      const withMaps = v['attention-maps'] !== undefined ? await segmentGeneration(ms, req, genOpts) : undefined;
      const r = withMaps?.result ?? (await generate(ms, req, genOpts));
      progress.done();
      const out = path.resolve(output);
      await safeWriteFile(out, r.png, { mkdir: true, what: 'the output image' });
      if (withMaps) {
        const dir = path.resolve(v['attention-maps']!);
        await writeSegmentation(dir, withMaps.segmentation, {
          rgb: chwToRgbBytes(r.image, r.width, r.height),
          width: r.width,
          height: r.height,
        });
        progress.note(`wrote attention maps of ${withMaps.segmentation.words.map((w) => w.word).join(', ')} to ${dir}`);
      }
      if (v.json)
        console.log(JSON.stringify({ output: out, ...r.params, seconds: r.seconds, provider: ms.provider, warnings: r.warnings }, null, 2));
      else {
        const perStep = r.stepSeconds.length ? r.stepSeconds.reduce((a, b) => a + b, 0) / r.stepSeconds.length : 0;
        console.log(
          `wrote ${out} (${r.width}x${r.height}, ${ms.name}, ${req.scheduler} ${req.steps} steps, guidance ${req.guidance}, seed ${req.seed}; ` +
            `${r.seconds.toFixed(1)} s, ${(perStep * 1000).toFixed(0)} ms/step on ${ms.provider})`,
        );
      }
      return 0;
    } finally {
      await releaseAttentionCapture(ms);
      await ms.release();
    }
  });
}
