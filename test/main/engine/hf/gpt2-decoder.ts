/**
 * A GPT-2 decoder ONNX graph with the I/O of the optimum/transformers.js exports, whose logits
 * come from bigram tables instead of transformer layers (test fixtures only).
 *
 * Inputs (as `decoder_model_merged.onnx`):
 *   input_ids int64 [batch_size, sequence_length]
 *   attention_mask int64 [batch_size, past_sequence_length + sequence_length]  (causal LM only)
 *   position_ids int64 [batch_size, sequence_length]            (causal LM only)
 *   encoder_hidden_states float [batch_size, encoder_sequence_length, E]  (image captioner only)
 *   past_key_values.{i}.key / .value float [batch_size, n_head, past_sequence_length, head_dim]
 *   use_cache_branch bool [1]
 * Outputs:
 *   logits float [batch_size, sequence_length, vocab]
 *   present.{i}.key / .value float [batch_size, n_head, past_sequence_length + sequence_length, head_dim]
 *
 * The cache is real (present = past ++ this step's keys/values, so its length grows the way
 * transformers.js expects) but the logits only read the current token, and, for the captioner,
 * the mean of the encoder states (a uniform cross-attention) to pick an image class: a bigram
 * model needs nothing else. transformers.js feeds only the last token once a cache exists, which
 * is exactly what a bigram model can use.
 */
import { GraphBuilder } from '../../../../src/main/engine/onnx/builder.js';
import { DataType } from '../../../../src/main/engine/onnx/dtype.js';
import { emptyGraph, emptyModel, type Model } from '../../../../src/main/engine/onnx/ir.js';
import type { BigramTables } from './bigram.js';

export const OPSET = 14;

export interface Gpt2DecoderSpec {
  tables: BigramTables;
  nLayer: number;
  nHead: number;
  headDim: number;
  /**
   * Captioner only: width of `encoder_hidden_states` and, per image class (the table's classes),
   * a weight vector scoring the mean encoder state; the class mixture is softmax(scores).
   */
  cross?: { encoderHidden: number; classWeights: number[][]; classBias?: number[] };
  /** Include `attention_mask` and `position_ids` (the causal-LM exports have them; ViT-GPT2's decoder has neither). Default true. */
  positionIds?: boolean;
  /** Include `use_cache_branch` (merged decoders have it). Default true. */
  useCacheBranch?: boolean;
}

/** Symbolic dim names transformers.js resolves when it creates the empty first-step cache. */
export const BATCH = 'batch_size';
const SEQ = 'sequence_length';
const PAST = 'past_sequence_length';

