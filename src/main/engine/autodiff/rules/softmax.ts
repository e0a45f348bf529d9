/**
 * Gradient rules for Softmax and LogSoftmax.
 *
 * Before opset 13 both ops coerce the input to 2-D at `axis` (default 1) and normalise over
 * everything from `axis` on; from opset 13 they normalise over the single `axis` (default -1).
 * Either way the reduction is over a set of trailing-or-single axes, so the closed forms
 * Softmax: dx = y * (g - sum(g * y)) and LogSoftmax: dx = g - exp(y) * sum(g) need no reshapes.
 */
import { attrInt } from '../../onnx/ir.js';
import type { GradContext, GradRule } from '../rule.js';
import { normAxis, reduceSum } from '../broadcast.js';

/** The axes a (Log)Softmax node normalises over, at the model's opset. */
export function softmaxAxes(ctx: GradContext): number[] {
  const rank = ctx.shapeOf(ctx.node.inputs[0]!).length;
  const legacy = ctx.opset < 13;
  const axis = normAxis(attrInt(ctx.node, 'axis', legacy ? 1 : -1), rank);
  if (!legacy) return [axis];
  return Array.from({ length: rank - axis }, (_, i) => axis + i);
}

const softmax: GradRule = (ctx, [g]) => {
  if (!g || !ctx.needsGrad(0)) return [undefined];
  const y = ctx.node.outputs[0]!;
  const gy = ctx.b.op('Mul', [g, y]);
  const s = reduceSum(ctx, gy, softmaxAxes(ctx), true);
  // y*g - y*s: reuses g*y instead of forming g - s at full size and multiplying again.
  return [ctx.b.op('Sub', [gy, ctx.b.op('Mul', [y, s])])];
};

const logSoftmax: GradRule = (ctx, [g]) => {
  if (!g || !ctx.needsGrad(0)) return [undefined];
  const y = ctx.node.outputs[0]!;
  const s = reduceSum(ctx, g, softmaxAxes(ctx), true);
  return [ctx.b.op('Sub', [g, ctx.b.op('Mul', [ctx.b.op('Exp', [y]), s])])];
};

export const rules: Record<string, GradRule> = {
  Softmax: softmax,
  LogSoftmax: logSoftmax,
};
