/**
 * A tiny stand-in for `Xenova/clip-vit-large-patch14` (vision tower only) in the hub repo's file
 * layout, for testing the real transformers.js CLIPVisionModelWithProjection + AutoProcessor path.
 *
 * onnx/vision_model.onnx: pixel_values [batch_size, 3, 224, 224] -> image_embeds
 * [batch_size, 32] and last_hidden_state [batch_size, 17, 3]. The embedding is a fixed random
 * projection of the 4x4-cell average-pooled, CLIP-normalised pixels, so images that look alike
 * embed alike; last_hidden_state holds the 16 cell colours after a mean "class" token.
 * preprocessor_config.json is CLIP's (resize 224, centre crop 224, CLIP mean/std).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GraphBuilder } from '../../../../src/main/engine/onnx/builder.js';
import { DataType } from '../../../../src/main/engine/onnx/dtype.js';
import { emptyGraph, emptyModel, type Model } from '../../../../src/main/engine/onnx/ir.js';
import { writeModel } from '../../../../src/main/engine/onnx/model-io.js';
import { normals } from '../../../../src/main/engine/models/demo/prng.js';
import { BATCH, OPSET } from './gpt2-decoder.js';

export const CLIP_FIXTURE_EMBED_DIM = 32;
const IMAGE = 224;
const GRID = 4;

export function buildClipVisionModel(seed = 0): Model {
  const g = emptyGraph('clip_vision_pooled_projection');
  const b = new GraphBuilder(g, OPSET);
  const x = b.addInput('pixel_values', DataType.FLOAT, [BATCH, 3, IMAGE, IMAGE]);
  const cell = IMAGE / GRID;
  const pooled = b.op('AveragePool', [x], { kernel_shape: [cell, cell], strides: [cell, cell] }); // [B, 3, 4, 4]
  const features = 3 * GRID * GRID;
  const flat = b.op('Reshape', [pooled, b.int64s([0, features], 'shape')]);
  const proj = normals(seed, 'visual_projection', features * CLIP_FIXTURE_EMBED_DIM, 1 / Math.sqrt(features));
  b.opN(
    'MatMul',
    [flat, b.initializer('visual_projection', DataType.FLOAT, [features, CLIP_FIXTURE_EMBED_DIM], proj)],
    {},
    { outputNames: ['image_embeds'] },
  );
  b.addOutput('image_embeds', DataType.FLOAT, [BATCH, CLIP_FIXTURE_EMBED_DIM]);
  const cells = b.transpose(b.op('Reshape', [pooled, b.int64s([0, 3, GRID * GRID], 'shape')]), [0, 2, 1]); // [B, 16, 3]
  b.opN('Concat', [b.reduce('ReduceMean', cells, [1], true), cells], { axis: 1 }, { outputNames: ['last_hidden_state'] });
  b.addOutput('last_hidden_state', DataType.FLOAT, [BATCH, GRID * GRID + 1, 3]);
  return emptyModel(OPSET, g);
}

/**
 * Writes the fixture to `<cacheDir>/Xenova/clip-vit-large-patch14` (`layout: 'hub'`, default) or
 * `<cacheDir>/models/clip-vit-l14` (what `models download clip-vit-l14` writes).
 */
export async function writeClipVisionFixture(
  cacheDir: string,
  opts: { layout?: 'hub' | 'manifest'; seed?: number } = {},
): Promise<{ dir: string }> {
  const dir =
    opts.layout === 'manifest' ? path.join(cacheDir, 'models', 'clip-vit-l14') : path.join(cacheDir, 'Xenova', 'clip-vit-large-patch14');
  await mkdir(path.join(dir, 'onnx'), { recursive: true });
  const config = {
    _name_or_path: 'openai/clip-vit-large-patch14',
    architectures: ['CLIPModel'],
    initializer_factor: 1.0,
    logit_scale_init_value: 2.6592,
    model_type: 'clip',
    projection_dim: CLIP_FIXTURE_EMBED_DIM,
    text_config: {
      model_type: 'clip_text_model',
      hidden_size: 8,
      intermediate_size: 16,
      num_attention_heads: 2,
      num_hidden_layers: 1,
      projection_dim: CLIP_FIXTURE_EMBED_DIM,
      vocab_size: 49408,
      max_position_embeddings: 77,
    },
    vision_config: {
      model_type: 'clip_vision_model',
      hidden_size: 3,
      image_size: IMAGE,
      intermediate_size: 6,
      num_attention_heads: 1,
      num_hidden_layers: 1,
      patch_size: IMAGE / GRID,
      projection_dim: CLIP_FIXTURE_EMBED_DIM,
    },
  };
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  await writeFile(
    path.join(dir, 'preprocessor_config.json'),
    JSON.stringify(
      {
        crop_size: IMAGE,
        do_center_crop: true,
        do_normalize: true,
        do_resize: true,
        feature_extractor_type: 'CLIPFeatureExtractor',
        image_mean: [0.48145466, 0.4578275, 0.40821073],
        image_std: [0.26862954, 0.26130258, 0.27577711],
        resample: 3,
        size: IMAGE,
      },
      null,
      2,
    ),
  );
  await writeModel(buildClipVisionModel(opts.seed ?? 0), path.join(dir, 'onnx', 'vision_model.onnx'));
  return { dir };
}
