/**
 * Test support: small graphs with the UNet interface (`sample`, `timestep`,
 * `encoder_hidden_states` -> `out_sample`) and one self- plus one cross-attention block, in the
 * layouts real exports use: heads as their own axis [B, H, N, M] (torch 2 SDPA export, the demo
 * set, the PyTorch fixtures) or folded into the batch [B·H, N, M] (diffusers' head_to_batch_dim,
 * the SD 1.5 ONNX exports). Variants for the error paths: a fused com.microsoft
 * MultiHeadAttention, no cross-attention, no text input, a Softmax over the queries.
 */
import { GraphBuilder, makeTensor } from '../../../../src/main/engine/onnx/builder.js';
import { DataType } from '../../../../src/main/engine/onnx/dtype.js';
import { emptyModel, type Model } from '../../../../src/main/engine/onnx/ir.js';

export interface TinyOptions {
  layout?: 'heads' | 'folded';
  /** 'fused': the cross-attention is one com.microsoft MultiHeadAttention; 'none': only self-attention; 'query-softmax': Softmax over queries. */
  variant?: 'plain' | 'fused' | 'none' | 'query-softmax' | 'no-text';
  heads?: number;
  headDim?: number;
  /** Text width D. */
  text?: number;
  /** Latent side (fixed in the graph for the folded layout's reshapes). */
  side?: number;
  opset?: number;
  seed?: number;
}

function values(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

/** The tiny UNet; cross-attention Softmax nodes are named `/down_blocks.0/attentions.0/transformer_blocks.0/attn2/Softmax`. */
export function tinyAttentionUnet(o: TinyOptions = {}): Model {
  const layout = o.layout ?? 'heads';
  const variant = o.variant ?? 'plain';
  const H = o.heads ?? 2;
  const d = o.headDim ?? 3;
  const D = o.text ?? 5;
  const side = o.side ?? 4;
  const N = side * side;
  const C = 4;
  const inner = H * d;
  const opset = o.opset ?? 17;
  const model = emptyModel(opset);
  if (variant === 'fused') model.opsetImports.push({ domain: 'com.microsoft', version: 1 });
  const g = model.graph;
  const b = new GraphBuilder(g, opset);
  let seed = o.seed ?? 7;
  const weight = (name: string, dims: number[], scale = 0.8): string => {
    const t = makeTensor(
      name,
      DataType.FLOAT,
      dims,
      values(
        dims.reduce((a, c) => a * c, 1),
        seed++,
        scale,
      ),
    );
    return b.addInitializer(t);
  };
  const sample = b.addInput('sample', DataType.FLOAT, ['batch', C, side, side]);
  b.addInput('timestep', DataType.FLOAT, ['batch']);
  const ehs = variant === 'no-text' ? undefined : b.addInput('encoder_hidden_states', DataType.FLOAT, ['batch', 77, D]);
  const node = (scope: string, op: string, inputs: string[], attrs: Parameters<GraphBuilder['op']>[2] = {}, domain?: string): string =>
    b.op(op, inputs, attrs, { name: `/down_blocks.0/attentions.0/transformer_blocks.0/${scope}/${op}`, ...(domain ? { domain } : {}) });

  // tokens [B, N, C]
  const tokens = b.transpose(b.op('Reshape', [sample, b.int64s([0, C, -1])]), [0, 2, 1]);

  const attention = (scope: string, kv: string, kvDim: number): string => {
    const q = node(scope, 'MatMul', [tokens, weight(`${scope}.to_q.weight`, [C, inner])]);
    const k = node(scope, 'MatMul', [kv, weight(`${scope}.to_k.weight`, [kvDim, inner])]);
    const v = node(scope, 'MatMul', [kv, weight(`${scope}.to_v.weight`, [kvDim, inner])]);
    if (variant === 'fused' && scope === 'attn2') return node(scope, 'MultiHeadAttention', [q, k, v], { num_heads: H }, 'com.microsoft');
    const split = b.int64s([0, -1, H, d]);
    let qh = b.transpose(b.op('Reshape', [q, split]), [0, 2, 1, 3]); // [B, H, N, d]
    let kh = b.transpose(b.op('Reshape', [k, split]), [0, 2, 3, 1]); // [B, H, d, M]
    let vh = b.transpose(b.op('Reshape', [v, split]), [0, 2, 1, 3]); // [B, H, M, d]
    if (layout === 'folded') {
      // [B·H, N, d] etc., batch-major (b·H + h) as diffusers' head_to_batch_dim
      qh = b.op('Reshape', [qh, b.int64s([-1, N, d])]);
      kh = b.op('Reshape', [kh, b.int64s([-1, d, scope === 'attn2' ? 77 : N])]);
      vh = b.op('Reshape', [vh, b.int64s([-1, scope === 'attn2' ? 77 : N, d])]);
    }
    // query-softmax: scores laid out [B, H, M, N] (K·Qᵀ), normalised over the queries.
    let scores =
      variant === 'query-softmax' && scope === 'attn2'
        ? node(scope, 'MatMul', [
            b.transpose(b.op('Reshape', [k, split]), [0, 2, 1, 3]),
            b.transpose(b.op('Reshape', [q, split]), [0, 2, 3, 1]),
          ])
        : node(scope, 'MatMul', [qh, kh]);
    scores = node(scope, 'Mul', [scores, b.scalar(1.7 / Math.sqrt(d))]);
    const p = node(scope, 'Softmax', [scores], { axis: -1 });
    if (variant === 'query-softmax' && scope === 'attn2') return node(scope, 'ReduceSum', [p, b.int64s([-1])], { keepdims: 0 });
    let out = node(scope, 'MatMul', [p, vh]);
    if (layout === 'folded') out = b.op('Reshape', [out, b.int64s([-1, H, N, d])]);
    out = b.op('Reshape', [b.transpose(out, [0, 2, 1, 3]), b.int64s([0, 0, inner])]);
    return node(scope, 'MatMul', [out, weight(`${scope}.to_out.weight`, [inner, C], 0.3)]);
  };

  let h = b.op('Add', [tokens, attention('attn1', tokens, C)]);
  if (variant !== 'none' && ehs) {
    const cross = attention('attn2', ehs, D);
    h = variant === 'query-softmax' ? b.op('Add', [h, b.op('ReduceMean', [cross], { axes: [1], keepdims: 1 })]) : b.op('Add', [h, cross]);
  }
  const back = b.op('Reshape', [b.transpose(h, [0, 2, 1]), b.op('Shape', [sample])]);
  b.identity(back, 'out_sample');
  b.addOutput('out_sample', DataType.FLOAT, ['batch', C, side, side]);
  return model;
}
