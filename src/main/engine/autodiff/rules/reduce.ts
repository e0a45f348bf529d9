/**
 * Gradient rules for ReduceSum and ReduceMean: the gradient is g reshaped to the kept-dims
 * shape and broadcast back over the reduced axes (divided by the count for the mean).
 *
 * Axes come from the attribute (ReduceSum < 13, ReduceMean < 18) or the constant `axes` input;
 * empty axes mean "all axes" unless `noop_with_empty_axes` is set.
 */
import { attrInt, attrInts } from '../../onnx/ir.js';
import { numel, range, sameShape } from '../../onnx/static-shape.js';
import { constInts, inputShape, normAxis, outputShape, singleOutput, type GradContext, type GradRule } from '../rule.js';

/** The normalised, sorted axes a reduce node reduces over (empty = no-op). */
export function reduceAxes(ctx: GradContext, axesAsInputFrom: number): number[] {
  const rank = inputShape(ctx).length;
  const axes = ctx.opset >= axesAsInputFrom ? constInts(ctx, ctx.node.inputs[1], 'axes') : attrInts(ctx.node, 'axes');
  if (!axes || axes.length === 0) return attrInt(ctx.node, 'noop_with_empty_axes', 0) === 1 ? [] : range(0, rank);
  return [...new Set(axes.map((a) => normAxis(a, rank)))].sort((a, b) => a - b);
}

function reduceRule(mean: boolean, axesAsInputFrom: number): GradRule {
  return singleOutput((ctx, g) => {
    const { b } = ctx;
    const shape = inputShape(ctx);
    const axes = reduceAxes(ctx, axesAsInputFrom);
    if (axes.length === 0) return [g];
    const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
    let v = sameShape(outputShape(ctx), kept) ? g : b.reshape(g, kept);
    if (mean) v = b.scale(v, 1 / numel(axes.map((a) => shape[a]!)), ctx.dtypeOf(ctx.node.inputs[0]!));
    return [sameShape(kept, shape) ? v : b.expand(v, shape)];
  });
}

export const rules: Record<string, GradRule> = {
  ReduceSum: reduceRule(false, 13),
  ReduceMean: reduceRule(true, 18),
};
