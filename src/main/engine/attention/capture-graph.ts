/**
 * Graph surgery for attention capture: a copy of the UNet graph (tensor bytes shared) with one
 * extra output per cross-attention layer, already reduced inside the graph so what leaves
 * onnxruntime stays small (SD 1.5 at 512 px: ≈ 8 MB per step instead of ≈ 66 MB unreduced):
 *
 *   P  [B, H, N, M] or [B·H, N, M]  (the Softmax output; M = 77 text positions, N = map pixels)
 *   -> Reshape [B, -1, N, M]          (both layouts: diffusers folds heads batch-major, b·H + h)
 *   -> Slice batch [B div 2, B)       (the conditional half of a guidance batch [uncond; cond];
 *                                      the whole batch of 1 when guidance is off)
 *   -> ReduceMean over heads -> Cast float32 -> output [B - B div 2, N, M]
 *
 * Every dim is read at run time (Shape of the tensors themselves), so the graph keeps its symbolic
 * batch/height/width and one session serves every size. Only standard ai.onnx ops are added.
 */
import { GraphBuilder } from '../onnx/builder.js';
import { cloneModel } from '../onnx/clone.js';
import { DataType } from '../onnx/dtype.js';
import { defaultOpset, type Model } from '../onnx/ir.js';
import { AttentionCaptureError, findCrossAttention, type CrossAttentionLayer, type FindOptions } from './find-cross-attention.js';

/** Prefix of the capture outputs: `attention_probs.<layer index>`. */
export const CAPTURE_OUTPUT_PREFIX = 'attention_probs.';

export interface CaptureGraph {
  /** The UNet with the capture outputs appended after its own outputs. */
  model: Model;
  layers: CrossAttentionLayer[];
  /** Output name per layer (same order as `layers`), each [condBatch, queries, 77] float32. */
  outputs: string[];
}

/**
 * Add reduced cross-attention outputs to a UNet graph (the input model is not modified).
 * @param layers the layers to capture (default: all that findCrossAttention finds)
 * @throws AttentionCaptureError as findCrossAttention does, or when the opset is older than 11
 */
export function addAttentionOutputs(model: Model, layers?: CrossAttentionLayer[], opts: FindOptions = {}): CaptureGraph {
  const found = layers ?? findCrossAttention(model, opts);
  const opset = defaultOpset(model);
  if (opset < 11)
    throw new AttentionCaptureError('UNSUPPORTED_OP', `the UNet uses opset ${opset}; attention capture needs opset 11 or newer`);
  const m = cloneModel(model);
  const b = new GraphBuilder(m.graph, opset, 'attention_capture/');
  const sample = opts.sampleInput ?? 'sample';
  const int64Max = Number.MAX_SAFE_INTEGER; // clamped to the dim by Slice

  // Batch B (1-D [1]) from the latent input, and where the conditional half starts.
  const batch = b.slice(b.op('Shape', [sample]), [0], [1], [0]);
  const half = b.op('Div', [batch, b.int64s([2], 'two')]);
  const minusOne = b.int64s([-1], 'minus_one');

  const outputs: string[] = [];
  for (const layer of found) {
    const p = layer.probabilities;
    const lastTwo = b.slice(b.op('Shape', [p]), [-2], [int64Max], [0]);
    const shape = b.op('Concat', [batch, minusOne, lastTwo], { axis: 0 });
    const perHead = b.op('Reshape', [p, shape]);
    const cond = b.op('Slice', [perHead, half, batch, b.int64s([0], 'axis0')]);
    const mean = b.reduce('ReduceMean', cond, [1], false);
    const name = `${CAPTURE_OUTPUT_PREFIX}${layer.index}`;
    b.opN('Cast', [mean], { to: DataType.FLOAT }, { outputNames: [name] });
    b.addOutput(name, DataType.FLOAT, ['cond_batch', `queries_${layer.index}`, 'text_positions']);
    outputs.push(name);
  }
  return { model: m, layers: found, outputs };
}
