/**
 * Gradient rules for InstanceNormalization, GroupNormalization and LayerNormalization.
 *
 * All three normalise x over a set of axes R (n elements) and then apply an affine map:
 *   xhat = (x - mean_R(x)) * rstd,  rstd = 1 / sqrt(var_R(x) + eps),  y = xhat * scale + bias.
 * With dxhat = g * scale the closed-form input gradient is
 *   dx = rstd * (dxhat - mean_R(dxhat) - xhat * mean_R(dxhat * xhat)),
 * dscale = sum(g * xhat) and dbias = sum(g) over the axes scale/bias are broadcast along.
 *
 * LayerNormalization reads its forward node's own Mean / InvStdDev outputs (see forwardStats);
 * the other two recompute the statistics from x (they have no such outputs). When the node's
 * affine map is the identity (constant scale 1 and bias 0: how exporters write GroupNorm, as
 * InstanceNormalization followed by a separate Mul/Add), xhat is the node's own output and is
 * not recomputed, and a unit scale is never multiplied in: the input gradient then takes ten
 * passes over x-sized tensors instead of thirteen.
 *
 * fp16 activations are upcast to float32 for the statistics and the gradient (what the ops'
 * `stash_type` does in the forward) and the gradients are cast back to the activation type.
 */
import { attrFloat, attrInt } from '../../onnx/ir.js';
import { DataType } from '../../onnx/dtype.js';
import { EngineError } from '../../errors.js';
import type { GradContext, GradRule } from '../rule.js';
import { constFloats, normAxis, numel, reduceSum, reshapeTo, sameShape, scalarConst, unbroadcast } from '../broadcast.js';

/** The dtype the statistics are computed in for activations of `dtype`. */
function computeType(dtype: DataType): DataType {
  return dtype === DataType.FLOAT16 || dtype === DataType.BFLOAT16 ? DataType.FLOAT : dtype;
}

function castTo(ctx: GradContext, x: string, from: DataType, to: DataType): string {
  return from === to ? x : ctx.b.cast(x, to);
}

interface Normalised {
  /** (x - mean) * rstd, in the compute type, shape of x. */
  xhat: string;
  /** 1/sqrt(var + eps) with the reduced axes kept (size 1). */
  rstd: string;
}

/**
 * Recompute the statistics of `x` (already in compute type `ct`) over `axes`; `xhat` is the
 * normalised value when the caller already has it (the node's output).
 */
function normalise(ctx: GradContext, x: string, axes: number[], eps: number, ct: DataType, xhat?: string): Normalised {
  const mean = ctx.b.reduce('ReduceMean', x, axes, true);
  const d = ctx.b.op('Sub', [x, mean]);
  // ReduceMean(d * d) rather than ReduceSumSquare(d): onnxruntime's ReduceSumSquare is a slower,
  // sequentially accumulating kernel (measured 1.5x the time of Mul + ReduceMean, and 2-3x the
  // error against PyTorch on the VAE decoder fixture)
  const v = ctx.b.reduce('ReduceMean', ctx.b.op('Mul', [d, d]), axes, true);
  // one Pow instead of Sqrt + Reciprocal: each node on these [N, G, 1]-sized values costs a kernel dispatch
  const rstd = ctx.b.op('Pow', [ctx.b.op('Add', [v, scalarConst(ctx, eps, ct)]), scalarConst(ctx, -0.5, ct)]);
  return { xhat: xhat ?? ctx.b.op('Mul', [d, rstd]), rstd };
}

/** dx from dxhat = g * scale for a normalisation over `axes`: four passes after the two means. */
function inputGrad(ctx: GradContext, dxhat: string, n: Normalised, axes: number[]): string {
  const m1 = ctx.b.reduce('ReduceMean', dxhat, axes, true);
  const m2 = ctx.b.reduce('ReduceMean', ctx.b.op('Mul', [dxhat, n.xhat]), axes, true);
  const inner = ctx.b.op('Sub', [ctx.b.op('Sub', [dxhat, ctx.b.op('Mul', [n.xhat, m2])]), m1]);
  return ctx.b.op('Mul', [inner, n.rstd]);
}

