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
import { numel, range, sameShape } from '../../onnx/static-shape.js';
import { EngineError } from '../../errors.js';
import { constFloats, normAxis, singleOutput, type GradContext, type GradRule } from '../rule.js';

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
function normalise({ b }: GradContext, x: string, axes: number[], eps: number, ct: DataType, xhat?: string): Normalised {
  const d = b.sub(x, b.reduce('ReduceMean', x, axes, true));
  // ReduceMean(d * d) rather than ReduceSumSquare(d): onnxruntime's ReduceSumSquare is a slower,
  // sequentially accumulating kernel (measured 1.5x the time of Mul + ReduceMean, and 2-3x the
  // error against PyTorch on the VAE decoder fixture)
  const v = b.reduce('ReduceMean', b.mul(d, d), axes, true);
  // one Pow instead of Sqrt + Reciprocal: each node on these [N, G, 1]-sized values costs a kernel dispatch
  const rstd = b.pow(b.add(v, b.scalarConst(eps, ct)), b.scalarConst(-0.5, ct));
  return { xhat: xhat ?? b.mul(d, rstd), rstd };
}

/** dx from dxhat = g * scale for a normalisation over `axes`: four passes after the two means. */
function inputGrad({ b }: GradContext, dxhat: string, n: Normalised, axes: number[]): string {
  const m1 = b.reduce('ReduceMean', dxhat, axes, true);
  const m2 = b.reduce('ReduceMean', b.mul(dxhat, n.xhat), axes, true);
  return b.mul(b.sub(b.sub(dxhat, b.mul(n.xhat, m2)), m1), n.rstd);
}

/** Whether `name` is a constant whose every element equals `v`. */
function constAll(ctx: GradContext, name: string | undefined, v: number): boolean {
  const c = constFloats(ctx, name);
  return c !== undefined && c.length > 0 && c.every((e) => e === v);
}

const instanceNorm = singleOutput((ctx, g) => {
  const { b } = ctx;
  const [xName, sName] = ctx.node.inputs as [string, string, string];
  const xS = ctx.shapeOf(xName);
  if (xS.length < 3) throw new EngineError('INVALID_MODEL', `InstanceNormalization node '${ctx.node.name}' needs an input of rank >= 3`);
  const dt = ctx.dtypeOf(xName);
  const ct = computeType(dt);
  const spatial = range(2, xS.length);
  const x = castTo(ctx, xName, dt, ct);
  const gc = castTo(ctx, g, dt, ct);
  const unitScale = constAll(ctx, sName, 1);
  // identity affine map: the output is xhat itself (only exact when no cast intervenes)
  const identity = unitScale && constAll(ctx, ctx.node.inputs[2], 0) && dt === ct;
  const n = normalise(ctx, x, spatial, attrFloat(ctx.node, 'epsilon', 1e-5), ct, identity ? ctx.node.outputs[0] : undefined);
  const sum = (v: string) => castTo(ctx, b.reduceSum(v, [0, ...spatial], false), ct, dt);
  return [
    () => {
      const dxhat = unitScale ? gc : b.mul(gc, b.reshape(castTo(ctx, sName, dt, ct), [xS[1]!, ...spatial.map(() => 1)]));
      return castTo(ctx, inputGrad(ctx, dxhat, n, spatial), ct, dt);
    },
    () => sum(b.mul(gc, n.xhat)),
    () => sum(gc),
  ];
});

