/**
 * Gradient rules for the contraction ops: MatMul, Gemm and Einsum.
 *
 * MatMul/Gemm gradients are the transposed products; Einsum gradients are "reversed
 * equations" (contract the output cotangent with every other operand, producing the
 * operand's own subscripts), with the few corrections an equation cannot express itself:
 * labels that exist only in the operand (summed in the forward: broadcast back with Expand)
 * and size-1 ellipsis dimensions (broadcast in the forward: summed back).
 */
import { f } from '../../onnx/builder.js';
import { attrFloat, attrInt, attrString } from '../../onnx/ir.js';
import { broadcastShapes, numel, sameShape, swapLast2 } from '../../onnx/static-shape.js';
import { EngineError } from '../../errors.js';
import { singleOutput, type GradContext, type GradRule } from '../rule.js';

const matmul = singleOutput((ctx, gY) => {
  const { b } = ctx;
  const [aName, bName] = ctx.node.inputs as [string, string];
  const aS = ctx.shapeOf(aName);
  const bS = ctx.shapeOf(bName);
  if (aS.length === 0 || bS.length === 0) throw new EngineError('INVALID_MODEL', `MatMul node '${ctx.node.name}' has a scalar operand`);
  // Promote 1-D operands the way MatMul does (prepend / append a unit axis) and work on the promoted forms.
  const a2S = aS.length === 1 ? [1, aS[0]!] : aS;
  const b2S = bS.length === 1 ? [bS[0]!, 1] : bS;
  const batch = broadcastShapes(a2S.slice(0, -2), b2S.slice(0, -2));
  if (!batch) throw new EngineError('SHAPE_MISMATCH', `MatMul node '${ctx.node.name}': batch shapes [${aS}] and [${bS}] do not broadcast`);
  const [M, K, N] = [a2S[a2S.length - 2]!, a2S[a2S.length - 1]!, b2S[b2S.length - 1]!];
  const g2S = [...batch, M, N];
  const g2 = sameShape(ctx.shapeOf(gY), g2S) ? gY : b.reshape(gY, g2S);
  const a2 = () => (aS.length === 1 ? b.reshape(aName, a2S) : aName);
  const b2 = () => (bS.length === 1 ? b.reshape(bName, b2S) : bName);
  const reshapedTo = (d: string, from: number[], to: number[]) => (sameShape(from, to) ? d : b.reshape(d, to));

  // With a 2-D right operand (a weight) every batch row of A meets the same B: fold the batch into
  // the row axis and use 2-D products. Gemm's trans flags also keep the runtime from constant-
  // folding a transposed copy of the weight (a Transpose of an initializer would be).
  if (b2S.length === 2 && ctx.opset >= 11) {
    const rows = numel(batch) * M;
    const gRows = () => (batch.length > 0 ? b.reshape(g2, [rows, N]) : g2);
    return [
      // dA = g @ B^T
      () => reshapedTo(b.gemm(gRows(), b2(), { transB: 1 }), [rows, K], aS),
      // dB = A^T @ g with the batch summed inside the product (no [B,K,N] intermediate)
      () => {
        const af = batch.length > 0 || aS.length === 1 ? b.reshape(a2(), [rows, K]) : aName;
        return reshapedTo(b.gemm(af, gRows(), { transA: 1 }), b2S, bS);
      },
    ];
  }
  // Batched products; the transform sums them over the batch axes an operand was broadcast along
  // (1-D operands: summed to the promoted shape here, then reshaped).
  const unpromote = (d: string, promoted: number[], s: number[]) => (s.length === 1 ? b.reshape(b.sumTo(d, promoted), s) : d);
  return [
    () => unpromote(b.matmul(g2, b.transpose(b2(), swapLast2(b2S.length))), a2S, aS),
    () => unpromote(b.matmul(b.transpose(a2(), swapLast2(a2S.length)), g2), b2S, bS),
  ];
});

