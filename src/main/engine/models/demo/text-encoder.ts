/**
 * CLIP-style text encoder (transformers' CLIPTextModel topology, as exported to ONNX):
 * token + position embeddings, pre-LayerNorm causal transformer layers with quick-GELU MLPs,
 * final LayerNorm. Interface of the public SD 1.5 export: `input_ids` int32 [batch, 77] ->
 * `last_hidden_state` [batch, 77, hidden].
 */
import { DataType } from '../../onnx/dtype.js';
import type { Model } from '../../onnx/ir.js';
import { Net, type WeightPrecision } from './nn.js';

export interface TextEncoderOptions {
  vocabSize: number;
  /** Hidden width D (SD 1.5: 768; demo: 64). */
  hidden: number;
  layers: number;
  heads: number;
  /** Sequence length (CLIP: 77). */
  maxLength?: number;
  /** MLP width (default 4 * hidden). */
  intermediate?: number;
  seed: number;
  /** Element type of `input_ids` (the SD 1.5 export uses int32; some exports int64). */
  idsDtype?: 'int32' | 'int64';
  /** Element type of `last_hidden_state` (fp16 exports emit float16). */
  outputDtype?: 'float32' | 'float16';
  weights?: WeightPrecision;
  opset?: number;
}

/** Name of the token-embedding table, as in the public exports (hard-prompt methods differentiate it). */
export const TOKEN_EMBEDDING_NAME = 'text_model.embeddings.token_embedding.weight';

/** Build the text encoder. Weights are random (seeded); token embeddings have unit variance so words stay distinct. */
export function buildTextEncoderModel(opts: TextEncoderOptions): Model {
  const L = opts.maxLength ?? 77;
  const D = opts.hidden;
  const inter = opts.intermediate ?? 4 * D;
  const net = new Net(opts.seed, opts.weights ?? 'float32', opts.opset ?? 17, 'text_encoder');
  const b = net.b;
  const idsType = opts.idsDtype === 'int64' ? DataType.INT64 : DataType.INT32;
  const ids = b.addInput('input_ids', idsType, ['batch', L]);

  const tok = net.randn(TOKEN_EMBEDDING_NAME, [opts.vocabSize, D], 1);
  const pos = net.randn('text_model.embeddings.position_embedding.weight', [L, D], 0.25);
  let h = net.op('Add', [net.op('Gather', [tok, ids], { axis: 0 }, 'text_model.embeddings.token_embedding'), pos], {}, 'text_model.embeddings');

  // Additive causal mask: token i sees tokens 0..i (a large finite negative keeps fp16 and gradients finite).
  const mask = new Float32Array(L * L);
  for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) mask[i * L + j] = -1e9;
  const maskName = net.constant('causal_mask', [L, L], mask);

  for (let l = 0; l < opts.layers; l++) {
    const p = `text_model.encoder.layers.${l}`;
    const a = net.layerNorm(h, `${p}.layer_norm1`, D);
    const att = net.attention(a, a, `${p}.self_attn`, D, D, opts.heads, {
      qkvBias: true,
      mask: maskName,
      outStd: 0.6 / Math.sqrt(D),
      names: { q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'out_proj' },
    });
    h = net.op('Add', [h, att], {}, p);
    const m = net.layerNorm(h, `${p}.layer_norm2`, D);
    const f1 = net.quickGelu(net.linear(m, `${p}.mlp.fc1`, D, inter, { biasStd: 0.1 }), `${p}.mlp.activation_fn`);
    const f2 = net.linear(f1, `${p}.mlp.fc2`, inter, D, { std: 0.6 / Math.sqrt(inter) });
    h = net.op('Add', [h, f2], {}, p);
  }
  let out = net.layerNorm(h, 'text_model.final_layer_norm', D);
  const outType = opts.outputDtype === 'float16' ? DataType.FLOAT16 : DataType.FLOAT;
  if (outType === DataType.FLOAT16) out = net.op('Cast', [out], { to: DataType.FLOAT16 }, 'text_model');
  b.identity(out, 'last_hidden_state');
  b.addOutput('last_hidden_state', outType, ['batch', L, D]);
  net.model.producerName = 'inversion-studio-demo';
  return net.model;
}
