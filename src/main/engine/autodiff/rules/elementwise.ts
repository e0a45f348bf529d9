/**
 * Gradient rules for element-wise ops (numpy broadcasting on the binary/variadic ones).
 *
 * Rules reuse forward values (inputs and outputs of the node) instead of recomputing them;
 * operands that need no gradient cost nothing.
 */
import { DataType, isFloatType } from '../../onnx/dtype.js';
import { attrFloat, attrInt } from '../../onnx/ir.js';
import type { GradContext, GradRule } from '../rule.js';
import { constFloats, scalarConst, unbroadcast } from '../broadcast.js';

type Grads = (string | undefined)[];

function out0(ctx: GradContext): { y: string; shape: number[]; dtype: DataType } {
  const y = ctx.node.outputs[0]!;
  return { y, shape: ctx.shapeOf(y), dtype: ctx.dtypeOf(y) };
}

/** Gradient `v` of broadcast-shaped result to input `i` (no-op when shapes match). */
function toInput(ctx: GradContext, i: number, v: string, fromShape: number[]): string {
  return unbroadcast(ctx, v, fromShape, ctx.shapeOf(ctx.node.inputs[i]!));
}

/** The scalar value of a constant input, if it is a one-element constant. */
function constScalar(ctx: GradContext, name: string): number | undefined {
  const v = constFloats(ctx, name);
  return v && v.length === 1 ? v[0] : undefined;
}

/** A unary rule d = g * f(x, y) where f is emitted by `local`. */
function unary(local: (ctx: GradContext, g: string, x: string, y: string, dtype: DataType) => string): GradRule {
  return (ctx, [g]) => {
    if (!g || !ctx.needsGrad(0)) return [undefined];
    const { y, dtype } = out0(ctx);
    return [local(ctx, g, ctx.node.inputs[0]!, y, dtype)];
  };
}

const Add: GradRule = (ctx, [g]) => {
  if (!g) return [undefined, undefined];
  const { shape } = out0(ctx);
  return [ctx.needsGrad(0) ? toInput(ctx, 0, g, shape) : undefined, ctx.needsGrad(1) ? toInput(ctx, 1, g, shape) : undefined];
};

const Sub: GradRule = (ctx, [g]) => {
  if (!g) return [undefined, undefined];
  const { shape } = out0(ctx);
  return [
    ctx.needsGrad(0) ? toInput(ctx, 0, g, shape) : undefined,
    ctx.needsGrad(1) ? ctx.b.op('Neg', [toInput(ctx, 1, g, shape)]) : undefined,
  ];
};

const Mul: GradRule = (ctx, [g]) => {
  if (!g) return [undefined, undefined];
  const { shape } = out0(ctx);
  const [a, b] = ctx.node.inputs as [string, string];
  // x*x arrives with the same name in both slots: each slot gets g*x and the transform adds them.
  return [
    ctx.needsGrad(0) ? toInput(ctx, 0, ctx.b.op('Mul', [g, b]), shape) : undefined,
    ctx.needsGrad(1) ? toInput(ctx, 1, ctx.b.op('Mul', [g, a]), shape) : undefined,
  ];
};

const Div: GradRule = (ctx, [g]) => {
  if (!g) return [undefined, undefined];
  const { y, shape } = out0(ctx);
  const b = ctx.node.inputs[1]!;
  // d/da = g/b ; d/db = -g*a/b^2 = -(g/b)*y : both share g/b.
  const gOverB = ctx.b.op('Div', [g, b]);
  return [
    ctx.needsGrad(0) ? toInput(ctx, 0, gOverB, shape) : undefined,
    ctx.needsGrad(1) ? toInput(ctx, 1, ctx.b.op('Neg', [ctx.b.op('Mul', [gOverB, y])]), shape) : undefined,
  ];
};

