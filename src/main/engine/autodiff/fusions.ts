/**
 * Multi-node gradient rules the transform applies before the per-op rules (attention cores,
 * SiLU / quick-GELU, erf GELU). Each matches from the LAST node of its pattern (the first one the reverse
 * sweep reaches), claims the pattern's nodes and contributes gradients to the pattern's inputs.
 *
 * Attention core: O = MatMul(P, V) with P = Softmax(S) over the last axis and P used nowhere
 * else. The per-op rules would compute dS = P * (dP - rowsum(dP * P)), three passes over the
 * [.., M, N] attention matrix plus a reduction over it. Since rowsum(dP * P) = rowsum(dO * O)
 * (dP = dO V^T, O = P V), the row sums come from the much smaller [.., M, Dv] tensors (the
 * identity memory-efficient attention kernels use). The subtraction is folded into the product
 * that makes dP, by appending rowsum to dO and a column of -1 to V:
 *   dP - rowsum = [dO, rowsum] @ [V, -1]^T,    dS = P * (dP - rowsum),
 * so the attention matrix is written once (the product) and read-modified once (the Mul),
 * against four passes and a reduction for the per-op rules.
 */
import { attrInt, isDefaultDomain, type Node } from '../onnx/ir.js';
import { numel, sameShape, swapLast2 } from '../onnx/static-shape.js';
import { constScalar, inputGradient, type GradContext } from './rule.js';
import { getRule } from './registry.js';

export interface FusionEnv {
  /** The node producing a value (undefined for inputs/initializers). */
  producer(name: string): Node | undefined;
  /** Number of nodes reading a value, plus 1 if it is a graph output. */
  uses(name: string): number;
  /** Whether a value is on the wrt -> output path. */
  onPath(name: string): boolean;
}

export interface FusionResult {
  /** What was fused, for the gradient nodes' doc_string ("vjp of <label>: ..."). */
  label: string;
  /** Forward nodes whose gradient this fusion produced (skip them later). */
  handled: Node[];
  /** Gradient contributions: value name -> gradient (shape/dtype of the value). */
  grads: [string, string][];
}

/** Whether a Softmax node normalises exactly over the last axis of its input. */
function softmaxOverLastAxis(ctx: Pick<GradContext, 'opset' | 'shapeOf'>, sm: Node): boolean {
  const rank = ctx.shapeOf(sm.inputs[0]!).length;
  const legacy = ctx.opset < 13;
  let axis = attrInt(sm, 'axis', legacy ? 1 : -1);
  if (axis < 0) axis += rank;
  return axis === rank - 1;
}

/**
 * Softmax -> MatMul attention core. Call with the MatMul node and a GradContext for it.
 * @returns undefined when the pattern does not apply (the caller falls back to per-op rules)
 */
export function attentionCore(ctx: GradContext, env: FusionEnv, gO: string): FusionResult | undefined {
  const mm = ctx.node;
  if (mm.opType !== 'MatMul' || !isDefaultDomain(mm.domain)) return undefined;
  const [p, v] = mm.inputs as [string, string];
  const sm = env.producer(p);
  if (!sm || sm.opType !== 'Softmax' || !isDefaultDomain(sm.domain)) return undefined;
  if (!env.onPath(p) || env.uses(p) !== 1 || p === v) return undefined;
  const s = sm.inputs[0]!;
  const o = mm.outputs[0]!;
  const pS = ctx.shapeOf(p);
  const vS = ctx.shapeOf(v);
  const oS = ctx.shapeOf(o);
  // P must not be broadcast by the MatMul (else dP is a batch sum and the row-sum identity breaks).
  if (pS.length < 2 || vS.length < 2 || !sameShape(pS.slice(0, -2), oS.slice(0, -2))) return undefined;
  if (!softmaxOverLastAxis(ctx, sm)) return undefined;
  const { b } = ctx;
  const grads: [string, string][] = [];
  if (ctx.needsGrad(1)) {
    // dV = P^T dO from the MatMul rule itself (same emission as the unfused path)
    const dV = inputGradient(ctx, getRule('MatMul')!(ctx, [gO])[1], 1);
    if (dV) grads.push([v, dV]);
  }
  if (env.onPath(s)) {
    // dP - rowsum(dO*O) in ONE product: [dO, rowsum] @ [V, -1]^T, so the subtraction never
    // makes a pass over the [.., M, N] matrix (and the sign rides on the constant column: no
    // Neg); then dS = P * (that).
    const rows = b.reduceSum(b.mul(gO, o), [oS.length - 1], true); // [.., M, 1]
    const gAug = b.concat([gO, rows], -1); // [.., M, Dv+1]
    const minusOnes = b.constantOfShape(b.int64Const([...vS.slice(0, -1), 1], 'shape'), -1, ctx.dtypeOf(o));
    const vAug = b.concat([v, minusOnes], -1); // [.., N, Dv+1]
    const dPc = b.matmul(gAug, b.transpose(vAug, swapLast2(vS.length))); // [.., M, N]
    grads.push([s, b.mul(p, dPc)]);
  }
  return { label: 'attention core', handled: [mm, sm], grads };
}

