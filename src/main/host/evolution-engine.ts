/**
 * The real engine's evolution backend (EngineAdapter.evolutionBackend): concepts/evolution's
 * modelSetBackend on a loaded model set, with the set's own language model for mutations and
 * decoding, the installed captioner and CLIP for re-inversions, and the fitness factory of the
 * stored fitness kinds (checker; CLIP image similarity with the loaded scorer; CLIP text). The
 * helper models stay in the engine's OptionalModelCache between jobs.
 */
import {
  assetPath,
  checkerFitness,
  clipFitness,
  modelSetBackend,
  textFitness,
  type FitnessFactory,
} from '../engine/concepts/evolution/index.js';
import type { ModelSet } from '../engine/diffusion/load-model-set.js';
import { EngineError } from '../engine/errors.js';
import { loadImage } from '../engine/image/image-io.js';
import { resolveOptionalModels, type OptionalModelCache } from '../engine/inversion/optional-models.js';
import type { EvolutionBackendHandle } from './engine-adapter.js';

/**
 * The backend of one evolution job on `ms`.
 * @throws EngineError('NOT_INSTALLED') when `needs.clip` and no CLIP is installed
 */
export async function evolutionBackendFor(
  ms: ModelSet,
  needs: { clip?: boolean },
  env: { cacheDir: string; optional?: OptionalModelCache },
): Promise<EvolutionBackendHandle> {
  const helpers = await resolveOptionalModels(
    { cacheDir: env.cacheDir, modelSetDir: ms.dir, choices: { captioner: 'auto', clip: needs.clip ? 'require' : 'auto', lm: 'own' } },
    env.optional,
  );
  const backend = modelSetBackend(ms, {
    ...(helpers.lm ? { lm: helpers.lm } : {}),
    ...(helpers.scorer ? { scorer: helpers.scorer } : {}),
    ...(helpers.captioner ? { invertInit: { kind: 'caption', cacheDir: env.cacheDir, offline: true, instance: helpers.captioner } } : {}),
  });
  const fitnessFactory: FitnessFactory = async (spec, sessionDir) => {
    if (spec.kind === 'checker') return checkerFitness(spec.prompt);
    if (spec.kind === 'text') return textFitness(spec.text, { cacheDir: env.cacheDir });
    if (!helpers.scorer)
      throw new EngineError(
        'NOT_INSTALLED',
        "this session's fitness is CLIP image similarity, and no CLIP is installed: install it with `inversion-studio models download clip-vit-l14`, or breed from picks",
      );
    // CLIP crops and resizes on its own: the target at its stored size.
    const target = await loadImage(assetPath(sessionDir, spec.image));
    return clipFitness({ data: target.data, width: target.width, height: target.height }, helpers.scorer);
  };
  return {
    backend,
    fitnessFactory,
    warnings: helpers.warnings,
    async release() {
      await backend.release();
      if (!env.optional) await helpers.release();
    },
  };
}
