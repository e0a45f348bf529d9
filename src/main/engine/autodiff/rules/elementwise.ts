/**
 * Gradient rules for element-wise ops (numpy broadcasting on the binary/variadic ones: the
 * gradients have the output's shape and the transform sums them back to each operand).
 *
 * Rules reuse forward values (inputs and outputs of the node) instead of recomputing them.
 */
import type { GraphBuilder } from '../../onnx/builder.js';
import { DataType, isFloatType } from '../../onnx/dtype.js';
import { attrFloat, attrInt } from '../../onnx/ir.js';
import { constScalar, inputShape, singleOutput, type GradContext, type GradRule } from '../rule.js';

/** A rule for a one-input op: dx = grad(g, x, y) with y the node's output, in its dtype `dt`. */
function unary(grad: (b: GraphBuilder, g: string, x: string, y: string, dt: DataType, ctx: GradContext) => string): GradRule {
  return singleOutput((ctx, g) => {
    const y = ctx.node.outputs[0]!;
    return [grad(ctx.b, g, ctx.node.inputs[0]!, y, ctx.dtypeOf(y), ctx)];
  });
}

const Add = singleOutput((_ctx, g) => [g, g]);

// the negation after the sum: on the operand's (smaller) shape
const Sub = singleOutput((ctx, g) => [g, () => ctx.b.neg(ctx.b.sumTo(g, inputShape(ctx, 1)))]);

// x*x arrives with the same name in both slots: each slot gets g*x and the transform adds them
const Mul = singleOutput(({ b, node }, g) => [() => b.mul(g, node.inputs[1]!), () => b.mul(g, node.inputs[0]!)]);

// d/da = g/b; d/db = -g*a/b^2 = -(g/b)*y: both share g/b
const Div = singleOutput(({ b, node }, g) => {
  const q = b.div(g, node.inputs[1]!);
  return [q, () => b.neg(b.mul(q, node.outputs[0]!))];
});

const Pow = singleOutput((ctx, g) => {
  const { b } = ctx;
  const [x, e] = ctx.node.inputs as [string, string];
  const y = ctx.node.outputs[0]!;
  const dt = ctx.dtypeOf(y);
  const edt = ctx.dtypeOf(e);
  const c = constScalar(ctx, e);
  const k = (v: number) => b.scalarConst(v, dt);
  const dx = (): string => {
    if (c === 1) return g;
    if (c === 2) return b.mul(g, b.mul(x, k(2)));
    // g * c * x^(c-1); for c = 1/2 that is g * c / y
    if (c !== undefined) return b.mul(g, b.mul(c === 0.5 ? b.unary('Reciprocal', y) : b.pow(x, k(c - 1)), k(c)));
    const eX = edt === dt ? e : b.cast(e, dt);
    return b.mul(g, b.mul(b.pow(x, b.sub(eX, k(1))), eX));
  };
  // d/de = g * y * ln(x), summed to e's shape before the cast to its dtype (Pow's T2 may differ)
  const de = () => {
    const v = b.sumTo(b.mul(b.mul(g, y), b.unary('Log', x)), ctx.shapeOf(e));
    return edt === dt ? v : b.cast(v, edt);
  };
  return [dx, de];
});

const Sqrt = unary((b, g, _x, y, dt) => b.div(b.mul(g, b.scalarConst(0.5, dt)), y));
const Exp = unary((b, g, _x, y) => b.mul(g, y));
const Log = unary((b, g, x) => b.div(g, x));
const Neg = unary((b, g) => b.neg(g));
const Abs = unary((b, g, x) => b.mul(g, b.unary('Sign', x)));
const Reciprocal = unary((b, g, _x, y) => b.neg(b.mul(g, b.mul(y, y))));
// d erf(x)/dx = 2/sqrt(pi) * exp(-x^2)
const Erf = unary((b, g, x, _y, dt) => b.mul(g, b.mul(b.unary('Exp', b.neg(b.mul(x, x))), b.scalarConst(2 / Math.sqrt(Math.PI), dt))));
const Sigmoid = unary((b, g, _x, y, dt) => b.mul(g, b.mul(y, b.sub(b.scalarConst(1, dt), y))));
const Tanh = unary((b, g, _x, y, dt) => b.mul(g, b.sub(b.scalarConst(1, dt), b.mul(y, y))));
const Relu = unary((b, g, x, _y, dt) => b.where(b.compare('Greater', x, b.scalarConst(0, dt)), g, b.scalarConst(0, dt)));
const LeakyRelu = unary((b, g, x, _y, dt, ctx) =>
  b.where(b.compare('Greater', x, b.scalarConst(0, dt)), g, b.mul(g, b.scalarConst(attrFloat(ctx.node, 'alpha', 0.01), dt))),
);
const Softplus = unary((b, g, x) => b.mul(g, b.unary('Sigmoid', x)));
const Cos = unary((b, g, x) => b.neg(b.mul(g, b.unary('Sin', x))));
const Sin = unary((b, g, x) => b.mul(g, b.unary('Cos', x)));
const Identity = unary((_b, g) => g);