/**
 * SiLU / quick-GELU: y = x * Sigmoid(a * x) (a = 1 for SiLU, 1.702 for CLIP's quick GELU), the
 * sigmoid used only by this Mul. Per-op rules would read the sigmoid's output, which stops
 * onnxruntime from fusing the forward pair into one kernel (QuickGelu) and costs six passes.
 * Recomputing s = Sigmoid(a x) keeps the forward fusable, and with y available
 *   dy/dx = s (1 + a x (1 - s)) = s (1 + a (x - y)),
 * five passes in all.
 */
export function siluPattern(ctx: GradContext, env: FusionEnv, g: string): FusionResult | undefined {
  const mul = ctx.node;
  if (mul.opType !== 'Mul' || !isDefaultDomain(mul.domain)) return undefined;
  const [i0, i1] = mul.inputs as [string, string];
  for (const [x, sgOut] of [
    [i0, i1],
    [i1, i0],
  ] as const) {
    const sg = env.producer(sgOut);
    if (!sg || sg.opType !== 'Sigmoid' || !isDefaultDomain(sg.domain) || env.uses(sgOut) !== 1) continue;
    const u = sg.inputs[0]!;
    let alpha: number | undefined;
    let scaleNode: Node | undefined;
    if (u === x) alpha = 1;
    else {
      const m = env.producer(u);
      if (!m || m.opType !== 'Mul' || !isDefaultDomain(m.domain) || env.uses(u) !== 1) continue;
      const other = m.inputs[0] === x ? m.inputs[1]! : m.inputs[1] === x ? m.inputs[0]! : undefined;
      const c = constScalar(ctx, other);
      if (c === undefined) continue;
      alpha = c;
      scaleNode = m;
    }
    const y = mul.outputs[0]!;
    const shape = ctx.shapeOf(y);
    if (!sameShape(ctx.shapeOf(x), shape)) continue; // x must not be broadcast by the Mul
    const dt = ctx.dtypeOf(y);
    const handled = scaleNode ? [mul, sg, scaleNode] : [mul, sg];
    if (!env.onPath(x)) return { label: 'silu', handled, grads: [] };
    const b = ctx.b;
    // Sigmoid of a flattened view: the same values, but onnxruntime's common-subexpression pass
    // cannot merge it with the forward Sigmoid (which would block the forward fusion again).
    // Reshape is free (the output aliases its input).
    const flat = b.reshape(x, [numel(shape)]);
    const s = b.reshape(b.unary('Sigmoid', alpha === 1 ? flat : b.mul(flat, b.scalarConst(alpha, dt))), shape);
    const t = alpha === 1 ? b.sub(x, y) : b.mul(b.sub(x, y), b.scalarConst(alpha, dt));
    const d = b.mul(s, b.add(t, b.scalarConst(1, dt)));
    return { label: 'silu', handled, grads: [[x, b.mul(g, d)]] };
  }
  return undefined;
}

