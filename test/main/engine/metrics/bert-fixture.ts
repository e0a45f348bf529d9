/**
 * A tiny BERT in the layout of an optimum / transformers.js export (`onnx/model.onnx`,
 * `tokenizer.json` with a WordPiece model and the [CLS] $A [SEP] template, `tokenizer_config.json`,
 * `config.json`), with node names as torch.onnx gives them (`/embeddings/LayerNorm/...`,
 * `/encoder/layer.{k}/attention/output/LayerNorm/...`, `/encoder/layer.{k}/output/LayerNorm/...`).
 * Inputs input_ids, attention_mask, token_type_ids (int64 [batch, sequence]); output
 * last_hidden_state. Each "layer" is a residual linear map and a tanh MLP, each followed by a
 * LayerNorm, so every layer's output differs.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GraphBuilder } from '../../../../src/main/engine/onnx/builder.js';
import { DataType } from '../../../../src/main/engine/onnx/dtype.js';
import { emptyGraph, emptyModel, type Model } from '../../../../src/main/engine/onnx/ir.js';
import { writeModel } from '../../../../src/main/engine/onnx/model-io.js';

export const VOCAB = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[MASK]',
  'a',
  'red',
  'cat',
  'on',
  'the',
  'sofa',
  'blue',
  'dog',
  '##s',
  'small',
  'big',
  'car',
];
export const DIM = 8;

function values(n: number, seed: number, scale = 0.5): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(seed * 3.7 + i * 0.91) * scale);
}

/** The graph; `named: false` gives LayerNormalization nodes generic names (the count fallback). */
export function buildBertModel(layers: number, o: { named?: boolean } = {}): Model {
  const named = o.named ?? true;
  const g = emptyGraph('bert');
  const b = new GraphBuilder(g, 17);
  const ids = b.addInput('input_ids', DataType.INT64, ['batch_size', 'sequence_length']);
  const mask = b.addInput('attention_mask', DataType.INT64, ['batch_size', 'sequence_length']);
  const types = b.addInput('token_type_ids', DataType.INT64, ['batch_size', 'sequence_length']);
  const word = b.op('Gather', [
    b.initializer('embeddings.word_embeddings.weight', DataType.FLOAT, [VOCAB.length, DIM], values(VOCAB.length * DIM, 1, 1)),
    ids,
  ]);
  const type = b.op('Gather', [
    b.initializer('embeddings.token_type_embeddings.weight', DataType.FLOAT, [2, DIM], values(2 * DIM, 2)),
    types,
  ]);
  const seq = b.op('Unsqueeze', [
    b.op('Gather', [b.op('Shape', [ids]), b.initializer('one_i', DataType.INT64, [], [1])]),
    b.int64s([0], 'axes0'),
  ]);
  const pos = b.op('Slice', [
    b.initializer('embeddings.position_embeddings.weight', DataType.FLOAT, [64, DIM], values(64 * DIM, 3, 0.3)),
    b.int64s([0], 'start'),
    seq,
    b.int64s([0], 'axis'),
  ]);
  const maskF = b.op('Unsqueeze', [b.cast(mask, DataType.FLOAT), b.int64s([2], 'axes2')]);
  const ln = (x: string, name: string, seed: number): string =>
    b.op(
      'LayerNormalization',
      [
        x,
        b.initializer(
          `${name}.weight`,
          DataType.FLOAT,
          [DIM],
          values(DIM, seed, 0.2).map((v) => 1 + v),
        ),
        b.initializer(`${name}.bias`, DataType.FLOAT, [DIM], values(DIM, seed + 1, 0.1)),
      ],
      { axis: -1, epsilon: 1e-12 },
      {
        name: named ? `/${name.replaceAll('.', '/').replace(/layer\/(\d+)/, 'layer.$1')}/LayerNormalization` : 'LayerNormalization',
      },
    );
  let h = ln(b.op('Mul', [b.op('Add', [b.op('Add', [word, type]), pos]), maskF]), 'embeddings.LayerNorm', 10);
  for (let k = 0; k < layers; k++) {
    const a = b.op('MatMul', [
      h,
      b.initializer(`encoder.layer.${k}.attention.weight`, DataType.FLOAT, [DIM, DIM], values(DIM * DIM, 20 + k)),
    ]);
    h = ln(b.op('Add', [h, a]), `encoder.layer.${k}.attention.output.LayerNorm`, 30 + k);
    const f = b.op('MatMul', [
      b.op('Tanh', [
        b.op('MatMul', [
          h,
          b.initializer(`encoder.layer.${k}.intermediate.weight`, DataType.FLOAT, [DIM, 2 * DIM], values(2 * DIM * DIM, 40 + k)),
        ]),
      ]),
      b.initializer(`encoder.layer.${k}.output.weight`, DataType.FLOAT, [2 * DIM, DIM], values(2 * DIM * DIM, 50 + k)),
    ]);
    h = ln(b.op('Add', [h, f]), `encoder.layer.${k}.output.LayerNorm`, 60 + k);
  }
  b.identity(h, 'last_hidden_state');
  b.addOutput('last_hidden_state', DataType.FLOAT, ['batch_size', 'sequence_length', DIM]);
  return emptyModel(17, g);
}

function tokenizerJson(): unknown {
  const special = (content: string, id: number) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: VOCAB.slice(0, 5).map((t, i) => special(t, i)),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(VOCAB.map((t, i) => [t, i])),
    },
  };
}

/** Write the folder; returns the model it holds. */
export async function writeBertFixture(dir: string, layers: number, o: { named?: boolean } = {}): Promise<Model> {
  await mkdir(path.join(dir, 'onnx'), { recursive: true });
  const model = buildBertModel(layers, o);
  await writeModel(model, path.join(dir, 'onnx', 'model.onnx'));
  await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
  await writeFile(
    path.join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      tokenizer_class: 'BertTokenizer',
      do_lower_case: true,
      model_max_length: 512,
      cls_token: '[CLS]',
      sep_token: '[SEP]',
      pad_token: '[PAD]',
      unk_token: '[UNK]',
      mask_token: '[MASK]',
    }),
  );
  await writeFile(
    path.join(dir, 'config.json'),
    JSON.stringify({ model_type: 'bert', hidden_size: DIM, num_hidden_layers: layers, vocab_size: VOCAB.length }),
  );
  return model;
}
