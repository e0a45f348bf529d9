/**
 * Training losses as graph fragments (standard ai.onnx ops that all have gradient rules), added
 * to a forward model with a GraphBuilder. Every loss is a float32 scalar; callers add it with
 * `addScalarOutput`. Targets are graph inputs the data stream feeds.
 *
 *   meanSquaredError     mean((y - t)^2)
 *   softmaxCrossEntropy  mean over rows of -sum_k t_k log softmax(z)_k   (t one-hot or soft labels)
 *   infoNce              CLIP's symmetric contrastive loss over a batch of paired embeddings
 *   gaussianKl           mean of 0.5 (mu^2 + exp(logvar) - 1 - logvar) (a VAE's KL to N(0, 1))
 */
import type { GraphBuilder } from '../onnx/builder.js';
import { DataType } from '../onnx/dtype.js';

/** mean((y - t)^2) over all elements. */
export function meanSquaredError(b: GraphBuilder, y: string, t: string, rank: number): string {
  const d = b.op('Sub', [y, t]);
  return b.reduce('ReduceMean', b.op('Mul', [d, d]), range(rank), false);
}

/** mean(|y - t|) over all elements. */
export function meanAbsoluteError(b: GraphBuilder, y: string, t: string, rank: number): string {
  return b.reduce('ReduceMean', b.op('Abs', [b.op('Sub', [y, t])]), range(rank), false);
}

/**
 * Cross-entropy of logits [B, K] against target distributions [B, K] (one-hot rows for class
 * labels), averaged over the batch.
 */
export function softmaxCrossEntropy(b: GraphBuilder, logits: string, targets: string): string {
  const lp = b.op('LogSoftmax', [logits], { axis: -1 });
  const perRow = b.reduceSum(b.op('Mul', [lp, targets]), [1], false);
  return b.op('Neg', [b.reduce('ReduceMean', perRow, [0], false)]);
}

/** x / max(||x||, eps) along the last axis of [B, D]. */
export function l2Normalise(b: GraphBuilder, x: string, eps = 1e-6): string {
  const n = b.op('Sqrt', [b.reduceSum(b.op('Mul', [x, x]), [1], true)]);
  return b.op('Div', [x, b.op('Max', [n, b.scalar(eps, DataType.FLOAT, 'norm_eps')])]);
}

/**
 * CLIP's contrastive loss: rows of `a` [B, D] and `c` [B, D] are paired; logits = exp(logitScale)
 * * cos(a_i, c_j); loss = (CE(rows) + CE(columns)) / 2 with the diagonal as the label.
 * @param logitScale name of a scalar (or [1]) float value: the log of the temperature's inverse
 * @param eye name of a [B, B] identity matrix constant/input (the labels)
 */
export function infoNce(b: GraphBuilder, a: string, c: string, logitScale: string, eye: string): string {
  const an = l2Normalise(b, a);
  const cn = l2Normalise(b, c);
  const sim = b.op('MatMul', [an, b.op('Transpose', [cn], { perm: [1, 0] })]);
  const logits = b.op('Mul', [sim, b.op('Exp', [logitScale])]);
  const rows = softmaxCrossEntropy(b, logits, eye);
  const cols = softmaxCrossEntropy(b, b.op('Transpose', [logits], { perm: [1, 0] }), eye);
  return b.op('Mul', [b.op('Add', [rows, cols]), b.scalar(0.5, DataType.FLOAT, 'half')]);
}

/** KL(N(mu, exp(logvar)) || N(0, 1)), averaged over all elements. */
export function gaussianKl(b: GraphBuilder, mu: string, logvar: string, rank: number): string {
  const t = b.op('Sub', [
    b.op('Add', [b.op('Mul', [mu, mu]), b.op('Exp', [logvar])]),
    b.op('Add', [logvar, b.scalar(1, DataType.FLOAT, 'one')]),
  ]);
  return b.op('Mul', [b.reduce('ReduceMean', t, range(rank), false), b.scalar(0.5, DataType.FLOAT, 'half')]);
}

/** w1 * l1 + w2 * l2 + ... */
export function weightedSum(b: GraphBuilder, terms: { value: string; weight: number }[]): string {
  const parts = terms.map((t) => (t.weight === 1 ? t.value : b.op('Mul', [t.value, b.scalar(t.weight, DataType.FLOAT, 'loss_weight')])));
  return parts.length === 1 ? parts[0]! : b.op('Sum', parts);
}

/** Expose `value` as a float32 scalar graph output named `name`. */
export function addScalarOutput(b: GraphBuilder, value: string, name = 'loss'): string {
  b.identity(value, name);
  b.addOutput(name, DataType.FLOAT, []);
  return name;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
