/**
 * Writing the trained shapes set in the public diffusers ONNX layout (DESIGN §3), with fp16
 * storage (half-precision initializers + Cast to float32, float32 I/O), plus the world's CLIP
 * and captioner in their own folders:
 *
 *   model_index.json              + `_inversion_studio` stamp (generator 'shapes', defaults, sizes)
 *   tokenizer/                    CLIP-format BPE over the world's vocabulary
 *   text_encoder/model.onnx       input_ids int32 [B,77] -> last_hidden_state [B,77,128]
 *   unet/model.onnx               sample [B,4,h,w], timestep int64 [B], encoder_hidden_states [B,77,128] -> out_sample
 *   vae_encoder/, vae_decoder/    model.onnx + config.json (scaling_factor)
 *   scheduler/scheduler_config.json   SD 1.5's
 *   clip/                         image_encoder.onnx, text_encoder.onnx, config.json
 *   captioner/                    model.onnx, config.json
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeModel } from '../../onnx/model-io.js';
import type { Model } from '../../onnx/ir.js';
import { SD15_SCHEDULER_CONFIG } from '../../diffusion/schedulers/index.js';
import { writeTokenizerFiles, type TrainedBpe } from '../../diffusion/tokenizer/index.js';
import type { GenerationDefaults } from '../../diffusion/load-model-set.js';
import { ParamSet } from '../../training/params.js';
import { buildUnetModel } from '../demo/unet.js';
import type { ShapesArchitecture } from './architecture.js';
import { buildCaptionerModel, captionerConfig } from './captioner.js';
import { buildClipImageEncoder, buildClipTextEncoder, clipConfig, LOGIT_SCALE_PARAM } from './clip.js';
import { loadInto } from './recipes/frozen.js';
import { shapesUnetOptions } from './recipes/unet.js';
import { buildShapesTextEncoder } from './text.js';
import { buildShapesVaeDecoder, buildShapesVaeEncoder } from './vae.js';
import { SHAPES_GENERATOR_VERSION, SHAPES_MODEL_ID, type ShapesStamp } from './stamp.js';

export interface TrainedShapesSet {
  arch: ShapesArchitecture;
  bpe: TrainedBpe;
  /** Text encoder at 77 positions (+ `text_projection.weight`). */
  text: ParamSet;
  /** CLIP image tower (+ `logit_scale.weight`). */
  clipImage: ParamSet;
  vae: ParamSet;
  scalingFactor: number;
  /** The UNet's EMA weights. */
  unet: ParamSet;
  captioner: ParamSet;
  defaults: GenerationDefaults;
  /** Free-form facts recorded in the stamp (training config name, measured accuracies). */
  training: Record<string, unknown>;
}

async function json(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(value, null, 2) + '\n');
}

async function onnx(model: Model, file: string): Promise<void> {
  await writeModel(model, file, { onWarning: (m) => console.warn(m) });
}

/** Size multiple of image sides: 8 (VAE) x 2 per UNet downsampling. */
export function shapesSizeMultiple(arch: ShapesArchitecture): number {
  return 8 * 2 ** (arch.unet.channels.length - 1);
}

/** Write the whole set into `dir` (created; existing files overwritten). */
export async function writeShapesSet(dir: string, t: TrainedShapesSet): Promise<void> {
  const fp16 = 'float16' as const;
  const a = t.arch;
  const vocabSize = Math.max(...Object.values(t.bpe.vocab)) + 1;
  await writeTokenizerFiles(path.join(dir, 'tokenizer'), t.bpe);
  await onnx(loadInto(buildShapesTextEncoder({ vocabSize, ...a.text, maxLength: 77, weights: fp16 }), t.text), path.join(dir, 'text_encoder', 'model.onnx'));
  await onnx(loadInto(buildUnetModel(shapesUnetOptions(a, fp16)), t.unet), path.join(dir, 'unet', 'model.onnx'));
  const vaeConfig = {
    _class_name: 'AutoencoderKL',
    scaling_factor: t.scalingFactor,
    latent_channels: a.vae.latentChannels,
    in_channels: 3,
    out_channels: 3,
    sample_size: 64,
    block_out_channels: a.vae.channels,
    layers_per_block: a.vae.resnets,
    norm_num_groups: a.vae.groups,
    _inversion_studio: 'vae_encoder returns the posterior mean (deterministic); latents are unscaled (multiply by scaling_factor for the UNet)',
  };
  await onnx(loadInto(buildShapesVaeEncoder({ ...a.vae, weights: fp16 }), t.vae), path.join(dir, 'vae_encoder', 'model.onnx'));
  await json(path.join(dir, 'vae_encoder', 'config.json'), vaeConfig);
  await onnx(loadInto(buildShapesVaeDecoder({ ...a.vae, weights: fp16 }), t.vae), path.join(dir, 'vae_decoder', 'model.onnx'));
  await json(path.join(dir, 'vae_decoder', 'config.json'), vaeConfig);
  await json(path.join(dir, 'scheduler', 'scheduler_config.json'), { ...SD15_SCHEDULER_CONFIG, _class_name: 'PNDMScheduler', _diffusers_version: '0.30.0', skip_prk_steps: true });

  await onnx(loadInto(buildClipImageEncoder(a, { weights: fp16 }), t.clipImage), path.join(dir, 'clip', 'image_encoder.onnx'));
  await onnx(loadInto(buildClipTextEncoder(a, vocabSize, { weights: fp16 }), t.text), path.join(dir, 'clip', 'text_encoder.onnx'));
  await json(path.join(dir, 'clip', 'config.json'), clipConfig(a, t.clipImage.get(LOGIT_SCALE_PARAM).values[0]!));
  await onnx(loadInto(buildCaptionerModel(a.captioner, { weights: fp16 }), t.captioner), path.join(dir, 'captioner', 'model.onnx'));
  await json(path.join(dir, 'captioner', 'config.json'), captionerConfig());

  const stamp: ShapesStamp = {
    generator: 'shapes',
    version: SHAPES_GENERATOR_VERSION,
    name: SHAPES_MODEL_ID,
    defaults: t.defaults,
    sizeMultiple: shapesSizeMultiple(a),
    nativeSize: 64,
    components: { clip: 'clip/config.json', captioner: 'captioner/config.json' },
    training: t.training,
  };
  await json(path.join(dir, 'model_index.json'), {
    _class_name: 'OnnxStableDiffusionPipeline',
    _diffusers_version: '0.30.0',
    _inversion_studio: stamp,
    feature_extractor: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ['diffusers', 'PNDMScheduler'],
    text_encoder: ['diffusers', 'OnnxRuntimeModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'OnnxRuntimeModel'],
    vae_decoder: ['diffusers', 'OnnxRuntimeModel'],
    vae_encoder: ['diffusers', 'OnnxRuntimeModel'],
  });
}
