/**
 * Gradient rules for Softmax and LogSoftmax.
 *
 * Before opset 13 both ops coerce the input to 2-D at `axis` (default 1) and normalise over
 * everything from `axis` on; from opset 13 they normalise over the single `axis` (default -1).
 * Either way the reduction is over a set of trailing-or-single axes, so the closed forms
 * Softmax: dx = y * (g - sum(g * y)) and LogSoftmax: dx = g - exp(y) * sum(g) need no reshapes.
 */
import { attrInt } from '../../onnx/ir.js';
import { range } from '../../onnx/static-shape.js';
import { inputShape, normAxis, singleOutput, type GradContext, type GradRule } from '../rule.js';

/** The axes a (Log)Softmax node normalises over, at the model's opset. */
export function softmaxAxes(ctx: GradContext): number[] {
  const rank = inputShape(ctx).length;
  const legacy = ctx.opset < 13;
  const axis = normAxis(attrInt(ctx.node, 'axis', legacy ? 1 : -1), rank);
  return legacy ? range(axis, rank) : [axis];
}

// y*g - y*s: reuses g*y instead of forming g - s at full size and multiplying again
const softmax = singleOutput((ctx, g) => {
  const { b } = ctx;
  const y = ctx.node.outputs[0]!;
  const gy = b.mul(g, y);
  return [b.sub(gy, b.mul(y, b.reduceSum(gy, softmaxAxes(ctx), true)))];
});

const logSoftmax = singleOutput((ctx, g) => {
  const { b } = ctx;
  const s = b.reduceSum(g, softmaxAxes(ctx), true);
  return [b.sub(g, b.mul(b.unary('Exp', ctx.node.outputs[0]!), s))];
});

export const rules: Record<string, GradRule> = {
  Softmax: softmax,
  LogSoftmax: logSoftmax,
};
