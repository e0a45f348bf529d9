/**
 * Trained networks as inference sessions for later phases (the frozen text encoder and VAE while
 * the UNet trains, the VAE round trip the captioner learns to read): build the architecture in
 * float32, write the trained values into it, open it in onnxruntime.
 */
import * as ort from 'onnxruntime-node';
import type { Model } from '../../../onnx/ir.js';
import { EngineError } from '../../../errors.js';
import { sessionFromModel } from '../../../runtime/session-from-model.js';
import { paramsOf, writeParams, type ParamSet } from '../../../training/params.js';
import type { ShapesArchitecture } from '../architecture.js';
import { buildShapesTextEncoder } from '../text.js';
import { buildShapesVaeDecoder, buildShapesVaeEncoder } from '../vae.js';

/**
 * Write every parameter `model` has from `params` (in place; float16 initializers get half bits).
 * @throws EngineError('INVALID_ARGUMENT') when `params` lacks one of the model's parameters
 */
export function loadInto(model: Model, params: ParamSet): Model {
  const wanted = paramsOf(model).names;
  const missing = wanted.filter((n) => !params.has(n));
  if (missing.length) throw new EngineError('INVALID_ARGUMENT', `trained parameters lack ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
  writeParams(model, wanted.map((n) => params.get(n)));
  return model;
}

/** The trained VAE: `encode` returns posterior means (unscaled), `decode` images in [-1, 1] (unclamped). */
export interface FrozenVae {
  encode(images: Float32Array, n: number): Promise<Float32Array>;
  decode(latents: Float32Array, n: number): Promise<Float32Array>;
  release(): Promise<void>;
}

export async function frozenVae(arch: ShapesArchitecture, params: ParamSet): Promise<FrozenVae> {
  const enc = await sessionFromModel(loadInto(buildShapesVaeEncoder(arch.vae), params));
  const dec = await sessionFromModel(loadInto(buildShapesVaeDecoder(arch.vae), params));
  const c = arch.vae.latentChannels;
  return {
    async encode(images, n) {
      const r = await enc.run({ sample: new ort.Tensor('float32', images, [n, 3, 64, 64]) });
      return r['latent_sample']!.data as Float32Array;
    },
    async decode(latents, n) {
      const r = await dec.run({ latent_sample: new ort.Tensor('float32', latents, [n, c, 8, 8]) });
      return r['sample']!.data as Float32Array;
    },
    async release() {
      await enc.release();
      await dec.release();
    },
  };
}

/** The trained text encoder at 77 positions: ids [n, 77] -> last_hidden_state [n, 77, D]. */
export interface FrozenTextEncoder {
  encode(ids: Int32Array, n: number): Promise<Float32Array>;
  release(): Promise<void>;
}

export async function frozenTextEncoder(arch: ShapesArchitecture, vocabSize: number, params: ParamSet): Promise<FrozenTextEncoder> {
  const s = await sessionFromModel(loadInto(buildShapesTextEncoder({ vocabSize, ...arch.text, maxLength: 77 }), params));
  return {
    async encode(ids, n) {
      const r = await s.run({ input_ids: new ort.Tensor('int32', ids, [n, 77]) });
      return r['last_hidden_state']!.data as Float32Array;
    },
    release: () => s.release(),
  };
}
