/**
 * A tiny stand-in for `Xenova/vit-gpt2-image-captioning` in the hub repo's file layout, for
 * testing the real transformers.js image-to-text pipeline offline.
 *
 * - onnx/encoder_model.onnx: pixel_values [batch_size, 3, 224, 224] -> last_hidden_state
 *   [batch_size, 197, 8], ViT-shaped (16x16 patches + a class token). Each patch token holds the
 *   patch's mean R, G, B (in the processor's [-1, 1] range) and brightness; the class token is
 *   their mean.
 * - onnx/decoder_model_merged.onnx: GPT-2 decoder I/O (input_ids, encoder_hidden_states,
 *   past_key_values.*, use_cache_branch -> logits, present.*). It averages the encoder states
 *   (a uniform cross-attention), scores the mean colour against red/green/blue and mixes three
 *   bigram tables, one per colour, each estimated from one caption. Greedy decoding therefore
 *   writes the caption of the image's dominant colour.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GraphBuilder } from '../../../../src/main/engine/onnx/builder.js';
import { DataType } from '../../../../src/main/engine/onnx/dtype.js';
import { emptyGraph, emptyModel, type Model } from '../../../../src/main/engine/onnx/ir.js';
import { writeModel } from '../../../../src/main/engine/onnx/model-io.js';
import { estimateBigrams } from './bigram.js';
import { wordIds, writeByteLevelTokenizer } from './byte-level-bpe.js';
import { BATCH, buildGpt2Decoder, gpt2ConfigFields, OPSET } from './gpt2-decoder.js';
import { corpusWords, fixtureBpe } from './words.js';

/** The caption each dominant colour produces. */
export const VIT_GPT2_CAPTIONS = {
  red: 'a red cat sleeping on a sofa',
  green: 'a green frog on a leaf',
  blue: 'a blue boat on the sea',
} as const;

const IMAGE = 224;
const PATCH = 16;
const HIDDEN = 8;

/** ViT-shaped encoder: per-patch mean colour and brightness, plus their mean as the class token. */
export function buildColourEncoder(): Model {
  const g = emptyGraph('vit_colour_encoder');
  const b = new GraphBuilder(g, OPSET);
  const x = b.addInput('pixel_values', DataType.FLOAT, [BATCH, 3, IMAGE, IMAGE]);
  const w = new Float32Array(HIDDEN * 3 * PATCH * PATCH);
  const area = PATCH * PATCH;
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < area; i++) {
      w[(c * 3 + c) * area + i] = 1 / area; // channel c: mean of colour c
      w[(3 * 3 + c) * area + i] = 1 / (3 * area); // channel 3: brightness
    }
  }
  const conv = b.op('Conv', [x, b.initializer('patch_embed', DataType.FLOAT, [HIDDEN, 3, PATCH, PATCH], w)], {
    kernel_shape: [PATCH, PATCH],
    strides: [PATCH, PATCH],
  });
  const patches = b.transpose(b.op('Reshape', [conv, b.int64s([0, HIDDEN, -1], 'shape')]), [0, 2, 1]); // [B, 196, H]
  const cls = b.reduce('ReduceMean', patches, [1], true);
  b.opN('Concat', [cls, patches], { axis: 1 }, { outputNames: ['last_hidden_state'] });
  const tokens = (IMAGE / PATCH) ** 2 + 1;
  b.addOutput('last_hidden_state', DataType.FLOAT, [BATCH, tokens, HIDDEN]);
  return emptyModel(OPSET, g);
}

export interface VitGpt2Fixture {
  dir: string;
}

/**
 * Writes the fixture to `<cacheDir>/Xenova/vit-gpt2-image-captioning` (`layout: 'hub'`, default)
 * or `<cacheDir>/models/vit-gpt2` (what `models download vit-gpt2` writes).
 */
export async function writeVitGpt2Fixture(cacheDir: string, opts: { layout?: 'hub' | 'manifest' } = {}): Promise<VitGpt2Fixture> {
  const dir =
    opts.layout === 'manifest' ? path.join(cacheDir, 'models', 'vit-gpt2') : path.join(cacheDir, 'Xenova', 'vit-gpt2-image-captioning');
  const captions = Object.values(VIT_GPT2_CAPTIONS);
  const bpe = fixtureBpe(corpusWords(captions));
  const tables = estimateBigrams(
    captions.map((c) => [wordIds(bpe, c)]),
    bpe.size,
    bpe.eosId,
    bpe.eosId,
  );
  const nLayer = 2;
  const nHead = 2;
  const headDim = 4;
  // Scores of the mean encoder state (R, G, B, brightness, 0...) per class, same order as captions.
  const sharp = 8;
  const classWeights = [0, 1, 2].map((k) => Array.from({ length: HIDDEN }, (_, d) => (d < 3 ? (d === k ? sharp : -sharp / 2) : 0)));
  await mkdir(path.join(dir, 'onnx'), { recursive: true });
  await writeByteLevelTokenizer(dir, bpe);
  const eos = bpe.eosId;
  const config = {
    _name_or_path: 'nlpconnect/vit-gpt2-image-captioning',
    architectures: ['VisionEncoderDecoderModel'],
    bos_token_id: eos,
    decoder: {
      ...gpt2ConfigFields(bpe.size, nLayer, nHead, headDim),
      add_cross_attention: true,
      is_decoder: true,
      architectures: ['GPT2LMHeadModel'],
      decoder_start_token_id: eos,
      pad_token_id: eos,
    },
    decoder_start_token_id: eos,
    encoder: {
      model_type: 'vit',
      architectures: ['ViTModel'],
      hidden_size: HIDDEN,
      image_size: IMAGE,
      patch_size: PATCH,
      num_channels: 3,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 2 * HIDDEN,
      hidden_act: 'gelu',
      layer_norm_eps: 1e-12,
      qkv_bias: true,
    },
    eos_token_id: eos,
    is_encoder_decoder: true,
    model_type: 'vision-encoder-decoder',
    pad_token_id: eos,
    tie_word_embeddings: false,
  };
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  await writeFile(
    path.join(dir, 'generation_config.json'),
    JSON.stringify(
      { _from_model_config: true, bos_token_id: eos, decoder_start_token_id: eos, eos_token_id: eos, pad_token_id: eos },
      null,
      2,
    ),
  );
  await writeFile(
    path.join(dir, 'preprocessor_config.json'),
    JSON.stringify(
      {
        do_normalize: true,
        do_resize: true,
        feature_extractor_type: 'ViTFeatureExtractor',
        image_mean: [0.5, 0.5, 0.5],
        image_std: [0.5, 0.5, 0.5],
        resample: 2,
        size: IMAGE,
      },
      null,
      2,
    ),
  );
  await writeModel(buildColourEncoder(), path.join(dir, 'onnx', 'encoder_model.onnx'));
  const decoder = buildGpt2Decoder({
    tables,
    nLayer,
    nHead,
    headDim,
    positionIds: false,
    useCacheBranch: true,
    cross: { encoderHidden: HIDDEN, classWeights },
  });
  await writeModel(decoder, path.join(dir, 'onnx', 'decoder_model_merged.onnx'));
  return { dir };
}
