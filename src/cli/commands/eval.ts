/**
 * `inversion-studio eval DATASET`: invert every image of a dataset with each method, regenerate
 * from the answers, score them, and write the paper-format report (docs/evaluation.md). Results
 * are appended to RUN_DIR/results.jsonl as they finish, so running the same command again
 * resumes. Progress (with ETA) on stderr; the results table and the report's path on stdout.
 */
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { EngineError } from '../../main/engine/errors.js';
import { parseAblation, type Ablation } from '../../main/engine/eval/ablation.js';
import { parseDatasetSpec, type DatasetSpec } from '../../main/engine/eval/dataset.js';
import { runEval, type EvalProgress } from '../../main/engine/eval/runner.js';
import { isMethodName, METHOD_NAMES, type MethodName } from '../../main/engine/inversion/methods/types.js';
import { PRESETS, type PresetName } from '../../main/engine/inversion/presets.js';
import { isProviderChoice, PROVIDER_CHOICES, type ProviderChoice } from '../../main/engine/runtime/providers.js';
import { intOption, parseCommandArgs, usageError as usageErrorOf } from '../args.js';
import { runCancellable } from '../cancellable.js';
import { statusLine } from '../status-line.js';

export const summary = 'evaluate inversion methods on a dataset (DATASET|shapes:N [--methods editor,ph2p,pez,caption] [-o RUN_DIR] ...)';

const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

const USAGE = `usage: inversion-studio eval DATASET [options]

Inverts every image of DATASET with each method, regenerates an image from each answer, scores
it (image similarity, prompt alignment, perplexity) and writes RUN_DIR/report.md with the
paper's tables (means with 95% intervals), CSVs and SVG figures. Each result is appended to
RUN_DIR/results.jsonl as it finishes: the same command again resumes where it stopped.

DATASET:
  DIR                   a folder of images with prompts.jsonl ({"image": "a.png", "prompt": "..."}
                        per line) or prompts.csv (columns image, prompt)
  shapes:N[:SEED]       N held-out scenes of the shapes world with their prompts (needs the shapes
                        model set); targets are the world renderer's exact images

options:
  --methods LIST        comma-separated, of ${METHOD_NAMES.join(', ')} (default: all)
  --models NAME|DIR     model set (default: shapes for shapes:N, else demo)
  --limit N             the first N images only
  --seeds LIST          seeds of every method run, e.g. 0,34 (default: 0)
  --iterations N        iterations of EDITOR, PH2P and PEZ (default: the preset's)
  --preset P            ${PRESET_NAMES.join(' | ')} (default: fast); paper = the references' iterations
  --ablate S=V1,V2,...  sweep one setting: iterations, steps, init-length, seed, captioner
  --size N              square size the images are inverted at (default: the model set's)
  --regen-steps N       sampler steps of the regenerations (default: the model set's)
  --provider P          ${PROVIDER_CHOICES.join(' | ')} (default: auto)
  --threads N           CPU threads for onnxruntime
  --cache DIR           model cache (default: INVERSION_STUDIO_CACHE or the per-user cache)
  -o, --out RUN_DIR     where the results and the report go (default: ./eval-<dataset>)

A method whose model is not installed (PEZ without a CLIP text tower, the caption baseline
without a captioner) is skipped with what to install; the others run. A metric whose model is
missing is left out the same way. Rows whose image is missing or unreadable are reported and
the rest goes on. Ctrl-C stops after the current image and writes the report of what is done.
Exit status: 0 done, 1 some units failed, 2 bad usage, 130 cancelled.`;

const usageError = (message: string): number => usageErrorOf('eval', USAGE, message);

