/**
 * The real engine's `edit` (EngineAdapter): an EditSpec onto concepts/edit's editGeneration on a
 * loaded model set, and its result into the compact shapes the host sends (the mask on the latent
 * grid as 0/1 bytes, PSNR values that JSON can carry). real-engine.ts loads the set and calls this.
 */
import type { ModelSet } from '../engine/diffusion/load-model-set.js';
import type { GenerateProgress } from '../engine/diffusion/pipeline.js';
import { editGeneration, type EditRequest, type EditSource, type RegionChange } from '../engine/concepts/edit/index.js';
import { loadImage } from '../engine/image/image-io.js';
import type { EditReport } from '../../shared/ipc/edit.js';
import type { EditOutput, EditSpec } from './engine-adapter.js';

/** A region's change with its PSNR as JSON carries it (null: infinite or undefined). */
function region(r: RegionChange): EditReport['outside'] {
  return { pixels: r.pixels, changed: r.changed, psnr: Number.isFinite(r.psnr) ? r.psnr : null };
}

/**
 * Run an edit on `ms` (the model set the source was made with).
 * @throws the engine's errors unchanged: NothingToEditError (INVALID_ARGUMENT) when the edited
 *   prompt reads the same, EngineError INVALID_ARGUMENT for bad settings, AttentionCaptureError,
 *   CancelledError
 */
export async function runEdit(
  ms: ModelSet,
  spec: EditSpec,
  opts: { signal?: AbortSignal; onProgress?: (e: GenerateProgress) => void },
): Promise<EditOutput> {
  const d = ms.defaults;
  const s = spec.source;
  const source: EditSource = {
    prompt: s.prompt,
    negativePrompt: s.negativePrompt,
    seed: s.seed,
    steps: s.steps ?? d.steps,
    scheduler: s.scheduler ?? d.scheduler,
    guidance: s.guidance ?? d.guidance,
    width: s.width ?? d.width,
    height: s.height ?? d.height,
    kind: s.kind,
  };
  const warnings: string[] = [];
  if (s.image) {
    // The report compares with the image as the artist has it, when it is the source's size.
    const image = await loadImage(s.image);
    if (image.width === source.width && image.height === source.height) source.image = image.data;
    else
      warnings.push(
        `the source image is ${image.width}x${image.height}, not the ${source.width}x${source.height} it was generated at: the report compares with its regeneration`,
      );
  }
  const req: EditRequest = {
    source,
    prompt: spec.prompt,
    ...(spec.mode ? { mode: spec.mode } : {}),
    ...(spec.crossSteps !== undefined ? { crossSteps: spec.crossSteps } : {}),
    ...(spec.selfSteps !== undefined ? { selfSteps: spec.selfSteps } : {}),
    ...(spec.blend ? { blend: { ...spec.blend } } : {}),
    ...(spec.suppress ? { suppress: true } : {}),
  };
  const r = await editGeneration(ms, req, {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  const e = r.record.edit;
  return {
    png: r.png,
    width: r.width,
    height: r.height,
    params: {
      steps: source.steps,
      scheduler: source.scheduler,
      guidance: source.guidance,
      width: source.width,
      height: source.height,
      model: spec.modelSet,
    },
    summary: r.summary,
    edits: e.edits.map((x) => ({ kind: x.kind, source: x.source, edited: x.edited, ...(x.weight ? { weight: x.weight } : {}) })),
    mode: r.mode,
    modeReason: r.modeReason,
    crossSteps: e.crossSteps,
    selfSteps: e.selfSteps,
    ...(e.blend ? { blend: { threshold: e.blend.threshold, dilate: e.blend.dilate } } : {}),
    ...(e.suppress ? { suppress: true } : {}),
    mask: {
      width: r.mask.latentWidth,
      height: r.mask.latentHeight,
      data: Uint8Array.from(r.mask.latent, (v) => (v ? 1 : 0)),
      words: r.mask.words,
    },
    report: {
      maskArea: r.report.maskArea,
      outside: region(r.report.outside),
      inside: region(r.report.inside),
      whole: region(r.report.whole),
      tolerance: r.report.tolerance,
    },
    ...(r.sourceReproduced !== undefined ? { sourceReproduced: r.sourceReproduced } : {}),
    warnings: [...warnings, ...r.warnings],
  };
}
