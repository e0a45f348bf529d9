/**
 * VAE: latents <-> images. Latents in the engine are always the *scaled* latents the UNet works
 * on (VAE latent * scaling factor, 0.18215 for SD); images are CHW float32 in [-1, 1].
 */
import { EngineError } from '../errors.js';
import { floatTensor, tensorToFloat32 } from '../runtime/tensors.js';
import type { ModelSet } from './load-model-set.js';

/**
 * Decode a scaled latent [C, h, w] to an image [3, 8h, 8w]: runs vae_decoder on latent / scalingFactor.
 * The result is the decoder's raw output (may leave [-1, 1]; clamp for display).
 */
export async function decodeLatents(ms: ModelSet, latents: Float32Array, h: number, w: number): Promise<Float32Array> {
  const C = ms.io.latentChannels;
  if (latents.length !== C * h * w) throw new EngineError('SHAPE_MISMATCH', `latent has ${latents.length} values, expected ${C}x${h}x${w}`);
  const inv = 1 / ms.io.vaeScalingFactor;
  const z = new Float32Array(latents.length);
  for (let i = 0; i < z.length; i++) z[i] = latents[i]! * inv;
  const out = await ms.vaeDecoder.run({ latent_sample: floatTensor(z, [1, C, h, w], ms.io.vaeDecoderType) }, [
    ms.io.names.vaeDecoderOutput,
  ]);
  const img = tensorToFloat32(out[ms.io.names.vaeDecoderOutput]!);
  if (img.length !== 3 * 64 * h * w)
    throw new EngineError(
      'INVALID_MODEL',
      `vae_decoder returned ${img.length} values for a ${h}x${w} latent (expected 3x${8 * h}x${8 * w})`,
    );
  return img;
}

/**
 * Encode an image [3, H, W] in [-1, 1] (H, W multiples of 8) to the scaled latent
 * [C, H/8, W/8] = latent mean * scalingFactor. Deterministic: our encoders output the mean.
 * @throws EngineError('NOT_INSTALLED') when the model set has no vae_encoder
 */
export async function encodeImage(ms: ModelSet, image: Float32Array, width: number, height: number): Promise<Float32Array> {
  if (!ms.vaeEncoder || !ms.io.vaeEncoderType || !ms.io.names.vaeEncoderOutput) {
    throw new EngineError('NOT_INSTALLED', `model set ${ms.name} has no vae_encoder/model.onnx; add it to ${ms.dir} to encode images`);
  }
  if (width % 8 !== 0 || height % 8 !== 0)
    throw new EngineError('INVALID_ARGUMENT', `image size ${width}x${height} must be a multiple of 8`);
  if (image.length !== 3 * width * height)
    throw new EngineError('SHAPE_MISMATCH', `image has ${image.length} values, expected 3x${height}x${width}`);
  const out = await ms.vaeEncoder.run({ sample: floatTensor(image, [1, 3, height, width], ms.io.vaeEncoderType) }, [
    ms.io.names.vaeEncoderOutput,
  ]);
  const lat = tensorToFloat32(out[ms.io.names.vaeEncoderOutput]!);
  const n = ms.io.latentChannels * (height / 8) * (width / 8);
  // Exports that return [mean, logvar] (8 channels) or a sample: take the first C channels (the mean).
  const res = new Float32Array(n);
  for (let i = 0; i < n; i++) res[i] = lat[i]! * ms.io.vaeScalingFactor;
  return res;
}