/** The other input of a binary node when one input is `x`, else undefined. */
function otherInput(n: Node, x: string): string | undefined {
  return n.inputs[0] === x ? n.inputs[1] : n.inputs[1] === x ? n.inputs[0] : undefined;
}

/**
 * Exact (erf) GELU as PyTorch exports it: y = (x * (Erf(x / sqrt 2) + 1)) * 0.5, the division
 * also written as Mul by 1/sqrt 2, operands of Add/Mul in either order, every intermediate used
 * only inside the pattern. Per-op rules would read the Erf/Add outputs, which stops onnxruntime
 * from fusing the forward chain into one Gelu kernel, and take ten passes over x. The constants
 * are read from the graph (fp16 exports round sqrt 2), so for y = h x (a + erf(k x))
 *   dy/dx = h (a + erf(k x) + (2k / sqrt(pi)) x exp(-(k x)^2))
 * is computed from x alone (the erf on a flattened view, like the SiLU rule): the forward stays
 * one fused kernel and the gradient is exactly that of the graph's function.
 */
export function geluPattern(ctx: GradContext, env: FusionEnv, g: string): FusionResult | undefined {
  const outer = ctx.node;
  if (outer.opType !== 'Mul' || !isDefaultDomain(outer.domain)) return undefined;
  const is = (n: Node | undefined, op: string): n is Node => n !== undefined && n.opType === op && isDefaultDomain(n.domain);
  for (const [inner, hName] of [
    [outer.inputs[0]!, outer.inputs[1]!],
    [outer.inputs[1]!, outer.inputs[0]!],
  ] as const) {
    const h = constScalar(ctx, hName);
    const m1 = env.producer(inner);
    if (h === undefined || !is(m1, 'Mul') || env.uses(inner) !== 1) continue;
    for (const [x, aOut] of [
      [m1.inputs[0]!, m1.inputs[1]!],
      [m1.inputs[1]!, m1.inputs[0]!],
    ] as const) {
      const add = env.producer(aOut);
      if (!is(add, 'Add') || env.uses(aOut) !== 1) continue;
      const eOut = add.inputs.find((i) => is(env.producer(i), 'Erf'));
      const a = eOut === undefined ? undefined : constScalar(ctx, otherInput(add, eOut) ?? '');
      if (eOut === undefined || a === undefined || env.uses(eOut) !== 1) continue;
      const erf = env.producer(eOut)!;
      const zOut = erf.inputs[0]!;
      const sc = env.producer(zOut);
      if (!sc || env.uses(zOut) !== 1 || !isDefaultDomain(sc.domain)) continue;
      let k: number | undefined;
      if (sc.opType === 'Div' && sc.inputs[0] === x) {
        const d = constScalar(ctx, sc.inputs[1]!);
        k = d ? 1 / d : undefined;
      } else if (sc.opType === 'Mul') k = constScalar(ctx, otherInput(sc, x) ?? '');
      if (k === undefined) continue;
      const shape = ctx.shapeOf(outer.outputs[0]!);
      if (!sameShape(ctx.shapeOf(x), shape)) continue; // x must not be broadcast anywhere in the chain
      const handled = [outer, m1, add, erf, sc];
      if (!env.onPath(x)) return { label: 'gelu', handled, grads: [] };
      const b = ctx.b;
      const dt = ctx.dtypeOf(x);
      const c = (v: number): string => b.scalarConst(v, dt);
      const flat = b.reshape(x, [numel(shape)]);
      const z = b.mul(flat, c(k));
      const gauss = b.unary('Exp', b.mul(b.mul(flat, c(-k)), z)); // exp(-(k x)^2)
      const t = b.mul(gauss, b.mul(flat, c((2 * k) / Math.sqrt(Math.PI))));
      const d = b.add(b.add(b.unary('Erf', z), c(a)), t);
      const dx = b.mul(b.mul(g, c(h)), b.reshape(d, shape));
      return { label: 'gelu', handled, grads: [[x, dx]] };
    }
  }
  return undefined;
}