const Pow: GradRule = (ctx, [g]) => {
  if (!g) return [undefined, undefined];
  const { y, shape, dtype } = out0(ctx);
  const [x, e] = ctx.node.inputs as [string, string];
  let dx: string | undefined;
  if (ctx.needsGrad(0)) {
    const c = constScalar(ctx, e);
    let local: string;
    if (c === 1) local = g;
    else if (c === 2) local = ctx.b.op('Mul', [g, ctx.b.op('Mul', [x, scalarConst(ctx, 2, dtype)])]);
    else if (c !== undefined) {
      // g * c * x^(c-1)
      const pw = c === 0.5 ? ctx.b.op('Reciprocal', [y]) : ctx.b.op('Pow', [x, scalarConst(ctx, c - 1, dtype)]);
      local = ctx.b.op('Mul', [g, ctx.b.op('Mul', [pw, scalarConst(ctx, c, dtype)])]);
    } else {
      const edt = ctx.dtypeOf(e);
      const eX = edt === dtype ? e : ctx.b.cast(e, dtype);
      const pw = ctx.b.op('Pow', [x, ctx.b.op('Sub', [eX, scalarConst(ctx, 1, dtype)])]);
      local = ctx.b.op('Mul', [g, ctx.b.op('Mul', [pw, eX])]);
    }
    dx = toInput(ctx, 0, local, shape);
  }
  let de: string | undefined;
  if (ctx.needsGrad(1)) {
    // d/de = g * y * ln(x); the exponent's dtype may differ from the base's (Pow T1/T2).
    let v = ctx.b.op('Mul', [ctx.b.op('Mul', [g, y]), ctx.b.op('Log', [x])]);
    v = toInput(ctx, 1, v, shape);
    const edt = ctx.dtypeOf(e);
    de = edt === dtype ? v : ctx.b.cast(v, edt);
  }
  return [dx, de];
};

const Sqrt = unary((ctx, g, _x, y, dt) => ctx.b.op('Div', [ctx.b.op('Mul', [g, scalarConst(ctx, 0.5, dt)]), y]));
const Exp = unary((ctx, g, _x, y) => ctx.b.op('Mul', [g, y]));
const Log = unary((ctx, g, x) => ctx.b.op('Div', [g, x]));
const Neg = unary((ctx, g) => ctx.b.op('Neg', [g]));
const Abs = unary((ctx, g, x) => ctx.b.op('Mul', [g, ctx.b.op('Sign', [x])]));
const Reciprocal = unary((ctx, g, _x, y) => ctx.b.op('Neg', [ctx.b.op('Mul', [g, ctx.b.op('Mul', [y, y])])]));
const Erf = unary((ctx, g, x, _y, dt) => {
  // d erf(x)/dx = 2/sqrt(pi) * exp(-x^2)
  const e = ctx.b.op('Exp', [ctx.b.op('Neg', [ctx.b.op('Mul', [x, x])])]);
  return ctx.b.op('Mul', [g, ctx.b.op('Mul', [e, scalarConst(ctx, 2 / Math.sqrt(Math.PI), dt)])]);
});
const Sigmoid = unary((ctx, g, _x, y, dt) => ctx.b.op('Mul', [g, ctx.b.op('Mul', [y, ctx.b.op('Sub', [scalarConst(ctx, 1, dt), y])])]));
const Tanh = unary((ctx, g, _x, y, dt) => ctx.b.op('Mul', [g, ctx.b.op('Sub', [scalarConst(ctx, 1, dt), ctx.b.op('Mul', [y, y])])]));
const Relu = unary((ctx, g, x, _y, dt) =>
  ctx.b.op('Where', [ctx.b.op('Greater', [x, scalarConst(ctx, 0, dt)]), g, scalarConst(ctx, 0, dt)]),
);
const LeakyRelu = unary((ctx, g, x, _y, dt) => {
  const alpha = attrFloat(ctx.node, 'alpha', 0.01);
  return ctx.b.op('Where', [ctx.b.op('Greater', [x, scalarConst(ctx, 0, dt)]), g, ctx.b.op('Mul', [g, scalarConst(ctx, alpha, dt)])]);
});
const Softplus = unary((ctx, g, x) => ctx.b.op('Mul', [g, ctx.b.op('Sigmoid', [x])]));
const Cos = unary((ctx, g, x) => ctx.b.op('Neg', [ctx.b.op('Mul', [g, ctx.b.op('Sin', [x])])]));
const Sin = unary((ctx, g, x) => ctx.b.op('Mul', [g, ctx.b.op('Cos', [x])]));
const Identity = unary((_ctx, g) => g);

/** Dropout at inference is the identity on output 0 (the mask output is not differentiable). */
const Dropout: GradRule = (ctx, [g]) => [g && ctx.needsGrad(0) ? g : undefined, undefined, undefined];

/**
 * Max/Min (variadic, broadcasting): the gradient goes to the operands equal to the result;
 * ties share it equally (as PyTorch's maximum/minimum do).
 */
const MaxMin: GradRule = (ctx, [g]) => {
  const n = ctx.node.inputs.length;
  if (!g) return new Array<undefined>(n).fill(undefined);
  const { y, shape, dtype } = out0(ctx);
  if (n === 1) return [ctx.needsGrad(0) ? g : undefined];
  const masks = ctx.node.inputs.map((x) => ctx.b.cast(ctx.b.op('Equal', [x, y]), dtype));
  const count = masks.length === 2 ? ctx.b.op('Add', masks) : ctx.b.op('Sum', masks);
  const gShared = ctx.b.op('Div', [g, count]);
  return ctx.node.inputs.map((_x, i) => (ctx.needsGrad(i) ? toInput(ctx, i, ctx.b.op('Mul', [gShared, masks[i]!]), shape) : undefined));
};

