/**
 * The world's CLIP: an image tower (the CNN trunk + `visual_projection`) and a text tower (the
 * set's text encoder, its EOS state + `text_projection`), trained contrastively (InfoNCE with a
 * learned temperature, as CLIP). The text tower's transformer then IS the diffusion text encoder
 * (frozen while the UNet trains), as SD's CLIP.
 *
 *   clip/image_encoder.onnx  `pixel_values` float32 [B,3,64,64] (CHW RGB in [-1, 1]) -> `image_embeds` [B,128]
 *   clip/text_encoder.onnx   `input_ids` int32 [B,77] -> `text_embeds` [B,128] (+ `last_hidden_state` [B,77,128])
 *   clip/config.json         sizes, the logit scale, the tokenizer folder (../tokenizer)
 *
 * Embeddings are not normalised in the graphs; similarity = cosine (CLIP's convention).
 */
import { DataType } from '../../onnx/dtype.js';
import { GraphBuilder } from '../../onnx/builder.js';
import type { Model } from '../../onnx/ir.js';
import { Net, type WeightPrecision } from '../demo/nn.js';
import { infoNce, addScalarOutput } from '../../training/losses.js';
import { addTextProjection, buildShapesTextEncoder } from './text.js';
import { imageTrunk, type TrunkOptions } from './towers.js';
import type { ShapesArchitecture } from './architecture.js';

/** Initial log inverse temperature, ln(1 / 0.07) (CLIP's). */
export const CLIP_INITIAL_LOGIT_SCALE = Math.log(1 / 0.07);
/** Upper bound of the logit scale, ln 100 (CLIP clamps there). */
export const CLIP_MAX_LOGIT_SCALE = Math.log(100);
export const LOGIT_SCALE_PARAM = 'logit_scale.weight';

/** Append the image tower to `net`: `x` [B,3,64,64] -> image embeddings [B, dim]. */
export function imageTower(net: Net, x: string, trunk: TrunkOptions, dim: number): string {
  const feat = imageTrunk(net, x, 'vision_model', trunk);
  return net.linear(feat, 'visual_projection', trunk.hidden, dim, { bias: false });
}

/** clip/image_encoder.onnx. */
export function buildClipImageEncoder(arch: ShapesArchitecture, o: { weights?: WeightPrecision } = {}): Model {
  const net = new Net(1, o.weights ?? 'float32', 17, 'clip_image_encoder');
  const x = net.b.addInput('pixel_values', DataType.FLOAT, ['batch', 3, 64, 64]);
  const e = imageTower(net, x, arch.clipImage, arch.clipDim);
  net.b.identity(e, 'image_embeds');
  net.b.addOutput('image_embeds', DataType.FLOAT, ['batch', arch.clipDim]);
  net.model.producerName = 'inversion-studio-shapes';
  return net.model;
}

/** clip/text_encoder.onnx (EOS found as the first maximum of input_ids). */
export function buildClipTextEncoder(arch: ShapesArchitecture, vocabSize: number, o: { weights?: WeightPrecision } = {}): Model {
  const m = buildShapesTextEncoder({ vocabSize, ...arch.text, maxLength: 77, weights: o.weights ?? 'float32' });
  m.graph.name = 'clip_text_encoder';
  return addTextProjection(m, { hidden: arch.text.hidden, dim: arch.clipDim, eos: 'argmax', weights: o.weights ?? 'float32' });
}

/**
 * The contrastive training model: inputs `input_ids` int32 [B, L], `eos_mask` [B, L] (one-hot EOS
 * position), `pixel_values` [B,3,64,64]; output `loss` (symmetric InfoNCE over the batch, row i of
 * each side paired). The logit scale is a parameter, clipped at ln 100 in the graph.
 */
export function buildClipTrainingModel(arch: ShapesArchitecture, vocabSize: number, batch: number, textLength: number): Model {
  const m = addTextProjection(buildShapesTextEncoder({ vocabSize, ...arch.text, maxLength: textLength }), { hidden: arch.text.hidden, dim: arch.clipDim, eos: 'mask' });
  const net = new Net(1, 'float32', 17, 'clip');
  // Build the image tower into the text model's graph.
  const b = new GraphBuilder(m.graph, 17, '');
  Object.assign(net, { model: m, b });
  const px = b.addInput('pixel_values', DataType.FLOAT, ['batch', 3, 64, 64]);
  const img = imageTower(net, px, arch.clipImage, arch.clipDim);
  net.param(LOGIT_SCALE_PARAM, [], [CLIP_INITIAL_LOGIT_SCALE]);
  const scale = b.op('Clip', [LOGIT_SCALE_PARAM, b.scalar(-10, DataType.FLOAT, 'ls_min'), b.scalar(CLIP_MAX_LOGIT_SCALE, DataType.FLOAT, 'ls_max')]);
  const eye = b.initializer('labels', DataType.FLOAT, [batch, batch], Array.from({ length: batch * batch }, (_, i) => (i % (batch + 1) === 0 ? 1 : 0)));
  b.identity(img, 'image_embeds');
  b.addOutput('image_embeds', DataType.FLOAT, ['batch', arch.clipDim]);
  addScalarOutput(b, infoNce(b, img, 'text_embeds', scale, eye));
  return m;
}

/** What clip/config.json holds. */
export function clipConfig(arch: ShapesArchitecture, logitScale: number): Record<string, unknown> {
  return {
    model: 'shapes-clip',
    embed_dim: arch.clipDim,
    logit_scale: logitScale,
    similarity: 'cosine of image_embeds and text_embeds (normalise both); CLIP logits = exp(logit_scale) * cosine',
    image_encoder: { file: 'image_encoder.onnx', input: { name: 'pixel_values', shape: ['batch', 3, 64, 64], layout: 'CHW RGB', range: [-1, 1], size: 64 }, output: 'image_embeds' },
    text_encoder: {
      file: 'text_encoder.onnx',
      input: { name: 'input_ids', type: 'int32', shape: ['batch', 77] },
      output: 'text_embeds',
      tokenizer: '../tokenizer',
      pooling: 'hidden state at the first EOS (the first maximum of input_ids), then text_projection',
      also: 'last_hidden_state [batch, 77, hidden]: identical to text_encoder/model.onnx',
    },
  };
}
