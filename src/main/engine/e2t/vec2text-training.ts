/**
 * Training graphs of a vec2text stage, composed from the same builders (and parameter names) as
 * the inference graphs (vec2text-graphs.ts): projection -> T5 encoder -> decoder with teacher
 * forcing -> token cross-entropy, as vec2text trains its inverter (target text from its
 * embedding) and its corrector (target text from its embedding, a hypothesis and the
 * hypothesis' embedding).
 *
 * Data inputs (static shapes at training time):
 *   embedding [B, Din]; corrector also hypothesis_embedding [B, Din], hypothesis_input_ids [B, Th]
 *   attention_mask int64 [B, S]   (inverter: ones [B, R]; corrector: ones(4 + 3R) ++ ids != pad)
 *   decoder_input_ids int64 [B, T] (start token, then the target tokens shifted right)
 *   labels float [B, T, V]         (one-hot of the target tokens incl. EOS; zero rows are padding)
 * Output `loss`: mean negative log-likelihood per labelled token (nats).
 */
import { DataType } from '../onnx/dtype.js';
import type { Model } from '../onnx/ir.js';
import { IO, StageBuilder, type StageKind, type Vec2TextStageDims, type WeightSource } from './vec2text-graphs.js';

export const TRAIN_IO = { decoderInputIds: 'decoder_input_ids', labels: 'labels', loss: 'loss', logits: 'logits' } as const;

export interface StageTrainingModel {
  model: Model;
  /** Parameter (initializer) names, in creation order. */
  params: string[];
}

/** The forward + loss model of one stage (weights from `weights`, e.g. randomWeights(seed)). */
export function buildStageTrainingModel(kind: StageKind, dims: Vec2TextStageDims, weights: WeightSource): StageTrainingModel {
  const s = new StageBuilder(dims, weights, { graphName: `${kind}_training` });
  const b = s.b;
  const e = b.addInput(IO.embedding, DataType.FLOAT, ['batch', dims.embedderDim]);
  let embeds: string;
  if (kind === 'inverter') {
    embeds = s.projectionMlp(e, 'embedding_transform');
  } else {
    const h = b.addInput(IO.hypothesisEmbedding, DataType.FLOAT, ['batch', dims.embedderDim]);
    const ids = b.addInput(IO.hypothesisIds, DataType.INT64, ['batch', 'hypothesis_length']);
    embeds = s.correctorInput(e, h, ids);
  }
  const mask = b.addInput(IO.attentionMask, DataType.INT64, ['batch', 'encoder_sequence_length']);
  const decIds = b.addInput(TRAIN_IO.decoderInputIds, DataType.INT64, ['batch', 'decoder_sequence_length']);
  const labels = b.addInput(TRAIN_IO.labels, DataType.FLOAT, ['batch', 'decoder_sequence_length', dims.vocabSize]);
  const hidden = s.encoderStack(embeds, mask);
  const { logits } = s.decoderStack(decIds, mask, s.crossKv(hidden));
  const lp = s.op('LogSoftmax', [logits], { axis: -1 }, 'loss');
  const nll = s.op('Neg', [b.reduceSum(s.op('Mul', [lp, labels], {}, 'loss'), [0, 1, 2], false)], {}, 'loss');
  const count = s.op('Max', [b.reduceSum(labels, [0, 1, 2], false), s.net.scalar(1, 'one')], {}, 'loss');
  b.identity(s.op('Div', [nll, count], {}, 'loss'), TRAIN_IO.loss);
  b.addOutput(TRAIN_IO.loss, DataType.FLOAT, []);
  b.identity(logits, TRAIN_IO.logits);
  b.addOutput(TRAIN_IO.logits, DataType.FLOAT, ['batch', 'decoder_sequence_length', dims.vocabSize]);
  return { model: s.net.model, params: s.paramNames() };
}
