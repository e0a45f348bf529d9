/**
 * Cross-concept fusion of two or more parents (prompts, images, embeddings) into one image, in
 * five modes (docs/fusion-evolution.md):
 *
 *   concat     "A and B", fitted to the token window by attention mass (concat.ts)
 *   blend      slerp/lerp of the embeddings, decoded back to text (embedding-math.ts, decode-text.ts)
 *   compose    A1111 `AND`: noise predictions combined (predictors.ts)
 *   alternate  `[a|b]`: parents take turns per sampler step
 *   regions    parent i's prediction steers its region of the latent (regions.ts)
 *
 * and a grid of modes × weight vectors from one resolution of the parents.
 */
import { performance } from 'node:perf_hooks';
import { EngineError, throwIfAborted } from '../../errors.js';
import type { ModelSet } from '../../diffusion/load-model-set.js';
import {
  generate,
  type GenerateOptions,
  type GenerateRequest,
  type GenerateResult,
  type NoisePredictor,
} from '../../diffusion/pipeline.js';
import { isSchedulerName } from '../../diffusion/schedulers/index.js';
import { samplerLabel } from '../../image/a1111.js';
import { imageToPng } from '../../image/image-io.js';
import { concatPrompt, parentAttention } from './concat.js';
import { openEmbeddingDecoder, type EmbeddingDecoder } from './decode-text.js';
import { lerpMany, normaliseWeights, slerpMany } from './embedding-math.js';
import { checkParents, resolveParents } from './parents.js';
import { alternatePredictor, alternationSchedule, composePredictor, regionPredictor } from './predictors.js';
import { attentionMask, defaultRegions, geometricMask, normaliseMasks } from './regions.js';
import {
  FUSE_MODES,
  REGION_NAMES,
  type FuseGridRequest,
  type FuseGridResult,
  type FuseMode,
  type FuseOptions,
  type FuseRequest,
  type FuseResult,
  type ResolvedParent,
} from './types.js';

/** Settings of one rendering, with the model set's defaults filled in. */
interface RenderSettings {
  seed: number;
  steps: number;
  scheduler: GenerateRequest['scheduler'];
  guidance: number;
  width: number;
  height: number;
  negativePrompt?: string;
}

function renderSettings(ms: ModelSet, r: Omit<FuseRequest, 'parents' | 'mode'>): RenderSettings {
  const d = ms.defaults;
  if (r.scheduler !== undefined && !isSchedulerName(r.scheduler))
    throw new EngineError('INVALID_ARGUMENT', `unknown scheduler '${String(r.scheduler)}'`);
  return {
    seed: r.seed,
    steps: r.steps ?? d.steps,
    scheduler: r.scheduler ?? d.scheduler,
    guidance: r.guidance ?? d.guidance,
    width: r.width ?? d.width,
    height: r.height ?? d.height,
    ...(r.negativePrompt !== undefined ? { negativePrompt: r.negativePrompt } : {}),
  };
}

/** Checks a request before any model runs. @throws EngineError('INVALID_ARGUMENT') */
export function validateFuseRequest(ms: ModelSet, req: FuseRequest): void {
  if (!(FUSE_MODES as readonly string[]).includes(req.mode))
    throw new EngineError('INVALID_ARGUMENT', `unknown fusion mode '${String(req.mode)}' (one of ${FUSE_MODES.join(', ')})`);
  checkParents(ms, req.parents);
  const n = req.parents.length;
  if (req.weights) normaliseWeights(req.weights, n);
  if (req.regions) {
    if (req.regions.length !== n)
      throw new EngineError('INVALID_ARGUMENT', `give one region per parent: ${n} parents, ${req.regions.length} regions`);
    for (const r of req.regions)
      if (!(REGION_NAMES as readonly string[]).includes(r))
        throw new EngineError('INVALID_ARGUMENT', `unknown region '${String(r)}' (one of ${REGION_NAMES.join(', ')})`);
  }
  if (req.interpolation && req.interpolation !== 'slerp' && req.interpolation !== 'lerp')
    throw new EngineError('INVALID_ARGUMENT', `interpolation must be slerp or lerp (got '${String(req.interpolation)}')`);
}

