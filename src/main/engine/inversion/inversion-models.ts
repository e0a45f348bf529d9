/**
 * What the inversion engine needs from a loaded model set. The diffusion engine's model-set
 * loader provides it (see diffusion/load-model-set.ts); tests may assemble one directly.
 */
import type * as ort from 'onnxruntime-node';
import type { DiffusersSchedulerConfig } from '../diffusion/schedulers/index.js';
import type { TokenizerLike } from '../e2t/text-encoder-oracle.js';
import type { Model } from '../onnx/ir.js';

export interface InversionModels {
  /** Display name / id of the model set (recorded in results). */
  name: string;
  /** Graph IR of each component, as read from disk (external weights stay there). */
  unet: Model;
  vaeDecoder: Model;
  vaeEncoder?: Model;
  textEncoder: Model;
  tokenizer: TokenizerLike;
  scheduler: DiffusersSchedulerConfig;
  /** Text tokens (77) and text-encoder width (768 for SD 1.x). */
  tokens: number;
  dim: number;
  /** Latent channels (4) and the VAE's spatial factor (8). */
  latentChannels: number;
  vaeFactor: number;
  /** Latents are scaled by this before the UNet (0.18215 for SD 1.x). */
  latentScale: number;
  /** Native resolution (512 for SD 1.5): targets are resized to it. */
  defaultSize: number;
  sessionOptions?: ort.InferenceSession.SessionOptions;
  /** Text-encoder output [tokens * dim] for a prompt, and its token count incl. BOS/EOS. */
  encodePrompt(text: string): Promise<{ embedding: Float32Array; length: number }>;
  /**
   * Scaled latent mean [C * H/8 * W/8] of an image (CHW [-1,1]); absent when the model set has
   * no VAE encoder (then only the pixel objective is available).
   */
  encodeLatent?(image: { data: Float32Array; width: number; height: number }): Promise<Float32Array>;
}
