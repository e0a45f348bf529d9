/**
 * The `generate` job: one image from a prompt, saved in the library with its parameters; with
 * `attentionMaps`, also the cross-attention maps of the prompt's words captured during the
 * sampling (the result's `attention`; the full-resolution maps are kept for exportSegmentation).
 */
import { GenerateRequestSchema, type RequestOf } from '../../../shared/ipc/requests.js';
import type { Settings } from '../../../shared/ipc/settings.js';
import type { GenerateOutput, GenerateSpec } from '../engine-adapter.js';
import { newItemId } from '../library.js';
import { toAttentionMaps } from '../segmentations.js';
import type { JobKind } from './job-kind.js';

/** The generation a request asks for: fields it leaves out take the settings' defaults. */
export function generateSpec(req: RequestOf<'generate'>, settings: Settings): GenerateSpec {
  const d = settings.defaults.generate;
  return {
    prompt: req.prompt,
    negativePrompt: req.negativePrompt ?? d.negativePrompt,
    seed: req.seed ?? d.seed,
    steps: req.steps ?? d.steps,
    scheduler: req.scheduler ?? d.scheduler,
    guidance: req.guidance ?? d.guidance,
    width: req.width ?? d.width,
    height: req.height ?? d.height,
    modelSet: req.modelSet ?? settings.modelSet,
    ...(req.attentionMaps ? { attentionMaps: true } : {}),
  };
}

interface Generated {
  spec: GenerateSpec;
  out: GenerateOutput;
  seconds: number;
}

export const generateJob: JobKind<'generate', Generated> = {
  type: 'generate',
  schema: GenerateRequestSchema,

  async run(req, opts, { engine, settings }) {
    const spec = generateSpec(req, settings);
    const t0 = performance.now();
    const out = await engine.generate(spec, opts);
    const seconds = (performance.now() - t0) / 1000;
    opts.onProgress({ phase: 'saving', step: 0, total: 1 });
    return { spec, out, seconds };
  },

  async finish(_req, { spec, out, seconds }, { library, emit, segmentations }) {
    const id = newItemId();
    const params = {
      prompt: spec.prompt,
      negativePrompt: spec.negativePrompt,
      seed: spec.seed,
      steps: out.params.steps,
      scheduler: out.params.scheduler,
      guidance: out.params.guidance,
      width: out.params.width,
      height: out.params.height,
      model: out.params.model || spec.modelSet,
    };
    const item = await library.add(
      { kind: 'generation', id, createdAt: new Date().toISOString(), file: `${id}.png`, width: out.width, height: out.height, params },
      out.png,
    );
    emit({ type: 'library.changed', change: 'added', item });
    const seg = out.segmentation;
    const attention = seg ? toAttentionMaps(segmentations.put({ segmentation: seg, image: out.png, label: id }), seg) : undefined;
    return { kind: 'generate', item, seconds, warnings: out.warnings.slice(0, 32), ...(attention ? { attention } : {}) };
  },
};
