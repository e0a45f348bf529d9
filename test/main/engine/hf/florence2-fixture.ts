/**
 * A tiny stand-in for `onnx-community/Florence-2-base-ft` in the hub repo's file layout, for
 * testing the real transformers.js Florence2ForConditionalGeneration + Florence2Processor path
 * offline. Four ONNX files with the export's I/O names (D = hidden width):
 *
 * - vision_encoder.onnx: pixel_values [batch_size, 3, 768, 768] -> image_features
 *   [batch_size, 16, D]: the mean colour of each cell of a 4x4 grid, in dims C..C+2.
 * - embed_tokens.onnx: input_ids [batch_size, sequence_length] -> inputs_embeds
 *   [batch_size, sequence_length, D]: one-hot of the token's bigram context in dims 0..C-1.
 * - encoder_model.onnx: inputs_embeds, attention_mask -> last_hidden_state (the masked inputs:
 *   image cells followed by the task prompt).
 * - decoder_model_merged.onnx: inputs_embeds, encoder_attention_mask, encoder_hidden_states,
 *   past_key_values.{i}.{decoder,encoder}.{key,value}, use_cache_branch -> logits, present.*:
 *   the current token's bigram row, mixed over red/green/blue tables by the encoder's mean colour.
 *
 * Tokenizer: BART layout (`<s> <pad> </s> <unk>` first), as Florence-2's; generation as its
 * generation_config.json: start `</s>`, forced `<s>`, then the caption of the dominant colour.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GraphBuilder } from '../../../../src/main/engine/onnx/builder.js';
import { DataType } from '../../../../src/main/engine/onnx/dtype.js';
import { emptyGraph, emptyModel, type Model } from '../../../../src/main/engine/onnx/ir.js';
import { writeModel } from '../../../../src/main/engine/onnx/model-io.js';
import { estimateBigrams, type BigramTables } from './bigram.js';
import { wordIds, writeByteLevelTokenizer } from './byte-level-bpe.js';
import { BATCH, OPSET } from './gpt2-decoder.js';
import { corpusWords, fixtureBpe } from './words.js';

/** The caption each dominant colour produces (Florence-2's `<CAPTION>` task). */
export const FLORENCE2_CAPTIONS = {
  red: 'a red apple on a wooden table',
  green: 'a green frog sitting on a leaf',
  blue: 'a blue boat on the sea',
} as const;

const IMAGE = 768;
const GRID = 4;
const N_LAYER = 1;
const N_HEAD = 2;
const HEAD_DIM = 4;
/** Colour classifier sharpness (scores are differences of normalised mean colours). */
const SHARP = 8;

const TASK_PROMPTS = {
  '<OCR>': 'What is the text in the image?',
  '<OCR_WITH_REGION>': 'What is the text in the image, with regions?',
  '<CAPTION>': 'What does the image describe?',
  '<DETAILED_CAPTION>': 'Describe in detail what is shown in the image.',
  '<MORE_DETAILED_CAPTION>': 'Describe with a paragraph what is shown in the image.',
  '<OD>': 'Locate the objects with category name in the image.',
  '<DENSE_REGION_CAPTION>': 'Locate the objects in the image, with their descriptions.',
  '<REGION_PROPOSAL>': 'Locate the region proposals in the image.',
};

function oneHotEmbeddings(tables: BigramTables, hidden: number): Float32Array {
  const e = new Float32Array(tables.vocabSize * hidden);
  for (let t = 0; t < tables.vocabSize; t++) e[t * hidden + tables.contextOf[t]!] = 1;
  return e;
}

function visionEncoder(hidden: number, colourAt: number): Model {
  const g = emptyGraph('florence2_vision_cells');
  const b = new GraphBuilder(g, OPSET);
  const x = b.addInput('pixel_values', DataType.FLOAT, [BATCH, 3, IMAGE, IMAGE]);
  const cell = IMAGE / GRID;
  const pooled = b.op('AveragePool', [x], { kernel_shape: [cell, cell], strides: [cell, cell] });
  const cells = b.transpose(b.op('Reshape', [pooled, b.int64s([0, 3, GRID * GRID], 'shape')]), [0, 2, 1]); // [B, 16, 3]
  const place = new Float32Array(3 * hidden);
  for (let c = 0; c < 3; c++) place[c * hidden + colourAt + c] = 1;
  b.opN('MatMul', [cells, b.initializer('place_colour', DataType.FLOAT, [3, hidden], place)], {}, { outputNames: ['image_features'] });
  b.addOutput('image_features', DataType.FLOAT, [BATCH, GRID * GRID, hidden]);
  return emptyModel(OPSET, g);
}

