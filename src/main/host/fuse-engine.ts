/**
 * The real engine's `fuse` (EngineAdapter): a FuseSpec onto concepts/fusion's fuse / fuseGrid on a
 * loaded model set (image parents decoded at the fusion's size, the installed captioner, CLIP and
 * the set's own LM for image parents that must be inverted and for blend's decoder), and its
 * result into the record the library keeps. real-engine.ts loads the set and calls this.
 */
import type { ModelSet } from '../engine/diffusion/load-model-set.js';
import { fuse, fuseGrid, GRID_GAP } from '../engine/concepts/fusion/fuse.js';
import type { FuseOptions, FuseProgress, FuseRequest, FuseResult, FusionParent } from '../engine/concepts/fusion/types.js';
import { loadImage } from '../engine/image/image-io.js';
import { resolveOptionalModels, type OptionalModelCache, type OptionalModels } from '../engine/inversion/optional-models.js';
import type { FusedParent, ItemFusion } from '../../shared/ipc/fusion-record.js';
import { CLIP_CONTEXT_LENGTH, MAX_MESSAGE_TEXT_CHARS, MAX_NAME_CHARS, MAX_PROMPT_CHARS } from '../../shared/ipc/limits.js';
import type { EngineProgress, FuseOutput, FuseSpec, RunOptions } from './engine-adapter.js';

const PHASES: Record<FuseProgress['phase'], string> = {
  invert: 'inverting',
  attention: 'attending',
  generate: 'denoising',
  decode: 'decoding',
  grid: 'rendering',
};

/** Fusion progress as job progress; in a grid every cell's sampling reports as `rendering` cell k of n. */
export function fuseProgress(grid: boolean, onProgress: RunOptions['onProgress']): (e: FuseProgress) => void {
  let cell = { index: 0, total: 1 };
  return (e) => {
    if (!onProgress) return;
    if (e.phase === 'grid') cell = { index: e.index ?? 0, total: e.total ?? 1 };
    if (grid && (e.phase === 'grid' || e.phase === 'generate')) {
      const step = e.phase === 'generate' && e.steps ? ` · step ${e.step ?? 0}/${e.steps}` : '';
      onProgress({ phase: 'rendering', step: cell.index, total: cell.total, message: `cell ${cell.index + 1}/${cell.total}${step}` });
      return;
    }
    const p: EngineProgress = {
      phase: PHASES[e.phase],
      step: e.step ?? e.index ?? 0,
      total: e.steps ?? e.total ?? 0,
    };
    if (e.message) p.message = e.message;
    onProgress(p);
  };
}

const cut = (s: string, n: number): string => (s.length > n ? s.slice(0, n) : s);
const finite = (xs: readonly number[]): number[] => xs.map((x) => (Number.isFinite(x) ? x : 0));

function parentsOf(r: FuseResult): FusedParent[] {
  return r.parents.map((p) => ({ label: cut(p.label || '?', MAX_NAME_CHARS), prompt: cut(p.prompt, MAX_PROMPT_CHARS), source: p.source }));
}

function decodedOf(r: FuseResult): ItemFusion['decoded'] {
  return r.decoded ? { text: cut(r.decoded.text, MAX_PROMPT_CHARS), distance: r.decoded.distance, decoder: r.decoded.decoder } : undefined;
}

/** The library's record of one fused image. */
export function fusionRecord(r: FuseResult, interpolation: 'slerp' | 'lerp' | undefined): ItemFusion {
  const decoded = decodedOf(r);
  return {
    mode: r.mode,
    weights: finite(r.weights),
    parents: parentsOf(r),
    prompt: cut(r.prompt, MAX_PROMPT_CHARS),
    ...(decoded ? { decoded } : {}),
    ...(r.mode === 'blend' ? { interpolation: interpolation ?? 'slerp' } : {}),
    ...(r.dropped?.length
      ? { dropped: r.dropped.slice(0, 4 * CLIP_CONTEXT_LENGTH).map((d) => ({ parent: d.parent, word: cut(d.word, 256), mass: d.mass })) }
      : {}),
    ...(r.regions ? { regions: r.regions.map((x) => ({ parent: x.parent, region: cut(String(x.region), 32), share: x.share })) } : {}),
  };
}

/** Which helper models a fusion needs: the inversion's for image parents without a usable prompt, the LM for decoding. */
function helperChoices(spec: FuseSpec): { captioner: 'auto' | 'off'; clip: 'auto' | 'off'; lm: 'own' } {
  const inverts = spec.parents.some((p) => p.kind === 'image' && (!p.recorded || p.reinvert || !p.recorded.prompt.trim()));
  return { captioner: inverts ? 'auto' : 'off', clip: inverts ? 'auto' : 'off', lm: 'own' };
}

/**
 * Run a fusion on `ms`.
 * @throws the engine's errors unchanged: EngineError INVALID_ARGUMENT (one parent, parents of
 *   another model set, bad weights or regions), the inversion's and generation's errors, CancelledError
 */
