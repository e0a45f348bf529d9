/**
 * `inversion-studio evolve --session DIR [--init IMG|PROMPT …] --fitness SPEC`: a non-interactive
 * evolution session (the studio's Evolve view is the interactive form). A new folder starts a
 * session from the --init images and prompts; an existing one resumes where it stopped. Each
 * generation is bred by fitness (or from --pick), rendered, scored and saved before the next.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  clipFitness,
  EvolutionSession,
  loadTarget,
  modelSetBackend,
  parseFitnessSpec,
  readSessionFile,
  textFitness,
  checkerFitness,
  WORLD_ORACLE_MODEL,
  worldOracleBackend,
  type EvolutionBackend,
  type FitnessFactory,
  type FitnessRequest,
  type SessionInit,
} from '../../main/engine/concepts/evolution/index.js';
import { E2T_CHOICES, type E2tChoice } from '../../main/engine/e2t/choose-decoder.js';
import { loadModelSet, type ModelSet } from '../../main/engine/diffusion/load-model-set.js';
import { isSchedulerName, SCHEDULER_NAMES, type SchedulerName } from '../../main/engine/diffusion/schedulers/index.js';
import { CancelledError, EngineError } from '../../main/engine/errors.js';
import { resolveOptionalModels, type OptionalModels } from '../../main/engine/inversion/optional-models.js';
import { resolveCacheDir } from '../../main/engine/models/cache.js';
import { createShapesLm, trainShapesLm } from '../../main/engine/models/shapes/lm/index.js';
import { isProviderChoice, PROVIDER_CHOICES, type ProviderChoice } from '../../main/engine/runtime/providers.js';
import { intOption, numberOption, parseCommandArgs, usageError as usageErrorOf } from '../args.js';
import { runCancellable } from '../cancellable.js';
import { statusLine } from '../status-line.js';
import { classifyArgument, loadImageArgument } from './fuse.js';
import { parseSize } from './generate.js';

export const summary = 'evolve images by fitness in a session folder (--session DIR [--init IMG|PROMPT ...] --fitness SPEC)';

const USAGE = `usage: inversion-studio evolve --session DIR [--init IMG|PROMPT ...] [options]

Breeds generations of images with readable prompts: prompt crossover, embedding crossover
(decoded back to text), word and Gaussian mutation, selection by fitness with elitism. A new
session folder needs --init; an existing one is resumed. Everything is saved after each
generation (session.json, images/, thumbs/, embeddings/).

options:
  --session DIR         the session folder (required)
  --init X              an initial image file or quoted prompt; repeat for several (new sessions)
  --fitness SPEC        clip:IMAGE | text:"TEXT" | checker:"PROMPT" (shapes world); needed to breed
                        without picks (new sessions; a resumed session keeps its own)
  --generations N       generations to breed in this run (default 10)
  --until F             stop once the best fitness reaches F (default: the fitness's maximum, 1 for checker)
  --pick ID,ID,...      breed the first generation of this run from these individuals instead
  --population P        individuals per generation (new sessions; default 8)
  --elite N             best individuals carried over unchanged (default 1)
  --seed N              session seed (default 0): same seed and choices give the same children
  --export DIR          copy the session (images, lineage.json, prompts.tsv) into DIR at the end
  --models NAME|DIR     model set (new sessions, default demo; a resumed session uses its own);
                        ${WORLD_ORACLE_MODEL}: the shapes world's exact renderer, to measure the search
  --size WxH, --steps N, --scheduler S (${SCHEDULER_NAMES.join(' | ')}), --guidance G   rendering (new sessions)
  --e2t D               ${E2T_CHOICES.join(' | ')} (decoder of embedding children; default auto)
  --lm                  word mutations and decoding with the language model (GPT-2, or the set's own)
  --json                print the lineage (ids, parents, operators, prompts, seeds, fitness) as JSON
  --provider P          ${PROVIDER_CHOICES.join(' | ')} (default: auto)
  --threads N, --cache DIR`;

const usageError = (message: string): number => usageErrorOf('evolve', USAGE, message);

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs('evolve', USAGE, argv, {
    session: { type: 'string' },
    init: { type: 'string', multiple: true },
    fitness: { type: 'string' },
    generations: { type: 'string' },
    until: { type: 'string' },
    pick: { type: 'string' },
    population: { type: 'string' },
    elite: { type: 'string' },
    seed: { type: 'string' },
    export: { type: 'string' },
    models: { type: 'string' },
    size: { type: 'string' },
    steps: { type: 'string' },
    scheduler: { type: 'string' },
    guidance: { type: 'string' },
    e2t: { type: 'string' },
    lm: { type: 'boolean' },
    json: { type: 'boolean' },
    provider: { type: 'string' },
    threads: { type: 'string' },
    cache: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof parsed === 'number') return parsed;
  const v = parsed.values;
  if (parsed.positionals.length)
    return usageError(`unexpected argument '${parsed.positionals[0]}' (initial images and prompts go after --init)`);
  if (!v.session) return usageError('--session DIR is required');
  const dir = path.resolve(v.session);
  const resuming = existsSync(path.join(dir, 'session.json'));
  const inits = v.init ?? [];
  if (resuming && inits.length) return usageError(`${dir} already holds a session; --init is only for a new one (resume without it)`);
  if (!resuming && inits.length === 0) return usageError(`${dir} holds no session yet: give --init images or prompts to start one`);
  for (const [name, set] of [
    ['--fitness', v.fitness],
    ['--population', v.population],
    ['--elite', v.elite],
    ['--seed', v.seed],
    ['--size', v.size],
    ['--steps', v.steps],
    ['--scheduler', v.scheduler],
    ['--guidance', v.guidance],
  ] as const)
    if (resuming && set !== undefined) return usageError(`${name} is fixed when a session starts; ${dir} keeps its own`);
  const generations = intOption(v.generations, '--generations', 0, 10_000);
  const population = intOption(v.population, '--population', 2, 256);
  const elite = intOption(v.elite, '--elite', 0, 64);
  const seed = intOption(v.seed, '--seed', 0);
  const steps = intOption(v.steps, '--steps', 1, 1000);
  const threads = intOption(v.threads, '--threads', 1, 1024);
  for (const x of [generations, population, elite, seed, steps, threads]) if (typeof x === 'string') return usageError(x);
  const guidance = numberOption(v.guidance, '--guidance', 0, 100);
  if (typeof guidance === 'string') return usageError(guidance);
  const until = numberOption(v.until, '--until', -1e9);
  if (typeof until === 'string') return usageError(until);
  let scheduler: SchedulerName | undefined;
  if (v.scheduler !== undefined) {
    if (!isSchedulerName(v.scheduler)) return usageError(`--scheduler must be one of ${SCHEDULER_NAMES.join(', ')} (got '${v.scheduler}')`);
    scheduler = v.scheduler;
  }
  const size = v.size !== undefined ? parseSize(v.size) : undefined;
  if (v.size !== undefined && !size) return usageError(`--size must look like 512x512 (got '${v.size}')`);
  if (v.e2t !== undefined && !(E2T_CHOICES as readonly string[]).includes(v.e2t))
    return usageError(`--e2t must be one of ${E2T_CHOICES.join(', ')} (got '${v.e2t}')`);
  if (v.provider !== undefined && !isProviderChoice(v.provider))
    return usageError(`--provider must be one of ${PROVIDER_CHOICES.join(', ')} (got '${v.provider}')`);
  let fitnessSpec: ReturnType<typeof parseFitnessSpec> | undefined;
  try {
    fitnessSpec = v.fitness !== undefined ? parseFitnessSpec(v.fitness) : undefined;
    if (fitnessSpec?.kind === 'checker') checkerFitness(fitnessSpec.prompt);
  } catch (e) {
    if (e instanceof EngineError) return usageError(e.message);
    throw e;
  }
  if (fitnessSpec?.kind === 'clip' && classifyArgument(fitnessSpec.image) !== 'image')
    return usageError(`--fitness clip: no such image file ${fitnessSpec.image}`);
  const picks = v.pick
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const kinds = inits.map(classifyArgument);
  const missing = inits.filter((_, i) => kinds[i] === 'missing-image');
  if (missing.length) return usageError(`no such image file: ${missing.join(', ')}`);

  const cacheDir = resolveCacheDir(v.cache);
  const status = statusLine();
  let session: EvolutionSession | undefined;
  let helpers: OptionalModels | undefined;
  let ms: ModelSet | undefined;
  let backend: EvolutionBackend | undefined;
  const cancelOptions = {
    command: 'evolve',
    whenCancelled: 'cancelled; the session keeps every generation completed so far.',
    beforeReport: () => status.end(),
  };
  return runCancellable(cancelOptions, async (ac) => {
    try {
      const stored = resuming ? await readSessionFile(dir) : undefined;
      const modelName = stored?.model ?? v.models ?? 'demo';
      if (stored && v.models !== undefined && v.models !== stored.model)
        return usageError(`the session renders with model set '${stored.model}'; leave out --models or give that one`);
      if (modelName === WORLD_ORACLE_MODEL) {
        backend = worldOracleBackend({ lm: createShapesLm(trainShapesLm()) });
      } else {
        ms = await loadModelSet(modelName, {
          ...(v.provider ? { provider: v.provider as ProviderChoice } : {}),
          ...(typeof threads === 'number' ? { threads } : {}),
          ...(v.cache ? { cacheDir: v.cache } : {}),
          signal: ac.signal,
          onWarning: (w) => status.print(`warning: ${w.message}`),
        });
        const kind = stored?.fitness?.kind ?? fitnessSpec?.kind;
        helpers = await resolveOptionalModels({
          cacheDir,
          modelSetDir: ms.dir,
          choices: {
            captioner: kinds.includes('image') ? 'auto' : 'off',
            clip: kind === 'clip' ? 'require' : kinds.includes('image') ? 'auto' : 'off',
            lm: v.lm ? 'require' : 'own',
          },
        });
        for (const w of helpers.warnings) status.print(`warning: ${w}`);
        backend = modelSetBackend(ms, {
          ...(helpers.lm ? { lm: helpers.lm } : {}),
          ...(v.e2t ? { e2t: v.e2t as E2tChoice } : {}),
          ...(helpers.scorer ? { scorer: helpers.scorer } : {}),
          ...(helpers.captioner ? { invertInit: { kind: 'caption', cacheDir, offline: true, instance: helpers.captioner } } : {}),
        });
      }
      const b = backend;
      const render = stored?.settings.render ?? {
        ...b.defaults,
        ...(size ? { width: size.width, height: size.height } : {}),
        ...(typeof steps === 'number' ? { steps } : {}),
        ...(scheduler ? { scheduler } : {}),
        ...(guidance !== undefined ? { guidance } : {}),
      };
      const fitnessFactory: FitnessFactory = async (spec, sessionDir) => {
        if (spec.kind === 'checker') return checkerFitness(spec.prompt);
        if (spec.kind === 'text') return textFitness(spec.text, { cacheDir });
        if (!helpers?.scorer)
          throw new EngineError(
            'NOT_INSTALLED',
            "the clip fitness needs CLIP (ViT-L/14, or the model set's own): install it with `inversion-studio models download clip-vit-l14`",
          );
        return clipFitness(await loadTarget(sessionDir, spec.image, render.width, render.height), helpers.scorer);
      };
      const onProgress = (e: { phase: string; done: number; total: number; message?: string }) => {
        const line = `${e.phase} ${e.done}/${e.total}${e.message ? `  ${e.message}` : ''}`;
        if (status.tty) status.draw(line);
      };
      if (stored) {
        session = await EvolutionSession.open(dir, b, { fitnessFactory });
        status.print(`resuming ${dir}: ${stored.generations.length} generation(s), ${stored.individuals.length} individuals`);
      } else {
        const init: SessionInit[] = [];
        for (const [i, a] of inits.entries()) {
          if (kinds[i] === 'prompt') init.push({ kind: 'prompt', text: a });
          else {
            const img = await loadImageArgument(a, render.width, render.height);
            init.push({ kind: 'image', image: img.image, png: img.bytes, ...(img.recorded ? { recorded: img.recorded } : {}) });
          }
        }
        let fitness: FitnessRequest | undefined;
        if (fitnessSpec?.kind === 'clip') {
          const img = await loadImageArgument(fitnessSpec.image, render.width, render.height);
          fitness = { kind: 'clip', image: img.image, png: img.bytes };
        } else fitness = fitnessSpec;
        session = await EvolutionSession.create(
          dir,
          b,
          {
            init,
            settings: {
              render,
              ...(typeof seed === 'number' ? { seed } : {}),
              ...(typeof population === 'number' ? { population } : {}),
              ...(typeof elite === 'number' ? { elite } : {}),
            },
            ...(fitness ? { fitness } : {}),
          },
          { fitnessFactory, signal: ac.signal, onProgress },
        );
      }
      const s = session;
      const report = () => {
        const g = s.head();
        const fit = g.individuals.map((i) => i.fitness).filter((f): f is number => f !== undefined);
        const best = [...g.individuals].sort((x, y) => (y.fitness ?? -Infinity) - (x.fitness ?? -Infinity))[0]!;
        const scores = fit.length
          ? `best ${Math.max(...fit).toFixed(3)}  mean ${(fit.reduce((a, c) => a + c, 0) / fit.length).toFixed(3)}  `
          : '';
        status.end();
        console.log(`${g.generation.id}\t${scores}${best.id}\t${best.prompt}`);
      };
      report();
      const target = until ?? (s.file.fitness?.kind === 'checker' ? 1 : undefined);
      let n = typeof generations === 'number' ? generations : 10;
      if (n > 0 && !s.file.fitness) {
        if (!picks?.length)
          return usageError(
            'this session has no fitness: give --fitness when starting it, or --pick ids to breed from (the studio picks interactively)',
          );
        // Without a fitness only the picked generation can be bred; the next picks are the artist's.
        if (n > 1) status.print('no fitness: breeding one generation from --pick (pick again for the next)');
        n = 1;
      }
      for (let k = 0; k < n; k++) {
        if (target !== undefined && (s.best()?.fitness ?? -Infinity) >= target) {
          status.print(`reached ${target} (${s.best()!.id}); stopping`);
          break;
        }
        try {
          await s.breed(k === 0 ? picks : undefined, { signal: ac.signal, onProgress });
        } catch (e) {
          if (e instanceof CancelledError) {
            status.end();
            console.error(`inversion-studio evolve: cancelled; ${dir} keeps ${s.file.generations.length} generation(s)`);
            return 130;
          }
          throw e;
        }
        report();
      }
      const best = s.best();
      if (best) console.log(`best: ${best.id} (fitness ${best.fitness!.toFixed(3)}) ${best.imagePath}\n  ${best.prompt}`);
      if (v.json) console.log(JSON.stringify(s.lineage(), null, 2));
      if (v.export) {
        const r = await s.exportTo(v.export);
        console.log(`exported ${r.files} files to ${r.dir}`);
      }
      return 0;
    } catch (e) {
      status.end();
      if (e instanceof EngineError && e.code === 'INVALID_ARGUMENT') {
        console.error(`inversion-studio evolve: ${e.message}`);
        return 2;
      }
      throw e;
    } finally {
      await session?.close();
      await backend?.release();
      await helpers?.release().catch(() => undefined);
      await ms?.release();
    }
  });
}