/** Dropout at inference is the identity on output 0 (the mask output is not differentiable). */
const Dropout = singleOutput((_ctx, g) => [g]);

/**
 * Max/Min (variadic, broadcasting): the gradient goes to the operands equal to the result;
 * ties share it equally (as PyTorch's maximum/minimum do).
 */
const MaxMin = singleOutput(({ b, node, dtypeOf }, g) => {
  if (node.inputs.length === 1) return [g];
  const y = node.outputs[0]!;
  const masks = node.inputs.map((x) => b.cast(b.compare('Equal', x, y), dtypeOf(y)));
  const shared = b.div(g, b.addAll(masks));
  return masks.map((m) => () => b.mul(shared, m));
});

const Sum = singleOutput(({ node }, g) => node.inputs.map(() => g));

const Mean = singleOutput(({ b, node, dtypeOf }, g) => {
  const gs = b.mul(g, b.scalarConst(1 / node.inputs.length, dtypeOf(node.outputs[0]!)));
  return node.inputs.map(() => gs);
});

/**
 * Clip: the gradient passes where min <= x <= max (inclusive, like torch.clamp); the clipped
 * parts flow to min/max when those are differentiated inputs (opset >= 11 form).
 */
const Clip = singleOutput(({ b, node, opset, dtypeOf }, g) => {
  const x = node.inputs[0]!;
  const dt = dtypeOf(node.outputs[0]!);
  const zero = b.scalarConst(0, dt);
  const bound = (i: number, attr: string, dflt: number) => (opset < 11 ? b.scalarConst(attrFloat(node, attr, dflt), dt) : node.inputs[i]);
  const lo = bound(1, 'min', -3.4028234663852886e38);
  const hi = bound(2, 'max', 3.4028234663852886e38);
  const below = lo ? b.compare('Less', x, lo) : undefined;
  const above = hi ? b.compare('Greater', x, hi) : undefined;
  const out = below && above ? b.compare('Or', below, above) : (below ?? above);
  return [
    () => (out ? b.where(out, zero, g) : g),
    () => (below ? b.where(below, g, zero) : undefined),
    () => (above ? b.where(above, g, zero) : undefined),
  ];
});

/** Where(cond, a, b): the gradient of each branch is g masked by cond (cond is not differentiable). */
const Where = singleOutput(({ b, node, dtypeOf }, g) => {
  const c = node.inputs[0]!;
  const zero = b.scalarConst(0, dtypeOf(node.outputs[0]!));
  return [undefined, () => b.where(c, g, zero), () => b.where(c, zero, g)];
});

/** Casts between float types: cast the gradient back. Casts from/to non-float types carry no gradient. */
function castBack(ctx: GradContext, g: string, to: DataType): string | undefined {
  const from = ctx.dtypeOf(ctx.node.inputs[0]!);
  if (!isFloatType(from) || !isFloatType(to)) return undefined;
  return from === to ? g : ctx.b.cast(g, from);
}

const Cast = singleOutput((ctx, g) => [() => castBack(ctx, g, attrInt(ctx.node, 'to', 0) as DataType)]);

/** Gradient of x through CastLike is like Cast; the target-type input gets none. */
const CastLike = singleOutput((ctx, g) => [() => castBack(ctx, g, ctx.dtypeOf(ctx.node.outputs[0]!))]);

export const rules: Record<string, GradRule> = {
  Add,
  Sub,
  Mul,
  Div,
  Pow,
  Sqrt,
  Exp,
  Log,
  Neg,
  Abs,
  Reciprocal,
  Erf,
  Sigmoid,
  Tanh,
  Relu,
  LeakyRelu,
  Softplus,
  Cos,
  Sin,
  Identity,
  Dropout,
  Max: MaxMin,
  Min: MaxMin,
  Sum,
  Mean,
  Clip,
  Where,
  Cast,
  CastLike,
};