export async function runFuse(
  ms: ModelSet,
  spec: FuseSpec,
  env: { cacheDir: string; optional?: OptionalModelCache },
  opts: RunOptions,
): Promise<FuseOutput> {
  const d = ms.defaults;
  const width = spec.width ?? d.width;
  const height = spec.height ?? d.height;
  const parents: FusionParent[] = [];
  for (const p of spec.parents) {
    if (p.kind === 'prompt') {
      parents.push({ kind: 'prompt', text: p.text, ...(p.label ? { label: p.label } : {}) });
      continue;
    }
    const img = await loadImage(p.image, { width, height });
    parents.push({
      kind: 'image',
      image: { data: img.data, width: img.width, height: img.height },
      ...(p.recorded ? { recorded: p.recorded } : {}),
      ...(p.reinvert ? { reinvert: true } : {}),
      ...(p.label ? { label: p.label } : {}),
    });
  }
  const helpers: OptionalModels = await resolveOptionalModels(
    { cacheDir: env.cacheDir, modelSetDir: ms.dir, choices: helperChoices(spec) },
    env.optional,
  );
  const fuseOpts: FuseOptions = {
    ...(opts.signal ? { signal: opts.signal } : {}),
    onProgress: fuseProgress(!!spec.grid, opts.onProgress),
    ...(helpers.lm ? { lm: helpers.lm } : {}),
    invert: {
      ...(helpers.captioner ? { init: { kind: 'caption', cacheDir: env.cacheDir, offline: true, instance: helpers.captioner } } : {}),
      ...(helpers.scorer ? { scorer: helpers.scorer } : {}),
      ...(helpers.lm ? { lm: helpers.lm } : {}),
    },
  };
  const common = {
    parents,
    seed: spec.seed,
    ...(spec.steps !== undefined ? { steps: spec.steps } : {}),
    ...(spec.scheduler ? { scheduler: spec.scheduler } : {}),
    ...(spec.guidance !== undefined ? { guidance: spec.guidance } : {}),
    width,
    height,
    ...(spec.negativePrompt ? { negativePrompt: spec.negativePrompt } : {}),
    ...(spec.connective ? { connective: spec.connective } : {}),
    ...(spec.keepWords?.length ? { keepWords: spec.keepWords } : {}),
    ...(spec.interpolation ? { interpolation: spec.interpolation } : {}),
    ...(spec.regions ? { regions: spec.regions } : {}),
  };
  const params = {
    steps: spec.steps ?? d.steps,
    scheduler: spec.scheduler ?? d.scheduler,
    guidance: spec.guidance ?? d.guidance,
    width,
    height,
    model: spec.modelSet,
  };
  try {
    return await fuseWith(ms, spec, common, params, fuseOpts, helpers.warnings);
  } finally {
    if (!env.optional) await helpers.release();
  }
}

async function fuseWith(
  ms: ModelSet,
  spec: FuseSpec,
  common: Omit<FuseRequest, 'mode' | 'weights'>,
  params: FuseOutput['params'],
  fuseOpts: FuseOptions,
  helperWarnings: readonly string[],
): Promise<FuseOutput> {
  const warnings = (ws: readonly string[]): string[] =>
    [...new Set([...helperWarnings, ...ws])].slice(0, 32).map((w) => cut(w, MAX_MESSAGE_TEXT_CHARS));

  if (spec.grid) {
    const g = await fuseGrid(
      ms,
      {
        ...common,
        ...(spec.grid.modes ? { modes: spec.grid.modes } : {}),
        ...(spec.grid.weightSets ? { weightSets: spec.grid.weightSets } : {}),
      },
      fuseOpts,
    );
    const first = g.cells[0]![0]!;
    const parentsRead = parentsOf(first);
    const fusion: ItemFusion = {
      mode: 'grid',
      parents: parentsRead,
      prompt: cut(parentsRead.map((p) => p.prompt).join(' × '), MAX_PROMPT_CHARS),
      grid: {
        modes: g.modes,
        weightSets: g.weightSets.map(finite),
        cells: g.cells.map((row, r) =>
          row.map((c, k) => {
            const decoded = decodedOf(c);
            return {
              mode: g.modes[r]!,
              weights: finite(g.weightSets[k]!),
              prompt: cut(c.prompt, MAX_PROMPT_CHARS),
              ...(decoded ? { decoded } : {}),
            };
          }),
        ),
        gap: GRID_GAP,
      },
    };
    return { png: g.png, width: g.width, height: g.height, params, fusion, warnings: warnings(g.cells.flat().flatMap((c) => c.warnings)) };
  }
  const r = await fuse(ms, { ...common, mode: spec.mode!, ...(spec.weights ? { weights: spec.weights } : {}) }, fuseOpts);
  return {
    png: r.png,
    width: r.width,
    height: r.height,
    params,
    fusion: fusionRecord(r, spec.interpolation),
    warnings: warnings(r.warnings),
  };
}