/** Whether `name` is a constant whose every element equals `v`. */
function constAll(ctx: GradContext, name: string | undefined, v: number): boolean {
  const c = constFloats(ctx, name);
  return c !== undefined && c.length > 0 && c.every((e) => e === v);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

const instanceNorm: GradRule = (ctx, [g]) => {
  const [xName, sName] = ctx.node.inputs as [string, string, string];
  const out: (string | undefined)[] = [undefined, undefined, undefined];
  if (!g) return out;
  const xS = ctx.shapeOf(xName);
  if (xS.length < 3) throw new EngineError('INVALID_MODEL', `InstanceNormalization node '${ctx.node.name}' needs an input of rank >= 3`);
  const dt = ctx.dtypeOf(xName);
  const ct = computeType(dt);
  const C = xS[1]!;
  const spatial = range(2, xS.length);
  const eps = attrFloat(ctx.node, 'epsilon', 1e-5);
  const x = castTo(ctx, xName, dt, ct);
  const gc = castTo(ctx, g, dt, ct);
  const unitScale = constAll(ctx, sName, 1);
  // identity affine map: the output is xhat itself (only exact when no cast intervenes)
  const identity = unitScale && constAll(ctx, ctx.node.inputs[2], 0) && dt === ct;
  const n = normalise(ctx, x, spatial, eps, ct, identity ? ctx.node.outputs[0] : undefined);
  if (ctx.needsGrad(0)) {
    const dxhat = unitScale ? gc : ctx.b.op('Mul', [gc, reshapeTo(ctx, castTo(ctx, sName, dt, ct), [C, ...spatial.map(() => 1)])]);
    out[0] = castTo(ctx, inputGrad(ctx, dxhat, n, spatial), ct, dt);
  }
  if (ctx.needsGrad(1)) out[1] = castTo(ctx, reduceSum(ctx, ctx.b.op('Mul', [gc, n.xhat]), [0, ...spatial], false), ct, dt);
  if (ctx.needsGrad(2)) out[2] = castTo(ctx, reduceSum(ctx, gc, [0, ...spatial], false), ct, dt);
  return out;
};

const groupNorm: GradRule = (ctx, [g]) => {
  const [xName, sName] = ctx.node.inputs as [string, string, string];
  const out: (string | undefined)[] = [undefined, undefined, undefined];
  if (!g) return out;
  const where = `GroupNormalization node '${ctx.node.name}'`;
  const xS = ctx.shapeOf(xName);
  if (xS.length < 2) throw new EngineError('INVALID_MODEL', `${where} needs an input of rank >= 2`);
  const N = xS[0]!;
  const C = xS[1]!;
  const G = attrInt(ctx.node, 'num_groups');
  if (G === undefined || G <= 0 || C % G !== 0)
    throw new EngineError('INVALID_MODEL', `${where}: num_groups ${G} does not divide ${C} channels`);
  const Cg = C / G;
  const S = numel(xS.slice(2));
  // Opset 18 scales each group ([G]); opset 21 fixed the op to scale each channel ([C]).
  const perChannel = ctx.opset >= 21;
  const paramShape = [perChannel ? C : G];
  const sS = ctx.shapeOf(sName);
  if (!sameShape(sS, paramShape)) {
    throw new EngineError(
      'INVALID_MODEL',
      `${where}: scale has shape [${sS.join(',')}], expected [${paramShape.join(',')}] at opset ${ctx.opset}`,
    );
  }
  const dt = ctx.dtypeOf(xName);
  const ct = computeType(dt);
  const eps = attrFloat(ctx.node, 'epsilon', 1e-5);
  // Work on [N, G, C/G, S]: statistics over axes 2 and 3.
  const shape4 = [N, G, Cg, S];
  const axes = [2, 3];
  const x = reshapeTo(ctx, castTo(ctx, xName, dt, ct), shape4);
  const gc = reshapeTo(ctx, castTo(ctx, g, dt, ct), shape4);
  const n = normalise(ctx, x, axes, eps, ct);
  if (ctx.needsGrad(0)) {
    const dxhat = constAll(ctx, sName, 1)
      ? gc
      : ctx.b.op('Mul', [gc, reshapeTo(ctx, castTo(ctx, sName, dt, ct), perChannel ? [G, Cg, 1] : [G, 1, 1])]);
    const dx = inputGrad(ctx, dxhat, n, axes);
    out[0] = castTo(ctx, reshapeTo(ctx, dx, xS), ct, dt);
  }
  const paramAxes = perChannel ? [0, 3] : [0, 2, 3];
  if (ctx.needsGrad(1)) {
    const d = reduceSum(ctx, ctx.b.op('Mul', [gc, n.xhat]), paramAxes, false);
    out[1] = castTo(ctx, perChannel ? reshapeTo(ctx, d, paramShape) : d, ct, dt);
  }
  if (ctx.needsGrad(2)) {
    const d = reduceSum(ctx, gc, paramAxes, false);
    out[2] = castTo(ctx, perChannel ? reshapeTo(ctx, d, paramShape) : d, ct, dt);
  }
  return out;
};

/**
 * LayerNormalization's own Mean and InvStdDev (the optional outputs; onnxruntime computes them
 * in every case) when they are in the compute type, else undefined. Taking them from the forward
 * saves four passes over x and keeps the gradient consistent with the statistics the forward
 * actually used.
 */
function forwardStats(ctx: GradContext, statShape: number[], ct: DataType): { mean: string; rstd: string } | undefined {
  if (!ctx.forwardOutput || attrInt(ctx.node, 'stash_type', DataType.FLOAT) !== ct) return undefined;
  const mean = ctx.forwardOutput(1, statShape, ct);
  const rstd = mean === undefined ? undefined : ctx.forwardOutput(2, statShape, ct);
  return mean !== undefined && rstd !== undefined ? { mean, rstd } : undefined;
}

const layerNorm: GradRule = (ctx, [g, gMean, gInvStd]) => {
  const [xName, sName, bName] = ctx.node.inputs as [string, string, string | undefined];
  const out: (string | undefined)[] = ctx.node.inputs.map(() => undefined);
  if (!g && !gMean && !gInvStd) return out;
  const xS = ctx.shapeOf(xName);
  const axis = normAxis(attrInt(ctx.node, 'axis', -1), xS.length);
  const axes = range(axis, xS.length);
  const count = numel(xS.slice(axis));
  const dt = ctx.dtypeOf(xName);
  const ct = computeType(dt);
  const eps = attrFloat(ctx.node, 'epsilon', 1e-5);
  const x = castTo(ctx, xName, dt, ct);
  const stats = forwardStats(
    ctx,
    xS.map((d, i) => (i < axis ? d : 1)),
    ct,
  );
  // With the forward's statistics: d = x - mean, and xhat = d * rstd only where it is needed.
  let n: Normalised;
  let centred: string | undefined;
  if (stats) {
    const d = ctx.b.op('Sub', [x, stats.mean]);
    centred = d;
    let xhat: string | undefined;
    n = {
      rstd: stats.rstd,
      get xhat() {
        return (xhat ??= ctx.b.op('Mul', [d, stats.rstd]));
      },
    };
  } else n = normalise(ctx, x, axes, eps, ct);
  const gc = g ? castTo(ctx, g, dt, ct) : undefined;

  if (ctx.needsGrad(0)) {
    const parts: string[] = [];
    if (gc) {
      const dxhat = constAll(ctx, sName, 1) ? gc : ctx.b.op('Mul', [gc, castTo(ctx, sName, ctx.dtypeOf(sName), ct)]);
      if (centred) {
        // rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) with xhat = d rstd:
        // the xhat term is d * (rstd^2 mean(dxhat d)), a per-row factor, so xhat is never formed
        const m1 = ctx.b.reduce('ReduceMean', dxhat, axes, true);
        const m2 = ctx.b.reduce('ReduceMean', ctx.b.op('Mul', [dxhat, centred]), axes, true);
        const k = ctx.b.op('Mul', [ctx.b.op('Mul', [n.rstd, n.rstd]), m2]);
        const inner = ctx.b.op('Sub', [ctx.b.op('Sub', [dxhat, ctx.b.op('Mul', [centred, k])]), m1]);
        parts.push(ctx.b.op('Mul', [inner, n.rstd]));
      } else parts.push(inputGrad(ctx, dxhat, n, axes));
    }
    // Mean and InvStdDev are outputs too (rarely consumed); their cotangents flow into x as well.
    if (gMean) {
      const gm = castTo(ctx, gMean, ctx.dtypeOf(gMean), ct);
      parts.push(ctx.b.op('Mul', [gm, scalarConst(ctx, 1 / count, ct)]));
    }
    if (gInvStd) {
      // d rstd / dx = -rstd^2 * xhat / n
      const gi = castTo(ctx, gInvStd, ctx.dtypeOf(gInvStd), ct);
      const coef = ctx.b.op('Mul', [ctx.b.op('Mul', [gi, ctx.b.op('Mul', [n.rstd, n.rstd])]), scalarConst(ctx, -1 / count, ct)]);
      parts.push(ctx.b.op('Mul', [n.xhat, coef]));
    }
    let dx = parts[0]!;
    for (const p of parts.slice(1)) dx = ctx.b.op('Add', [dx, p]);
    if (!gc) dx = ctx.b.op('Expand', [dx, ctx.b.int64s(xS, 'shape')]);
    out[0] = castTo(ctx, dx, ct, dt);
  }
  if (gc && ctx.needsGrad(1)) {
    const sS = ctx.shapeOf(sName);
    out[1] = castTo(ctx, unbroadcast(ctx, ctx.b.op('Mul', [gc, n.xhat]), xS, sS), ct, ctx.dtypeOf(sName));
  }
  if (gc && bName && ctx.needsGrad(2)) {
    out[2] = castTo(ctx, unbroadcast(ctx, gc, xS, ctx.shapeOf(bName)), ct, ctx.dtypeOf(bName));
  }
  return out;
};

export const rules: Record<string, GradRule> = {
  InstanceNormalization: instanceNorm,
  GroupNormalization: groupNorm,
  LayerNormalization: layerNorm,
};