/** alpha * op(P) @ op(Q) for 2-D P, Q, as Gemm where C is optional (opset >= 11), else MatMul. */
function product2d(ctx: GradContext, p: string, q: string, transP: boolean, transQ: boolean, alpha: number): string {
  const { b } = ctx;
  if (ctx.opset >= 11) return b.gemm(p, q, { transA: transP ? 1 : 0, transB: transQ ? 1 : 0, alpha: f(alpha) });
  const pp = transP ? b.transpose(p, [1, 0]) : p;
  const qq = transQ ? b.transpose(q, [1, 0]) : q;
  return b.scale(b.matmul(pp, qq), alpha, ctx.dtypeOf(p));
}

/** Y = alpha * A' B' + beta * C with A' = op(A), B' = op(B). */
const gemm = singleOutput((ctx, gY) => {
  const [aName, bName, cName] = ctx.node.inputs as [string, string, string | undefined];
  const transA = attrInt(ctx.node, 'transA', 0) !== 0;
  const transB = attrInt(ctx.node, 'transB', 0) !== 0;
  const alpha = attrFloat(ctx.node, 'alpha', 1);
  const beta = attrFloat(ctx.node, 'beta', 1);
  return [
    // dA' = alpha * g B'^T; dA = dA' or its transpose (alpha * B' g^T)
    () => (transA ? product2d(ctx, bName, gY, transB, true, alpha) : product2d(ctx, gY, bName, false, !transB, alpha)),
    // dB' = alpha * A'^T g; dB = dB' or its transpose (alpha * g^T A')
    () => (transB ? product2d(ctx, gY, aName, true, transA, alpha) : product2d(ctx, aName, gY, !transA, false, alpha)),
    // scaled after the sum over C's broadcast axes
    () => ctx.b.scale(ctx.b.sumTo(gY, ctx.shapeOf(cName!)), beta, ctx.dtypeOf(gY)),
  ];
});

// ---- Einsum ----

interface EinsumTerms {
  /** Per operand, one label per axis (ellipsis axes get labels '.0', '.1', ... right-aligned). */
  inputs: string[][];
  output: string[];
}

const ELL = '.';

function parseTerm(term: string, rank: number, ellRank: number, where: string): string[] {
  const parts: string[] = [];
  let i = 0;
  let sawEll = false;
  while (i < term.length) {
    if (term.startsWith('...', i)) {
      if (sawEll) throw new EngineError('INVALID_MODEL', `${where}: more than one ellipsis in '${term}'`);
      sawEll = true;
      const n = rank < 0 ? ellRank : rank - term.replace('...', '').length;
      if (n < 0) throw new EngineError('INVALID_MODEL', `${where}: subscripts '${term}' do not match rank ${rank}`);
      for (let k = 0; k < n; k++) parts.push(`${ELL}${ellRank - n + k}`);
      i += 3;
    } else {
      const ch = term[i]!;
      if (!/[A-Za-z]/.test(ch)) throw new EngineError('INVALID_MODEL', `${where}: invalid subscript '${ch}'`);
      parts.push(ch);
      i++;
    }
  }
  if (rank >= 0 && parts.length !== rank)
    throw new EngineError('INVALID_MODEL', `${where}: subscripts '${term}' do not match rank ${rank}`);
  return parts;
}

/** Parse an Einsum equation against concrete operand ranks (explicit and implicit output forms). */
export function parseEinsum(equation: string, ranks: number[], where = 'Einsum'): EinsumTerms {
  const eq = equation.replace(/\s+/g, '');
  const [lhs, rhs] = eq.split('->') as [string, string | undefined];
  const terms = lhs.split(',');
  if (terms.length !== ranks.length)
    throw new EngineError('INVALID_MODEL', `${where}: equation '${equation}' has ${terms.length} terms for ${ranks.length} inputs`);
  const ellRank = Math.max(0, ...terms.map((t, i) => (t.includes('...') ? ranks[i]! - t.replace('...', '').length : 0)));
  const inputs = terms.map((t, i) => parseTerm(t, ranks[i]!, ellRank, where));
  let output: string[];
  if (rhs !== undefined) {
    output = parseTerm(rhs, -1, ellRank, where);
  } else {
    // Implicit form: ellipsis axes first, then the labels that occur exactly once, alphabetically.
    const count = new Map<string, number>();
    for (const t of inputs) for (const l of t) if (!l.startsWith(ELL)) count.set(l, (count.get(l) ?? 0) + 1);
    const ell = Array.from({ length: ellRank }, (_, k) => `${ELL}${k}`);
    output = [
      ...ell,
      ...[...count.entries()]
        .filter(([, c]) => c === 1)
        .map(([l]) => l)
        .sort(),
    ];
  }
  return { inputs, output };
}

