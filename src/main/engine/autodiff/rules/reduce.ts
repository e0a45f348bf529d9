/**
 * Gradient rules for ReduceSum and ReduceMean: the gradient is g reshaped to the kept-dims
 * shape and broadcast back over the reduced axes (divided by the count for the mean).
 *
 * Axes come from the attribute (ReduceSum < 13, ReduceMean < 18) or the constant `axes` input;
 * empty axes mean "all axes" unless `noop_with_empty_axes` is set.
 */
import { attrInt, attrInts } from '../../onnx/ir.js';
import type { GradContext, GradRule } from '../rule.js';
import { constInts, expandTo, normAxis, reshapeTo, sameShape, scale } from '../broadcast.js';

/** The normalised, sorted axes a reduce node reduces over (empty = no-op). */
export function reduceAxes(ctx: GradContext, axesAsInputFrom: number): number[] {
  const x = ctx.node.inputs[0]!;
  const rank = ctx.shapeOf(x).length;
  let axes: number[] | undefined;
  if (ctx.opset >= axesAsInputFrom) axes = constInts(ctx, ctx.node.inputs[1], 'axes');
  else axes = attrInts(ctx.node, 'axes');
  if (!axes || axes.length === 0) {
    if (attrInt(ctx.node, 'noop_with_empty_axes', 0) === 1) return [];
    return Array.from({ length: rank }, (_x, i) => i);
  }
  return [...new Set(axes.map((a) => normAxis(a, rank)))].sort((a, b) => a - b);
}

function reduceRule(mean: boolean, axesAsInputFrom: number): GradRule {
  return (ctx, [g]) => {
    const res: (string | undefined)[] = ctx.node.inputs.map(() => undefined);
    if (!g || !ctx.needsGrad(0)) return res;
    const x = ctx.node.inputs[0]!;
    const shape = ctx.shapeOf(x);
    const axes = reduceAxes(ctx, axesAsInputFrom);
    if (axes.length === 0) {
      res[0] = g;
      return res;
    }
    const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
    let v = g;
    if (!sameShape(ctx.shapeOf(ctx.node.outputs[0]!), kept)) v = reshapeTo(ctx, v, kept);
    if (mean) {
      const count = axes.reduce((n, a) => n * shape[a]!, 1);
      v = scale(ctx, v, 1 / count, ctx.dtypeOf(x));
    }
    res[0] = expandTo(ctx, v, kept, shape);
    return res;
  };
}

export const rules: Record<string, GradRule> = {
  ReduceSum: reduceRule(false, 13),
  ReduceMean: reduceRule(true, 18),
};