export function buildGpt2Decoder(spec: Gpt2DecoderSpec): Model {
  const { tables, nLayer, nHead, headDim } = spec;
  const vocab = tables.vocabSize;
  const g = emptyGraph('gpt2_bigram_decoder');
  const b = new GraphBuilder(g, OPSET);
  const ids = b.addInput('input_ids', DataType.INT64, [BATCH, SEQ]);
  if (spec.positionIds ?? true) {
    b.addInput('attention_mask', DataType.INT64, [BATCH, `${PAST} + ${SEQ}`]);
    b.addInput('position_ids', DataType.INT64, [BATCH, SEQ]);
  }
  const enc = spec.cross
    ? b.addInput('encoder_hidden_states', DataType.FLOAT, [BATCH, 'encoder_sequence_length', spec.cross.encoderHidden])
    : undefined;
  const past: string[][] = [];
  for (let i = 0; i < nLayer; i++) {
    past.push(['key', 'value'].map((kv) => b.addInput(`past_key_values.${i}.${kv}`, DataType.FLOAT, [BATCH, nHead, PAST, headDim])));
  }
  if (spec.useCacheBranch ?? true) b.addInput('use_cache_branch', DataType.BOOL, [1]);

  // Logits: the current token's row of the bigram table (mixed over image classes).
  const ctxIdx = b.initializer('context_of_token', DataType.INT64, [vocab], Array.from(tables.contextOf));
  const ctx = b.op('Gather', [ctxIdx, ids], { axis: 0 });
  const K = tables.classes;
  const table = b.initializer('bigram_log_probs', DataType.FLOAT, [tables.rows, K * vocab], tables.logProbs);
  const rows = b.op('Gather', [table, ctx], { axis: 0 }); // [B, S, K*V]
  let logits: string;
  if (!enc || !spec.cross) {
    if (K !== 1) throw new Error('buildGpt2Decoder: class-conditioned tables need `cross`');
    logits = rows;
  } else {
    const { encoderHidden, classWeights, classBias } = spec.cross;
    if (classWeights.length !== K) throw new Error(`buildGpt2Decoder: ${classWeights.length} class weight vectors for ${K} classes`);
    const w = new Float32Array(encoderHidden * K);
    classWeights.forEach((row, k) => row.forEach((x, d) => (w[d * K + k] = x)));
    const pooled = b.reduce('ReduceMean', enc, [1], false); // [B, E]
    const scores = b.op('Add', [
      b.op('MatMul', [pooled, b.initializer('class_w', DataType.FLOAT, [encoderHidden, K], w)]),
      b.initializer('class_b', DataType.FLOAT, [K], classBias ?? new Array(K).fill(0)),
    ]);
    const mix = b.unsqueeze(b.op('Softmax', [scores], { axis: -1 }), [1, 3]); // [B, 1, K, 1]
    const perClass = b.op('Reshape', [rows, b.int64s([0, 0, K, vocab], 'shape')]); // [B, S, K, V]
    logits = b.reduceSum(b.op('Mul', [perClass, mix]), [2], false);
  }
  b.identity(logits, 'logits');
  b.addOutput('logits', DataType.FLOAT, [BATCH, SEQ, vocab]);

  // Keys/values of this step: a fixed token embedding split into heads, [B, H, S, hd].
  const emb = new Float32Array(vocab * nHead * headDim);
  for (let v = 0; v < vocab; v++) for (let j = 0; j < nHead * headDim; j++) emb[v * nHead * headDim + j] = Math.sin(0.37 * v + 1.3 * j);
  const e = b.op('Gather', [b.initializer('wte', DataType.FLOAT, [vocab, nHead * headDim], emb), ids], { axis: 0 });
  const heads = b.transpose(b.op('Reshape', [e, b.int64s([0, 0, nHead, headDim], 'shape')]), [0, 2, 1, 3]);
  for (let i = 0; i < nLayer; i++) {
    ['key', 'value'].forEach((kv, j) => {
      const scaled = b.op('Mul', [heads, b.scalar((i + 1) * (j === 0 ? 1 : -1))]);
      b.opN('Concat', [past[i]![j]!, scaled], { axis: 2 }, { outputNames: [`present.${i}.${kv}`] });
      b.addOutput(`present.${i}.${kv}`, DataType.FLOAT, [BATCH, nHead, `${PAST} + ${SEQ}`, headDim]);
    });
  }
  return emptyModel(OPSET, g);
}

/** config.json fields of a GPT-2 (the `decoder` of a vision-encoder-decoder, or a causal LM). */
export function gpt2ConfigFields(vocabSize: number, nLayer: number, nHead: number, headDim: number): Record<string, unknown> {
  const eos = vocabSize - 1;
  return {
    activation_function: 'gelu_new',
    attn_pdrop: 0.1,
    bos_token_id: eos,
    embd_pdrop: 0.1,
    eos_token_id: eos,
    initializer_range: 0.02,
    layer_norm_epsilon: 1e-5,
    model_type: 'gpt2',
    n_ctx: 1024,
    n_embd: nHead * headDim,
    n_head: nHead,
    n_inner: null,
    n_layer: nLayer,
    n_positions: 1024,
    resid_pdrop: 0.1,
    scale_attn_weights: true,
    use_cache: true,
    vocab_size: vocabSize,
  };
}