const einsum = singleOutput((ctx, gY) => {
  const { b } = ctx;
  const ins = ctx.node.inputs;
  const where = `Einsum node '${ctx.node.name}'`;
  const shapes = ins.map((n) => ctx.shapeOf(n));
  const terms = parseEinsum(
    attrString(ctx.node, 'equation', ''),
    shapes.map((s) => s.length),
    where,
  );

  // Full (broadcast) size of every label.
  const size = new Map<string, number>();
  terms.inputs.forEach((t, i) =>
    t.forEach((l, ax) => {
      const d = shapes[i]![ax]!;
      const cur = size.get(l);
      if (cur === undefined || cur === 1) size.set(l, d);
      else if (d !== 1 && d !== cur) throw new EngineError('SHAPE_MISMATCH', `${where}: label ${l} has sizes ${cur} and ${d}`);
    }),
  );

  // Letters for the emitted equations: original letters keep their names, ellipsis labels get unused ones.
  const used = new Set([...terms.inputs.flat(), ...terms.output].filter((l) => !l.startsWith(ELL)));
  const spare = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'].filter((c) => !used.has(c));
  const letter = new Map<string, string>();
  const letterOf = (l: string): string => {
    if (!l.startsWith(ELL)) return l;
    let c = letter.get(l);
    if (!c) {
      c = spare.shift();
      if (!c) throw new EngineError('UNSUPPORTED_OP', `${where}: too many distinct subscripts`);
      letter.set(l, c);
    }
    return c;
  };

  const expandTo = (x: string, from: number[], to: number[]) => (sameShape(from, to) ? x : b.expand(x, to));
  // Operands as the reversed equations see them: size-1 broadcast axes expanded to full size.
  const fullShape = (i: number) => terms.inputs[i]!.map((l) => size.get(l)!);
  const expanded = new Map<number, string>();
  const operandFull = (i: number): string => {
    let v = expanded.get(i);
    if (!v) {
      v = expandTo(ins[i]!, shapes[i]!, fullShape(i));
      expanded.set(i, v);
    }
    return v;
  };

  const yTerm = terms.output.map(letterOf).join('');
  return ins.map((_x, i) => () => {
    const t = terms.inputs[i]!;
    if (new Set(t).size !== t.length) {
      throw new EngineError(
        'UNSUPPORTED_OP',
        `${where}: no gradient for repeated subscripts (diagonals) in operand ${i} of '${attrString(ctx.node, 'equation', '')}'`,
      );
    }
    const elsewhere = new Set<string>(terms.output);
    terms.inputs.forEach((u, j) => j !== i && u.forEach((l) => elsewhere.add(l)));
    // Keep an axis in the reversed equation's output only if it can be produced there at its own size.
    const keep = t.map((l, ax) => elsewhere.has(l) && !(shapes[i]![ax] === 1 && size.get(l)! > 1));
    const kept = t.filter((_, ax) => keep[ax]);
    const others = ins.map((_, j) => j).filter((j) => j !== i);
    const eq = `${[yTerm, ...others.map((j) => terms.inputs[j]!.map(letterOf).join(''))].join(',')}->${kept.map(letterOf).join('')}`;
    let d = b.op('Einsum', [gY, ...others.map(operandFull)], { equation: eq });
    const dropped = t.map((_, ax) => ax).filter((ax) => !keep[ax]);
    if (dropped.length > 0) {
      d = b.unsqueeze(d, dropped);
      // Labels private to this operand were summed away in the forward: every element gets the same cotangent.
      d = expandTo(
        d,
        t.map((l, ax) => (keep[ax] ? size.get(l)! : 1)),
        shapes[i]!,
      );
    }
    return d;
  });
});

export const rules: Record<string, GradRule> = {
  MatMul: matmul,
  Gemm: gemm,
  Einsum: einsum,
};