const groupNorm = singleOutput((ctx, g) => {
  const { b } = ctx;
  const [xName, sName] = ctx.node.inputs as [string, string, string];
  const where = `GroupNormalization node '${ctx.node.name}'`;
  const xS = ctx.shapeOf(xName);
  if (xS.length < 2) throw new EngineError('INVALID_MODEL', `${where} needs an input of rank >= 2`);
  const [N, C] = xS as [number, number];
  const G = attrInt(ctx.node, 'num_groups');
  if (G === undefined || G <= 0 || C % G !== 0)
    throw new EngineError('INVALID_MODEL', `${where}: num_groups ${G} does not divide ${C} channels`);
  const Cg = C / G;
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
  // Work on [N, G, C/G, S]: statistics over axes 2 and 3.
  const shape4 = [N, G, Cg, numel(xS.slice(2))];
  const axes = [2, 3];
  const x = b.reshape(castTo(ctx, xName, dt, ct), shape4);
  const gc = b.reshape(castTo(ctx, g, dt, ct), shape4);
  const n = normalise(ctx, x, axes, attrFloat(ctx.node, 'epsilon', 1e-5), ct);
  const paramGrad = (v: string) => {
    const d = b.reduceSum(v, perChannel ? [0, 3] : [0, 2, 3], false);
    return castTo(ctx, perChannel ? b.reshape(d, paramShape) : d, ct, dt);
  };
  return [
    () => {
      const dxhat = constAll(ctx, sName, 1) ? gc : b.mul(gc, b.reshape(castTo(ctx, sName, dt, ct), perChannel ? [G, Cg, 1] : [G, 1, 1]));
      return castTo(ctx, b.reshape(inputGrad(ctx, dxhat, n, axes), xS), ct, dt);
    },
    () => paramGrad(b.mul(gc, n.xhat)),
    () => paramGrad(gc),
  ];
});

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
  const { b } = ctx;
  const [xName, sName, bName] = ctx.node.inputs as [string, string, string | undefined];
  const xS = ctx.shapeOf(xName);
  const axis = normAxis(attrInt(ctx.node, 'axis', -1), xS.length);
  const axes = range(axis, xS.length);
  const count = numel(xS.slice(axis));
  const dt = ctx.dtypeOf(xName);
  const ct = computeType(dt);
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
    const d = b.sub(x, stats.mean);
    centred = d;
    let xhat: string | undefined;
    n = {
      rstd: stats.rstd,
      get xhat() {
        return (xhat ??= b.mul(d, stats.rstd));
      },
    };
  } else n = normalise(ctx, x, axes, attrFloat(ctx.node, 'epsilon', 1e-5), ct);
  const gc = g ? castTo(ctx, g, dt, ct) : undefined;

  const dx = (): string => {
    const parts: string[] = [];
    if (gc) {
      const dxhat = constAll(ctx, sName, 1) ? gc : b.mul(gc, castTo(ctx, sName, ctx.dtypeOf(sName), ct));
      if (centred) {
        // rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) with xhat = d rstd:
        // the xhat term is d * (rstd^2 mean(dxhat d)), a per-row factor, so xhat is never formed
        const m1 = b.reduce('ReduceMean', dxhat, axes, true);
        const m2 = b.reduce('ReduceMean', b.mul(dxhat, centred), axes, true);
        const k = b.mul(b.mul(n.rstd, n.rstd), m2);
        parts.push(b.mul(b.sub(b.sub(dxhat, b.mul(centred, k)), m1), n.rstd));
      } else parts.push(inputGrad(ctx, dxhat, n, axes));
    }
    // Mean and InvStdDev are outputs too (rarely consumed); their cotangents flow into x as well.
    if (gMean) parts.push(b.mul(castTo(ctx, gMean, ctx.dtypeOf(gMean), ct), b.scalarConst(1 / count, ct)));
    if (gInvStd) {
      // d rstd / dx = -rstd^2 * xhat / n
      const gi = castTo(ctx, gInvStd, ctx.dtypeOf(gInvStd), ct);
      const coef = b.mul(b.mul(gi, b.mul(n.rstd, n.rstd)), b.scalarConst(-1 / count, ct));
      parts.push(b.mul(n.xhat, coef));
    }
    const sum = parts.slice(1).reduce((acc, p) => b.add(acc, p), parts[0]!);
    return castTo(ctx, gc ? sum : b.expand(sum, xS), ct, dt);
  };
  // scale/bias gradients summed to their shape before the cast to their dtype
  const paramGrad = (v: string, p: string) => castTo(ctx, b.sumTo(v, ctx.shapeOf(p)), ct, ctx.dtypeOf(p));
  return gc ? [dx, () => paramGrad(b.mul(gc, n.xhat), sName), () => paramGrad(gc, bName!)] : [dx];
};

export const rules: Record<string, GradRule> = {
  InstanceNormalization: instanceNorm,
  GroupNormalization: groupNorm,
  LayerNormalization: layerNorm,
};