/** A1111's AND clause weight suffix (`:0.5`), omitted at 1. */
const andWeight = (w: number): string => (Math.abs(w - 1) < 1e-9 ? '' : ` :${Number(w.toFixed(3))}`);

interface FuseContext {
  decoder?: EmbeddingDecoder;
  /** Region masks of attention-region parents, per parent index (computed once per grid). */
  attentionMasks: Map<number, Float32Array>;
}

/** One fused rendering from resolved parents. */
async function fuseResolved(
  ms: ModelSet,
  parents: readonly ResolvedParent[],
  mode: FuseMode,
  weightsIn: readonly number[] | undefined,
  req: Omit<FuseRequest, 'parents' | 'mode' | 'weights'>,
  opts: FuseOptions,
  ctx: FuseContext,
): Promise<FuseResult> {
  const t0 = performance.now();
  const s = renderSettings(ms, req);
  const n = parents.length;
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    opts.onWarning?.(m);
  };
  const signal = opts.signal ? { signal: opts.signal } : {};
  const norm = normaliseWeights(weightsIn, n);
  let prompt: string;
  let weights: number[] = norm;
  let predictor: NoisePredictor | undefined;
  let embedding: Float32Array | undefined;
  const extra: Record<string, string> = { Fusion: mode };
  const record: Record<string, unknown> = {};

  switch (mode) {
    case 'concat': {
      const r = await concatPrompt(ms, parents, norm, {
        ...s,
        ...signal,
        connective: req.connective ?? 'and',
        keepWords: req.keepWords ?? [],
        onAttention: (i) => opts.onProgress?.({ phase: 'attention', index: i, total: n, message: 'measuring word importance' }),
      });
      prompt = r.prompt;
      record.dropped = r.dropped;
      if (r.dropped.length)
        warn(
          `the joined prompt needs more than ${ms.tokenizer.contextLength - 2} tokens; dropped the least important words: ${r.dropped
            .map((d) => d.word)
            .join(', ')}`,
        );
      break;
    }
    case 'blend': {
      const how = req.interpolation ?? 'slerp';
      embedding =
        how === 'lerp'
          ? lerpMany(
              parents.map((p) => p.embedding),
              norm,
            )
          : slerpMany(
              parents.map((p) => p.embedding),
              norm,
              ms.io.hiddenSize,
            );
      opts.onProgress?.({ phase: 'decode', message: 'decoding the fused embedding to text' });
      ctx.decoder ??= openEmbeddingDecoder(ms, {
        ...(opts.e2t ? { choice: opts.e2t } : {}),
        ...(opts.lm ? { lm: opts.lm } : {}),
        onWarning: warn,
      });
      // Start the search from the heaviest parent and from all parents' words together.
      const order = [...parents.keys()].sort((a, b) => norm[b]! - norm[a]!);
      const decoded = await ctx.decoder.decode(embedding, {
        length: Math.max(...parents.map((p) => p.length)),
        inits: [parents[order[0]!]!.prompt, order.map((i) => parents[i]!.prompt).join(' ')],
        ...signal,
      });
      prompt = decoded.text;
      record.decoded = decoded;
      record.interpolation = how;
      extra['Fusion interpolation'] = how;
      break;
    }
    case 'compose': {
      // A1111 semantics: weights as given, 1 per clause by default.
      weights = weightsIn ? [...weightsIn] : new Array<number>(n).fill(1);
      predictor = composePredictor(
        ms,
        parents.map((p) => p.embedding),
        weights,
      );
      prompt = parents.map((p, i) => `${p.prompt}${andWeight(weights[i]!)}`).join(' AND ');
      break;
    }
    case 'alternate': {
      const schedule = alternationSchedule(norm, s.steps);
      predictor = alternatePredictor(
        ms,
        parents.map((p) => p.embedding),
        schedule,
      );
      prompt = `[${parents.map((p) => p.prompt.replace(/[[\]|]/g, ' ').trim()).join('|')}]`;
      record.schedule = schedule;
      break;
    }
    case 'regions': {
      const h = s.height / 8;
      const w = s.width / 8;
      const names = req.regions ?? defaultRegions(n);
      const raw: Float32Array[] = [];
      for (const [i, region] of names.entries()) {
        if (region !== 'attention') {
          raw.push(geometricMask(region, h, w));
          continue;
        }
        let m = ctx.attentionMasks.get(i);
        if (!m) {
          throwIfAborted(opts.signal);
          opts.onProgress?.({ phase: 'attention', index: i, total: n, message: `attention mask of ${parents[i]!.label}` });
          const captured = await parentAttention(ms, parents[i]!, { ...s, ...signal });
          m = attentionMask(ms.tokenizer, parents[i]!.prompt, captured, h, w).mask;
          ctx.attentionMasks.set(i, m);
        }
        raw.push(m);
      }
      const { masks, shares } = normaliseMasks(raw, norm);
      predictor = regionPredictor(
        ms,
        parents.map((p) => p.embedding),
        masks,
      );
      const regionNames = names.map((r) => (typeof r === 'object' ? (`strip ${r.strip + 1}/${r.of}` as const) : r));
      record.regions = regionNames.map((r, i) => ({ parent: i, region: r, share: shares[i]! }));
      prompt = parents.map((p) => p.prompt).join(' AND ');
      extra['Fusion regions'] = regionNames.join(', ');
      break;
    }
  }
  throwIfAborted(opts.signal);
  const genReq: GenerateRequest = {
    prompt,
    ...(embedding ? { embedding } : predictor ? { embedding: parents[0]!.embedding } : {}),
    seed: s.seed,
    steps: s.steps,
    scheduler: s.scheduler,
    guidance: s.guidance,
    width: s.width,
    height: s.height,
    ...(s.negativePrompt !== undefined ? { negativePrompt: s.negativePrompt } : {}),
  };
  const genOpts: GenerateOptions = {
    ...signal,
    png: false,
    onWarning: (w) => warn(w.message),
    onProgress: (e) => {
      if (e.phase === 'denoise') opts.onProgress?.({ phase: 'generate', step: e.step, steps: e.total });
    },
    ...(predictor ? { predictNoise: predictor } : {}),
  };
  const g: GenerateResult = await generate(ms, genReq, genOpts);
  extra['Fusion weights'] = weights.map((x) => Number(x.toFixed(4))).join('/');
  const fusion = {
    mode,
    weights,
    parents: parents.map((p) => ({ label: p.label, prompt: p.prompt, source: p.source })),
    ...record,
  };
  const png =
    opts.png === false
      ? Buffer.alloc(0)
      : await imageToPng(g.image, g.width, g.height, {
          parameters: {
            prompt,
            ...(g.params.negativePrompt ? { negativePrompt: g.params.negativePrompt } : {}),
            steps: s.steps,
            sampler: samplerLabel(s.scheduler),
            cfgScale: s.guidance,
            seed: s.seed,
            width: s.width,
            height: s.height,
            model: ms.name,
            extra,
          },
          json: { ...g.params, prompt, fusion },
        });
  return {
    mode,
    weights,
    prompt,
    ...(record.decoded ? { decoded: record.decoded as FuseResult['decoded'] } : {}),
    parents: fusion.parents,
    ...(mode === 'concat' ? { dropped: record.dropped as FuseResult['dropped'] } : {}),
    ...(mode === 'regions' ? { regions: record.regions as FuseResult['regions'] } : {}),
    ...(mode === 'alternate' ? { schedule: record.schedule as number[] } : {}),
    image: g.image,
    width: g.width,
    height: g.height,
    seed: s.seed,
    png,
    warnings: [...warnings],
    seconds: (performance.now() - t0) / 1000,
  };
}