const Sum: GradRule = (ctx, [g]) => {
  if (!g) return ctx.node.inputs.map(() => undefined);
  const { shape } = out0(ctx);
  return ctx.node.inputs.map((_x, i) => (ctx.needsGrad(i) ? toInput(ctx, i, g, shape) : undefined));
};

const Mean: GradRule = (ctx, [g]) => {
  if (!g) return ctx.node.inputs.map(() => undefined);
  const { shape, dtype } = out0(ctx);
  const gs = ctx.b.op('Mul', [g, scalarConst(ctx, 1 / ctx.node.inputs.length, dtype)]);
  return ctx.node.inputs.map((_x, i) => (ctx.needsGrad(i) ? toInput(ctx, i, gs, shape) : undefined));
};

/**
 * Clip: the gradient passes where min <= x <= max (inclusive, like torch.clamp); the clipped
 * parts flow to min/max when those are differentiated inputs (opset >= 11 form).
 */
const Clip: GradRule = (ctx, [g]) => {
  const ins = ctx.node.inputs;
  if (!g) return ins.map(() => undefined);
  const { shape, dtype } = out0(ctx);
  const x = ins[0]!;
  const zero = scalarConst(ctx, 0, dtype);
  let lo = ins[1] || undefined;
  let hi = ins[2] || undefined;
  if (ctx.opset < 11) {
    lo = scalarConst(ctx, attrFloat(ctx.node, 'min', -3.4028234663852886e38), dtype);
    hi = scalarConst(ctx, attrFloat(ctx.node, 'max', 3.4028234663852886e38), dtype);
  }
  const below = lo ? ctx.b.op('Less', [x, lo]) : undefined;
  const above = hi ? ctx.b.op('Greater', [x, hi]) : undefined;
  const out = below && above ? ctx.b.op('Or', [below, above]) : (below ?? above);
  const res: Grads = [];
  res[0] = ctx.needsGrad(0) ? (out ? ctx.b.op('Where', [out, zero, g]) : g) : undefined;
  // min/max are scalars: sum the clipped-region gradient.
  if (ctx.opset >= 11) {
    if (ins[1] && ctx.needsGrad(1) && below) res[1] = toInput(ctx, 1, ctx.b.op('Where', [below, g, zero]), shape);
    if (ins[2] && ctx.needsGrad(2) && above) res[2] = toInput(ctx, 2, ctx.b.op('Where', [above, g, zero]), shape);
  }
  while (res.length < ins.length) res.push(undefined);
  return res;
};

/** Where(cond, a, b): the gradient of each branch is g masked by cond (cond is not differentiable). */
const Where: GradRule = (ctx, [g]) => {
  if (!g) return [undefined, undefined, undefined];
  const { shape, dtype } = out0(ctx);
  const c = ctx.node.inputs[0]!;
  const zero = scalarConst(ctx, 0, dtype);
  return [
    undefined,
    ctx.needsGrad(1) ? toInput(ctx, 1, ctx.b.op('Where', [c, g, zero]), shape) : undefined,
    ctx.needsGrad(2) ? toInput(ctx, 2, ctx.b.op('Where', [c, zero, g]), shape) : undefined,
  ];
};

/** Cast between float types: cast the gradient back. Casts from/to non-float types carry no gradient. */
const Cast: GradRule = (ctx, [g]) => {
  if (!g || !ctx.needsGrad(0)) return [undefined];
  const x = ctx.node.inputs[0]!;
  const from = ctx.dtypeOf(x);
  const to = attrInt(ctx.node, 'to', 0) as DataType;
  if (!isFloatType(from) || !isFloatType(to)) return [undefined];
  return [from === to ? g : ctx.b.cast(g, from)];
};

/** Gradient of x through CastLike is like Cast; the target-type input gets none. */
const CastLike: GradRule = (ctx, [g]) => {
  if (!g || !ctx.needsGrad(0)) return [undefined, undefined];
  const from = ctx.dtypeOf(ctx.node.inputs[0]!);
  const to = ctx.dtypeOf(ctx.node.outputs[0]!);
  if (!isFloatType(from) || !isFloatType(to)) return [undefined, undefined];
  return [from === to ? g : ctx.b.cast(g, from), undefined];
};

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