function embedTokens(tables: BigramTables, hidden: number): Model {
  const g = emptyGraph('florence2_embed_tokens');
  const b = new GraphBuilder(g, OPSET);
  const ids = b.addInput('input_ids', DataType.INT64, [BATCH, 'sequence_length']);
  const table = b.initializer('embed_tokens.weight', DataType.FLOAT, [tables.vocabSize, hidden], oneHotEmbeddings(tables, hidden));
  b.opN('Gather', [table, ids], { axis: 0 }, { outputNames: ['inputs_embeds'] });
  b.addOutput('inputs_embeds', DataType.FLOAT, [BATCH, 'sequence_length', hidden]);
  return emptyModel(OPSET, g);
}

function encoder(hidden: number): Model {
  const g = emptyGraph('florence2_encoder');
  const b = new GraphBuilder(g, OPSET);
  const x = b.addInput('inputs_embeds', DataType.FLOAT, [BATCH, 'encoder_sequence_length', hidden]);
  const mask = b.addInput('attention_mask', DataType.INT64, [BATCH, 'encoder_sequence_length']);
  const m = b.unsqueeze(b.cast(mask, DataType.FLOAT), [2]);
  b.opN('Mul', [x, m], {}, { outputNames: ['last_hidden_state'] });
  b.addOutput('last_hidden_state', DataType.FLOAT, [BATCH, 'encoder_sequence_length', hidden]);
  return emptyModel(OPSET, g);
}

function decoder(tables: BigramTables, hidden: number, colourAt: number): Model {
  const { vocabSize: V, rows: C, classes: K } = tables;
  const g = emptyGraph('florence2_bigram_decoder');
  const b = new GraphBuilder(g, OPSET);
  const x = b.addInput('inputs_embeds', DataType.FLOAT, [BATCH, 'decoder_sequence_length', hidden]);
  b.addInput('encoder_attention_mask', DataType.INT64, [BATCH, 'encoder_sequence_length']);
  const enc = b.addInput('encoder_hidden_states', DataType.FLOAT, [BATCH, 'encoder_sequence_length', hidden]);
  const past: Record<string, string> = {};
  for (let i = 0; i < N_LAYER; i++) {
    for (const side of ['decoder', 'encoder']) {
      for (const kv of ['key', 'value']) {
        const name = `past_key_values.${i}.${side}.${kv}`;
        past[name] = b.addInput(name, DataType.FLOAT, [
          BATCH,
          N_HEAD,
          side === 'decoder' ? 'past_decoder_sequence_length' : 'encoder_sequence_length_out',
          HEAD_DIM,
        ]);
      }
    }
  }
  b.addInput('use_cache_branch', DataType.BOOL, [1]);

  // Logits: bigram row of the token's context (one-hot dims 0..C-1), per colour class, mixed.
  const onehot = b.slice(x, [0], [C], [2]);
  const rows = b.op('MatMul', [onehot, b.initializer('bigram_log_probs', DataType.FLOAT, [C, K * V], tables.logProbs)]);
  const perClass = b.op('Reshape', [rows, b.int64s([0, 0, K, V], 'shape')]);
  const colour = b.reduce('ReduceMean', b.slice(enc, [colourAt], [colourAt + 3], [2]), [1], false); // [B, 3]
  const w = new Float32Array(3 * K);
  for (let k = 0; k < K; k++) for (let c = 0; c < 3; c++) w[c * K + k] = c === k ? SHARP : -SHARP / 2;
  const mix = b.unsqueeze(
    b.op('Softmax', [b.op('MatMul', [colour, b.initializer('class_w', DataType.FLOAT, [3, K], w)])], { axis: -1 }),
    [1, 3],
  );
  b.identity(b.reduceSum(b.op('Mul', [perClass, mix]), [2], false), 'logits');
  b.addOutput('logits', DataType.FLOAT, [BATCH, 'decoder_sequence_length', V]);

  // Cache: decoder side grows by this step's projected embeddings; encoder side is the projected
  // encoder states (transformers.js reuses the first step's for later steps).
  const heads = (v: string, key: string): string => {
    const proj = new Float32Array(hidden * N_HEAD * HEAD_DIM);
    for (let i = 0; i < proj.length; i++) proj[i] = Math.sin(0.7 * i + key.length);
    const p = b.op('MatMul', [v, b.initializer(`${key}_proj`, DataType.FLOAT, [hidden, N_HEAD * HEAD_DIM], proj)]);
    return b.transpose(b.op('Reshape', [p, b.int64s([0, 0, N_HEAD, HEAD_DIM], 'shape')]), [0, 2, 1, 3]);
  };
  for (let i = 0; i < N_LAYER; i++) {
    for (const kv of ['key', 'value']) {
      const d = `present.${i}.decoder.${kv}`;
      b.opN('Concat', [past[`past_key_values.${i}.decoder.${kv}`]!, heads(x, `self_${kv}`)], { axis: 2 }, { outputNames: [d] });
      b.addOutput(d, DataType.FLOAT, [BATCH, N_HEAD, 'past_decoder_sequence_length + decoder_sequence_length', HEAD_DIM]);
      const e = `present.${i}.encoder.${kv}`;
      b.identity(heads(enc, `cross_${kv}`), e);
      b.addOutput(e, DataType.FLOAT, [BATCH, N_HEAD, 'encoder_sequence_length', HEAD_DIM]);
    }
  }
  return emptyModel(OPSET, g);
}

