/**
 * Make a graph deterministic by replacing its random-normal samplers with zeros.
 *
 * The public diffusers `vae_encoder` export samples the latent inside the graph
 * (mean + std * RandomNormalLike(...)); with the noise replaced by zeros the encoder returns the
 * distribution's mean, which is what inversion and image-to-latent need (DESIGN §3).
 */
import { GraphBuilder, makeTensor } from './builder.js';
import { DataType } from './dtype.js';
import { defaultOpset, type Model } from './ir.js';

const SAMPLERS = new Set(['RandomNormalLike', 'RandomNormal', 'RandomUniformLike', 'RandomUniform']);

/** @returns a copy of the model (tensors shared) and the number of samplers replaced */
export function zeroRandomSamplers(model: Model): { model: Model; replaced: number } {
  const g = model.graph;
  if (!g.nodes.some((n) => SAMPLERS.has(n.opType))) return { model, replaced: 0 };
  const graph = { ...g, nodes: [] as typeof g.nodes, initializers: new Map(g.initializers) };
  const b = new GraphBuilder(graph, defaultOpset(model), 'det/');
  let replaced = 0;
  for (const n of g.nodes) {
    if (!SAMPLERS.has(n.opType)) {
      graph.nodes.push(n);
      continue;
    }
    replaced++;
    const dtypeAttr = n.attrs.dtype;
    const dtype = dtypeAttr?.kind === 'int' ? (dtypeAttr.value as DataType) : DataType.FLOAT;
    const value = makeTensor('value', dtype, [1], [0]);
    const out = n.outputs[0]!;
    if (n.opType.endsWith('Like')) {
      // Zeros of the input's shape; without a dtype attribute the input's own type is kept,
      // which x - x gives without knowing that type (the input is a finite mean/std tensor).
      if (dtypeAttr) b.opN('ConstantOfShape', [b.op('Shape', [n.inputs[0]!])], { value }, { outputNames: [out] });
      else b.opN('Sub', [n.inputs[0]!, n.inputs[0]!], {}, { outputNames: [out] });
    } else {
      const shape = n.attrs.shape?.kind === 'ints' ? n.attrs.shape.value : [];
      b.opN('ConstantOfShape', [b.int64s(shape, 'shape')], { value }, { outputNames: [out] });
    }
  }
  return { model: { ...model, graph }, replaced };
}
