/**
 * Adapt a loaded diffusion model set to what the inversion engine needs: the graph IR of each
 * component (read from the same folder; external weights stay on disk), prompt encoding and
 * VAE encoding through the set's own sessions, and session options for the same provider.
 */
import path from 'node:path';
import { encodeWeightedPrompt } from '../diffusion/prompt-weights.js';
import { encodeImage } from '../diffusion/vae.js';
import type { ModelSet } from '../diffusion/load-model-set.js';
import { readModel } from '../onnx/model-io.js';
import { sessionOptions } from '../runtime/session.js';
import type { InversionModels } from './inversion-models.js';

export async function inversionModelsFromSet(ms: ModelSet): Promise<InversionModels> {
  const read = (component: string) => readModel(path.join(ms.dir, component, 'model.onnx'));
  const [unet, vaeDecoder, textEncoder] = await Promise.all([read('unet'), read('vae_decoder'), read('text_encoder')]);
  return {
    name: ms.name,
    unet,
    vaeDecoder,
    textEncoder,
    tokenizer: ms.tokenizer,
    scheduler: ms.schedulerConfig,
    tokens: ms.io.sequenceLength,
    dim: ms.io.hiddenSize,
    latentChannels: ms.io.latentChannels,
    vaeFactor: 8,
    latentScale: ms.io.vaeScalingFactor,
    defaultSize: ms.defaults.width,
    sessionOptions: sessionOptions(ms.provider),
    // As generate() does, so a start text or candidate renders here as it does there.
    async encodePrompt(text) {
      const e = await encodeWeightedPrompt(ms, text);
      return { embedding: e.embedding, length: e.length };
    },
    ...(ms.vaeEncoder
      ? { encodeLatent: (img: { data: Float32Array; width: number; height: number }) => encodeImage(ms, img.data, img.width, img.height) }
      : {}),
  };
}