function fmtSeconds(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '?';
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

/** `eval [######------------------] 12/400  red.png · editor · seed 0 · refining 30/100  ETA 1h02m` */
export function evalProgressLine(e: EvalProgress, width = 24): string {
  const frac = e.total > 0 ? Math.min(1, e.done / e.total) : 0;
  const filled = Math.round(frac * width);
  let line = `eval [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${e.done}/${e.total}`;
  if (e.item) line += `  ${e.item} · ${e.method} · seed ${e.seed}${e.setting ? ` · ${e.setting.name}=${e.setting.value}` : ''}`;
  if (e.phase === 'inverting' && e.inner)
    line += ` · ${e.inner.phase}${e.inner.total ? ` ${e.inner.iteration ?? 0}/${e.inner.total}` : ''}`;
  else if (e.phase !== 'inverting') line += ` · ${e.phase}`;
  if (e.etaSeconds !== undefined) line += `  ETA ${fmtSeconds(e.etaSeconds)}`;
  return line;
}

function parseList(v: string | undefined): string[] | undefined {
  return v === undefined
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs('eval', USAGE, argv, {
    methods: { type: 'string' },
    models: { type: 'string' },
    limit: { type: 'string' },
    seeds: { type: 'string' },
    iterations: { type: 'string' },
    preset: { type: 'string' },
    ablate: { type: 'string' },
    size: { type: 'string' },
    'regen-steps': { type: 'string' },
    provider: { type: 'string' },
    threads: { type: 'string' },
    cache: { type: 'string' },
    out: { type: 'string', short: 'o' },
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof parsed === 'number') return parsed;
  const v = parsed.values;
  if (parsed.positionals.length !== 1) return usageError('give one DATASET (a folder with prompts.jsonl/.csv, or shapes:N)');
  let dataset: DatasetSpec;
  let ablation: Ablation | undefined;
  try {
    dataset = parseDatasetSpec(parsed.positionals[0]!);
    ablation = v.ablate !== undefined ? parseAblation(v.ablate) : undefined;
  } catch (e) {
    if (e instanceof EngineError) return usageError(e.message);
    throw e;
  }
  const methodList = parseList(v.methods) ?? [...METHOD_NAMES];
  const badMethod = methodList.find((m) => !isMethodName(m));
  if (badMethod !== undefined) return usageError(`--methods takes ${METHOD_NAMES.join(', ')} (got '${badMethod}')`);
  if (methodList.length === 0) return usageError('--methods is empty');
  const methods = [...new Set(methodList)] as MethodName[];
  const seedList = parseList(v.seeds);
  const seeds = seedList?.map((s) => intOption(s, '--seeds', 0));
  const badSeed = seeds?.find((s) => typeof s === 'string');
  if (badSeed !== undefined) return usageError(badSeed as string);
  if (seeds && ablation?.setting === 'seed') return usageError('give the seeds either with --seeds or with --ablate seed=..., not both');
  const limit = intOption(v.limit, '--limit', 1);
  const iterations = intOption(v.iterations, '--iterations', 1, 100_000);
  const size = intOption(v.size, '--size', 32, 4096);
  const regenSteps = intOption(v['regen-steps'], '--regen-steps', 1, 1000);
  const threads = intOption(v.threads, '--threads', 1, 1024);
  for (const x of [limit, iterations, size, regenSteps, threads]) if (typeof x === 'string') return usageError(x);
  const preset = (v.preset ?? 'fast') as PresetName;
  if (!PRESET_NAMES.includes(preset)) return usageError(`--preset must be one of ${PRESET_NAMES.join(', ')} (got '${v.preset}')`);
  if (v.provider !== undefined && !isProviderChoice(v.provider))
    return usageError(`--provider must be one of ${PROVIDER_CHOICES.join(', ')} (got '${v.provider}')`);
  const name = dataset.kind === 'shapes' ? `shapes-${dataset.n}` : path.basename(dataset.dir);
  const runDir = path.resolve(v.out ?? `eval-${name}`);

  const status = statusLine();
  let lastLogged = -1;
  const onProgress = (e: EvalProgress) => {
    if (e.phase === 'loading' && e.message) return status.print(`eval: ${e.message}`);
    if (status.tty) return status.draw(evalProgressLine(e));
    // Not a terminal: one line per unit started.
    if (e.phase === 'inverting' && !e.inner && e.done !== lastLogged) {
      lastLogged = e.done;
      status.print(evalProgressLine(e));
    }
  };
  return runCancellable(
    {
      command: 'eval',
      whenCancelled: `cancelled; the results so far are in ${path.join(runDir, 'results.jsonl')} (run the command again to resume).`,
      onSigint: () => status.print('cancelling: the current image stops, the report of what is done is written (Ctrl-C again to quit now)'),
      beforeReport: () => status.end(),
    },
    async (ac) => {
      const r = await runEval(
        {
          dataset,
          methods,
          runDir,
          ...(v.models ? { models: v.models } : {}),
          ...(v.cache ? { cacheDir: v.cache } : {}),
          ...(typeof limit === 'number' ? { limit } : {}),
          ...(seeds ? { seeds: seeds as number[] } : {}),
          ...(typeof iterations === 'number' ? { iterations } : {}),
          preset,
          ...(ablation ? { ablation } : {}),
          ...(typeof size === 'number' ? { size } : {}),
          ...(typeof regenSteps === 'number' ? { regenSteps } : {}),
          ...(v.provider ? { provider: v.provider as ProviderChoice } : {}),
          ...(typeof threads === 'number' ? { threads } : {}),
        },
        { signal: ac.signal, onProgress },
      );
      status.end();
      for (const s of r.skippedMethods) status.print(`eval: ${s.method} not run: ${s.reason}`);
      for (const s of r.skippedMetrics) status.print(`eval: metric ${s.metric} left out: ${s.reason}`);
      for (const w of r.warnings) status.print(`eval: warning: ${w}`);
      for (const f of r.failed) status.print(`eval: failed: ${f.item} · ${f.method} · seed ${f.seed}: ${f.error}`);
      const report = path.join(runDir, 'report.md');
      const md = await readFile(report, 'utf8');
      const table = md
        .split('\n')
        .filter(
          (l, i, all) =>
            l.startsWith('|') &&
            all.slice(0, i).some((x) => x === '## Results') &&
            !all.slice(0, i).some((x) => x.startsWith('###') || x === '## Figures'),
        );
      console.log(table.join('\n'));
      console.log(`report: ${report}`);
      if (r.cancelled) {
        console.error(
          `inversion-studio eval: cancelled; ${r.records.filter((x) => x.metrics).length} results kept in ${path.join(runDir, 'results.jsonl')} (run the command again to resume)`,
        );
        return 130;
      }
      return r.failed.length > 0 ? 1 : 0;
    },
  );
}
