/**
 * The shapes set's text side: the CLIP-format tokenizer over the world's vocabulary, the
 * CLIP-style text encoder (the demo builder's CLIPTextModel topology at width 128), and the
 * world CLIP's text tower (that encoder's EOS state + a linear projection, as CLIP's
 * `text_projection`).
 *
 * The text encoder trains inside the CLIP phase at a short sequence length (causal attention:
 * the EOS state at position <= 21 never sees later positions, so training at 24 positions gives
 * exactly the EOS states of the 77-position model); the exported encoder has 77 positions, the
 * rows beyond the training length keep their small initial values.
 */
import { DataType } from '../../onnx/dtype.js';
import type { Model } from '../../onnx/ir.js';
import { GraphBuilder, makeTensor } from '../../onnx/builder.js';
import { trainDemoBpe, type TrainedBpe } from '../../diffusion/tokenizer/index.js';
import { buildTextEncoderModel } from '../demo/text-encoder.js';
import type { WeightPrecision } from '../demo/nn.js';
import { WORLD_VOCABULARY } from './world/index.js';

/** Text width D of the shapes set (`last_hidden_state` [B, 77, 128]). */
export const SHAPES_HIDDEN = 128;
/** Width of the world CLIP's joint embedding space. */
export const SHAPES_CLIP_DIM = 128;
/** Positions the text encoder trains at (the longest caption takes 21 with BOS and EOS). */
export const SHAPES_TRAIN_TEXT_LENGTH = 24;

export interface ShapesTextOptions {
  vocabSize: number;
  hidden?: number;
  layers?: number;
  heads?: number;
  maxLength?: number;
  weights?: WeightPrecision;
  seed?: number;
}

/** The tokenizer of the set: classic BPE over the world's words, every word one token. */
export function shapesBpe(): TrainedBpe {
  return trainDemoBpe([...WORLD_VOCABULARY], { vocabSize: 4096 });
}

/** `input_ids` int32 [B, L] -> `last_hidden_state` [B, L, D] (text_encoder/model.onnx at L = 77). */
export function buildShapesTextEncoder(o: ShapesTextOptions): Model {
  const m = buildTextEncoderModel({
    vocabSize: o.vocabSize,
    hidden: o.hidden ?? SHAPES_HIDDEN,
    layers: o.layers ?? 4,
    heads: o.heads ?? 4,
    maxLength: o.maxLength ?? 77,
    seed: o.seed ?? 1,
    idsDtype: 'int32',
    weights: o.weights ?? 'float32',
  });
  m.producerName = 'inversion-studio-shapes';
  return m;
}

/**
 * Append the pooled-and-projected text embedding to a text-encoder model (in place):
 * pooled = the hidden state at the EOS position, text_embeds = pooled @ text_projection.
 * @param eos 'argmax': the EOS position is the first maximum of input_ids (CLIP's rule; EOS has the
 *   largest id), for export; 'mask': a float one-hot input `eos_mask` [B, L] picks it (training,
 *   where the position is known and no integer op sits on the path)
 */
export function addTextProjection(model: Model, o: { hidden?: number; dim?: number; eos: 'argmax' | 'mask'; weights?: WeightPrecision }): Model {
  const D = o.hidden ?? SHAPES_HIDDEN;
  const E = o.dim ?? SHAPES_CLIP_DIM;
  const g = model.graph;
  const ids = g.inputs.find((v) => v.name === 'input_ids')!;
  const L = ids.shape![1] as number;
  const b = new GraphBuilder(g, 17, 'text_projection/');
  const h = 'last_hidden_state';
  let weights: string;
  if (o.eos === 'mask') {
    weights = b.addInput('eos_mask', DataType.FLOAT, ['batch', L]);
  } else {
    const f = b.cast(ids.name, DataType.FLOAT);
    const pos = b.op('ArgMax', [f], { axis: 1, keepdims: 1 }); // [B, 1] int64
    const range = b.initializer('positions', DataType.INT64, [1, L], Array.from({ length: L }, (_, i) => i));
    weights = b.cast(b.op('Equal', [pos, range]), DataType.FLOAT); // [B, L]
  }
  const pooled = b.reshape(b.op('MatMul', [b.unsqueeze(weights, [1]), h]), [0, D]);
  const wName = 'text_projection.weight';
  const init = o.weights === 'float16' ? DataType.FLOAT16 : DataType.FLOAT;
  b.addInitializer(makeTensor(wName, init, [D, E], new Float32Array(D * E)));
  const w = init === DataType.FLOAT16 ? b.cast(wName, DataType.FLOAT) : wName;
  const embeds = b.op('MatMul', [pooled, w]);
  b.identity(embeds, 'text_embeds');
  b.addOutput('text_embeds', DataType.FLOAT, ['batch', E]);
  return model;
}
