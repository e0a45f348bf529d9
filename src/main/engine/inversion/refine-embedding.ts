/**
 * Inversion phase 2, refinement: encode the start text to c0, build the objective the settings
 * name (pixel, latent or denoise) and refine c against the target, with previews.
 */
import { CancelledError, EngineError } from '../errors.js';
import { imageToPng } from '../image/image-io.js';
import { createDenoiseObjective } from './denoise-objective.js';
import { createRenderer, type Renderer } from './embedding-renderer.js';
import type { InversionModels } from './inversion-models.js';
import type { InvertProgress, TargetImage } from './invert.js';
import { cyclicLr } from './lr-schedule.js';
import { createOptimiser } from './optimiser.js';
import type { InvertSettings } from './presets.js';
import { positionMask, refine, type Objective, type RefineResult } from './refine.js';
import { createSamplerObjective } from './sampler-objective.js';

export interface Refinement {
  refined: RefineResult;
  /** Meaningful positions of the start text (BOS ... EOS). */
  length: number;
  /** Renders embeddings at the target's size with the settings' sampler (the ranking regenerates with it). */
  renderer: Renderer;
}

/**
 * Refine the start text's embedding. Sessions it opens are added to `releases`.
 * @throws EngineError('NUMERIC') when the loss is not finite at the first iteration;
 *   CancelledError when cancelled before the first iteration finished
 */
export async function refineEmbedding(
  m: InversionModels,
  target: TargetImage,
  text: string,
  s: InvertSettings,
  o: { signal?: AbortSignal; emit: (e: InvertProgress) => void; previews: boolean; releases: (() => Promise<void>)[] },
): Promise<Refinement> {
  const { emit } = o;
  emit({ phase: 'encoding', message: text });
  const { embedding: c0, length } = await m.encodePrompt(text);
  const { embedding: uncond } = await m.encodePrompt('');
  const renderer = await createRenderer(m, {
    width: target.width,
    height: target.height,
    steps: s.steps,
    scheduler: s.scheduler,
    guidance: s.guidance,
    seed: s.seed,
    uncond,
  });
  o.releases.push(() => renderer.release());
  const objective = await objectiveFor(m, renderer, target, s);
  o.releases.push(() => objective.release());

  const refined = await refine(c0, objective, {
    iterations: s.iterations,
    optimiser: createOptimiser(s.optimiser, c0.length),
    lr: cyclicLr({ base: s.lrBase, max: s.lrMax, stepsUp: s.lrStepsUp, stepsDown: s.lrStepsDown }),
    mask: positionMask(m.tokens, m.dim, length, s.includePadding),
    snapshotEvery: s.snapshotEvery,
    ...(o.signal ? { signal: o.signal } : {}),
    onProgress: (e) =>
      emit({
        phase: 'refining',
        iteration: e.iteration,
        total: e.total,
        loss: e.loss,
        bestLoss: e.bestLoss,
        lr: e.lr,
        etaSeconds: e.etaSeconds,
      }),
    onIteration: async (it, c) => {
      if (s.previewEvery > 0 && it % s.previewEvery === 0 && o.previews) {
        const img = await renderer.render(c);
        emit({ phase: 'refining', iteration: it, total: s.iterations, previewPng: await imageToPng(img, target.width, target.height) });
      }
    },
  });
  if (refined.snapshots.length === 0) {
    // Nothing finite was ever measured: a NaN/Inf at the first iteration is not a cancellation.
    if (refined.stopped === 'non-finite') {
      throw new EngineError(
        'NUMERIC',
        `the ${s.objective} loss is not finite at the first iteration, so there is nothing to refine or keep ` +
          `(the start text or the image gives NaN/Inf through the model); try another start text or objective`,
      );
    }
    throw new CancelledError('cancelled before the first iteration finished');
  }
  return { refined, length, renderer };
}

async function objectiveFor(
  m: InversionModels,
  renderer: Renderer,
  target: TargetImage,
  s: InvertSettings,
): Promise<Objective & { release(): Promise<void> }> {
  if (s.objective === 'pixel') return createSamplerObjective(m, renderer, { kind: 'pixel', target: target.data });
  if (!m.encodeLatent)
    throw new EngineError('MODEL_FOLDER', `the ${s.objective} objective needs a VAE encoder (vae_encoder/model.onnx) in the model folder`);
  const targetLatent = await m.encodeLatent(target);
  return s.objective === 'latent'
    ? createSamplerObjective(m, renderer, { kind: 'latent', target: targetLatent })
    : createDenoiseObjective(m, { targetLatent, width: target.width, height: target.height, seed: s.seed });
}