/**
 * Fuse two or more parents into one image.
 * @throws EngineError('INVALID_ARGUMENT') for fewer than two parents, parents from another model
 *   set, bad weights/regions; the inversion's and generation's errors; CancelledError
 */
export async function fuse(ms: ModelSet, req: FuseRequest, opts: FuseOptions = {}): Promise<FuseResult> {
  validateFuseRequest(ms, req);
  const parents = await resolveParents(ms, req.parents, {
    ...(opts.invert ? { invert: opts.invert } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  const ctx: FuseContext = { attentionMasks: new Map() };
  try {
    return await fuseResolved(ms, parents, req.mode, req.weights, req, opts, ctx);
  } finally {
    await ctx.decoder?.release();
  }
}

/** Default weight columns of a grid: for two parents 3:1, 1:1, 1:3; for more, equal and each parent doubled. */
export function defaultWeightSets(n: number): number[][] {
  if (n === 2)
    return [
      [0.75, 0.25],
      [0.5, 0.5],
      [0.25, 0.75],
    ];
  const sets = [new Array<number>(n).fill(1 / n)];
  for (let i = 0; i < n; i++)
    sets.push(
      normaliseWeights(
        Array.from({ length: n }, (_, k) => (k === i ? 2 : 1)),
        n,
      ),
    );
  return sets;
}

/** Gap between grid cells, pixels. */
export const GRID_GAP = 4;

/** Tile equally sized CHW images: rows × cols, `gap` px of white between them. */
export function tileImages(
  cells: readonly Float32Array[][],
  width: number,
  height: number,
  gap = GRID_GAP,
): { data: Float32Array; width: number; height: number } {
  const rows = cells.length;
  const cols = Math.max(...cells.map((r) => r.length));
  const W = cols * width + (cols - 1) * gap;
  const H = rows * height + (rows - 1) * gap;
  const data = new Float32Array(3 * W * H).fill(1);
  cells.forEach((row, r) =>
    row.forEach((img, c) => {
      const x0 = c * (width + gap);
      const y0 = r * (height + gap);
      for (let ch = 0; ch < 3; ch++)
        for (let y = 0; y < height; y++) {
          const src = ch * width * height + y * width;
          data.set(img.subarray(src, src + width), ch * W * H + (y0 + y) * W + x0);
        }
    }),
  );
  return { data, width: W, height: H };
}

/**
 * Render every mode × weight vector from one resolution of the parents (images inverted once,
 * the decoder opened once, attention masks measured once).
 */
export async function fuseGrid(ms: ModelSet, req: FuseGridRequest, opts: FuseOptions = {}): Promise<FuseGridResult> {
  const t0 = performance.now();
  const modes = req.modes ?? [...FUSE_MODES];
  if (modes.length === 0) throw new EngineError('INVALID_ARGUMENT', 'a grid needs at least one mode');
  const weightSets = req.weightSets ?? defaultWeightSets(req.parents.length);
  if (weightSets.length === 0) throw new EngineError('INVALID_ARGUMENT', 'a grid needs at least one weight vector');
  for (const mode of modes) validateFuseRequest(ms, { ...req, mode });
  for (const w of weightSets) normaliseWeights(w, req.parents.length);
  const parents = await resolveParents(ms, req.parents, {
    ...(opts.invert ? { invert: opts.invert } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  const ctx: FuseContext = { attentionMasks: new Map() };
  const cells: FuseResult[][] = [];
  const total = modes.length * weightSets.length;
  try {
    for (const [r, mode] of modes.entries()) {
      const row: FuseResult[] = [];
      for (const [c, w] of weightSets.entries()) {
        throwIfAborted(opts.signal);
        opts.onProgress?.({
          phase: 'grid',
          index: r * weightSets.length + c,
          total,
          message: `${mode} ${w.map((x) => x.toFixed(2)).join('/')}`,
        });
        row.push(await fuseResolved(ms, parents, mode, w, req, opts, ctx));
      }
      cells.push(row);
    }
  } finally {
    await ctx.decoder?.release();
  }
  const { width, height } = cells[0]![0]!;
  const tiled = tileImages(
    cells.map((row) => row.map((c) => c.image)),
    width,
    height,
  );
  const png = await imageToPng(tiled.data, tiled.width, tiled.height, {
    json: {
      app: 'inversion-studio',
      fusionGrid: {
        modes,
        weightSets,
        cell: { width, height, gap: GRID_GAP },
        prompts: cells.map((row) => row.map((c) => c.prompt)),
        parents: cells[0]![0]!.parents,
        model: ms.name,
        seed: req.seed,
      },
    },
  });
  return { modes, weightSets, cells, png, width: tiled.width, height: tiled.height, seconds: (performance.now() - t0) / 1000 };
}