/**
 * Writes the fixture to `<cacheDir>/onnx-community/Florence-2-base-ft` (`layout: 'hub'`, default)
 * or `<cacheDir>/models/florence2-base-ft` (what `models download florence2-base-ft` writes).
 */
export async function writeFlorence2Fixture(cacheDir: string, opts: { layout?: 'hub' | 'manifest' } = {}): Promise<{ dir: string }> {
  const dir =
    opts.layout === 'manifest'
      ? path.join(cacheDir, 'models', 'florence2-base-ft')
      : path.join(cacheDir, 'onnx-community', 'Florence-2-base-ft');
  const captions = Object.values(FLORENCE2_CAPTIONS);
  const bpe = fixtureBpe(corpusWords(captions), 'bart');
  const bos = bpe.bosId;
  const eos = bpe.eosId;
  const pad = bpe.specials.get('<pad>')!;
  // Decoding starts from </s>, and <s> is forced first: the tables see "</s> <s> caption </s>".
  const tables = estimateBigrams(
    captions.map((c) => [[bos, ...wordIds(bpe, c)]]),
    bpe.size,
    eos,
    eos,
  );
  const colourAt = tables.rows;
  const hidden = tables.rows + 3;
  await mkdir(path.join(dir, 'onnx'), { recursive: true });
  await writeByteLevelTokenizer(dir, bpe);
  const ids = { bos_token_id: bos, eos_token_id: eos, pad_token_id: pad, decoder_start_token_id: eos };
  const config = {
    _name_or_path: 'microsoft/Florence-2-base-ft',
    architectures: ['Florence2ForConditionalGeneration'],
    model_type: 'florence2',
    is_encoder_decoder: true,
    projection_dim: hidden,
    vocab_size: bpe.size,
    ...ids,
    text_config: {
      model_type: 'florence2_language',
      vocab_size: bpe.size,
      d_model: hidden,
      encoder_layers: N_LAYER,
      decoder_layers: N_LAYER,
      encoder_attention_heads: N_HEAD,
      decoder_attention_heads: N_HEAD,
      encoder_ffn_dim: 2 * hidden,
      decoder_ffn_dim: 2 * hidden,
      max_position_embeddings: 1024,
      is_encoder_decoder: true,
      forced_bos_token_id: bos,
      forced_eos_token_id: eos,
      ...ids,
    },
    vision_config: {
      model_type: 'davit',
      projection_dim: hidden,
      image_pos_embed: { type: 'learned_abs_2d', max_pos_embeddings: 50 },
      image_feature_source: ['spatial_avg_pool', 'temporal_avg_pool'],
    },
  };
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  await writeFile(
    path.join(dir, 'generation_config.json'),
    JSON.stringify(
      { _from_model_config: true, ...ids, forced_bos_token_id: bos, forced_eos_token_id: eos, no_repeat_ngram_size: 3, num_beams: 3 },
      null,
      2,
    ),
  );
  await writeFile(
    path.join(dir, 'preprocessor_config.json'),
    JSON.stringify(
      {
        processor_class: 'Florence2Processor',
        image_processor_type: 'CLIPImageProcessor',
        do_resize: true,
        size: { height: IMAGE, width: IMAGE },
        resample: 3,
        do_center_crop: false,
        crop_size: { height: IMAGE, width: IMAGE },
        do_rescale: true,
        rescale_factor: 1 / 255,
        do_normalize: true,
        image_mean: [0.485, 0.456, 0.406],
        image_std: [0.229, 0.224, 0.225],
        do_convert_rgb: null,
        image_seq_length: GRID * GRID,
        tasks_answer_post_processing_type: {
          '<OCR>': 'pure_text',
          '<CAPTION>': 'pure_text',
          '<DETAILED_CAPTION>': 'pure_text',
          '<MORE_DETAILED_CAPTION>': 'pure_text',
          '<OD>': 'description_with_bboxes',
        },
        task_prompts_without_inputs: TASK_PROMPTS,
        task_prompts_with_input: { '<CAPTION_TO_PHRASE_GROUNDING>': 'Locate the phrases in the caption: {input}' },
      },
      null,
      2,
    ),
  );
  await writeModel(visionEncoder(hidden, colourAt), path.join(dir, 'onnx', 'vision_encoder.onnx'));
  await writeModel(embedTokens(tables, hidden), path.join(dir, 'onnx', 'embed_tokens.onnx'));
  await writeModel(encoder(hidden), path.join(dir, 'onnx', 'encoder_model.onnx'));
  await writeModel(decoder(tables, hidden, colourAt), path.join(dir, 'onnx', 'decoder_model_merged.onnx'));
  return { dir };
}
