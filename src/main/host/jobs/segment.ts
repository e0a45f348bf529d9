/**
 * The `segment` job: per-word cross-attention maps of one image (docs/segmentation.md), for the
 * overlay on every image view. The result carries the compact payload (ipc/attention.ts); the
 * full-resolution maps are kept for `exportSegmentation` (segmentations.ts). Nothing is stored in
 * the library.
 *
 * Which prompt and which path (segmentPlan): a library generation segmented by its own prompt is
 * sampled again with its seed and settings and its maps captured during that sampling (the engine
 * falls back to the noising path, with a warning, when that does not reproduce the image); an
 * inversion's target and best image by the recovered prompt, a candidate's image by that
 * candidate's prompt, an upload by the prompt the request gives, all through the noising path.
 */
import path from 'node:path';
import { EngineError } from '../../engine/errors.js';
import type { LibraryItem } from '../../../shared/ipc/library.js';
import { SegmentRequestSchema, type RequestOf } from '../../../shared/ipc/requests.js';
import type { Settings } from '../../../shared/ipc/settings.js';
import type { SegmentOutput, SegmentSpec } from '../engine-adapter.js';
import { toAttentionMaps } from '../segmentations.js';
import { readImageInput, type ResolvedImage } from './image-input.js';
import type { JobKind } from './job-kind.js';

export interface SegmentPlan {
  prompt: string;
  modelSet: string;
  generation?: SegmentSpec['generation'];
  /** Names the default export folder. */
  label: string;
}

/** The prompt an item's image is segmented by when the request gives none. */
function itemPrompt(item: LibraryItem, file: string): string {
  if (item.kind === 'generation') return item.params.prompt;
  const inv = item.inversion;
  if (file === inv.targetFile) return inv.prompt;
  // The item's own image is its best candidate's regeneration (the first one kept as a file).
  const candidate = file === item.file ? inv.candidates.find((c) => c.file) : inv.candidates.find((c) => c.file === file);
  return candidate?.prompt ?? inv.prompt;
}

/**
 * What a segment request segments, and how (see the module comment).
 * @throws EngineError('INVALID_ARGUMENT') for an upload without a prompt
 */
export function segmentPlan(req: RequestOf<'segment'>, src: ResolvedImage, settings: Settings): SegmentPlan {
  const given = req.prompt?.trim() ? req.prompt : undefined;
  if (!src.item || !src.file) {
    if (!given)
      throw new EngineError('INVALID_ARGUMENT', 'give the prompt to segment an uploaded image by (it carries none the studio knows)');
    const name = req.image.source === 'data' ? (req.image.name ?? 'upload') : 'upload';
    return { prompt: given, modelSet: req.modelSet ?? settings.modelSet, label: path.parse(name).name };
  }
  const { item, file } = src;
  const label = path.parse(file).name;
  const own = itemPrompt(item, file);
  const prompt = given ?? own;
  if (item.kind === 'generation') {
    const p = item.params;
    const modelSet = req.modelSet ?? p.model;
    const sameSampling = prompt === p.prompt && modelSet === p.model;
    const generation = sameSampling
      ? {
          negativePrompt: p.negativePrompt,
          seed: p.seed,
          steps: p.steps,
          scheduler: p.scheduler,
          guidance: p.guidance,
          width: p.width,
          height: p.height,
        }
      : undefined;
    return { prompt, modelSet, label, ...(generation ? { generation } : {}) };
  }
  return { prompt, modelSet: req.modelSet ?? item.inversion.model, label };
}

interface Segmented {
  out: SegmentOutput;
  image: Buffer;
  label: string;
  seconds: number;
}

export const segmentJob: JobKind<'segment', Segmented> = {
  type: 'segment',
  schema: SegmentRequestSchema,

  async run(req, opts, { engine, library, settings }) {
    const src = await readImageInput(req.image, library);
    const plan = segmentPlan(req, src, settings);
    const t0 = performance.now();
    const out = await engine.segment(
      {
        image: src.bytes,
        prompt: plan.prompt,
        modelSet: plan.modelSet,
        ...(req.words ? { words: req.words } : {}),
        ...(req.threshold !== undefined ? { threshold: req.threshold } : {}),
        ...(req.seed !== undefined ? { seed: req.seed } : {}),
        ...(plan.generation ? { generation: plan.generation } : {}),
      },
      opts,
    );
    opts.onProgress({ phase: 'segmenting', step: 1, total: 1 });
    return { out, image: src.bytes, label: plan.label, seconds: (performance.now() - t0) / 1000 };
  },

  async finish(_req, { out, image, label, seconds }, { segmentations }) {
    const seg = out.segmentation;
    const id = segmentations.put({ segmentation: seg, image, label });
    return {
      kind: 'segment',
      maps: toAttentionMaps(id, seg),
      source: seg.source ?? 'noising',
      seconds,
      warnings: out.warnings.slice(0, 32).map((w) => w.slice(0, 4000)),
    };
  },
};
