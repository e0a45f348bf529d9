/**
 * Loss composition: append a scalar loss over a model's outputs, then differentiate it.
 *
 * `appendLoss` adds one target input per compared output (`<output>_target`, same shape and
 * dtype, unless the term names its own) and a scalar graph output `loss`. `differentiateLoss`
 * then runs the VJP transform on `loss` with a constant cotangent of 1: a scalar loss needs no
 * cotangent feed, so one session run returns the original outputs, the loss and
 * dLoss/d(wrt) for every requested input or initializer.
 *
 * Terms (each a mean, so the loss scale does not depend on the tensor size):
 *   mse     mean((y - t)^2)
 *   mae     mean(|y - t|)                       (mean absolute error)
 *   cosine  mean over rows of 1 - cos(y, t)     rows = the last axis, or the whole tensor
 *                                               flattened (`over: 'flattened'`); the norm
 *                                               product is clamped below by 1e-8 as torch does.
 * A spec is one term or `{ kind: 'sum', terms }` (each term has an optional `weight`, default 1).
 * The loss is computed in float32 (float64 when every compared output is float64): fp16 outputs
 * are cast up first (sums of squares overflow fp16 quickly) and the gradient flows back through
 * the Cast into the model's own fp16 values.
 */
import { GraphBuilder } from '../onnx/builder.js';
import { DataType, isFloatType } from '../onnx/dtype.js';
import { defaultOpset, type Model } from '../onnx/ir.js';
import { EngineError } from '../errors.js';
import { buildVjp, type VjpResult } from './vjp.js';

export interface LossTermBase {
  /** Graph output the term compares. */
  output: string;
  /** Name of the target input (default `<output>_target`; terms naming the same target share it). */
  target?: string;
  /** Weight in the sum (default 1). */
  weight?: number;
}
export type LossTerm =
  | (LossTermBase & { kind: 'mse' })
  | (LossTermBase & { kind: 'mae' })
  | (LossTermBase & { kind: 'cosine'; over?: 'last-axis' | 'flattened' });
export type LossSpec = LossTerm | { kind: 'sum'; terms: LossTerm[] };

export interface AppendLossResult {
  model: Model;
  /** Output name -> target input name. */
  targets: Record<string, string>;
  /** Name of the scalar loss output. */
  loss: string;
}

function termsOf(spec: LossSpec): LossTerm[] {
  return spec.kind === 'sum' ? spec.terms : [spec];
}

/**
 * Append a loss subgraph. `model` must have static output shapes (specialise it first).
 * @param opts.lossName name of the scalar output (default 'loss')
 * @returns a new model (the input model is not modified)
 */
export function appendLoss(model: Model, spec: LossSpec, opts: { lossName?: string } = {}): AppendLossResult {
  const terms = termsOf(spec);
  if (terms.length === 0) throw new EngineError('INVALID_ARGUMENT', 'the loss has no terms');
  const lossName = opts.lossName ?? 'loss';
  const graph = {
    ...model.graph,
    inputs: [...model.graph.inputs],
    outputs: [...model.graph.outputs],
    initializers: new Map(model.graph.initializers),
    nodes: [...model.graph.nodes],
    valueInfo: new Map(model.graph.valueInfo),
  };
  const out: Model = { ...model, graph };
  const b = new GraphBuilder(graph, defaultOpset(model), 'loss/');
  const rec = (name: string, dtype: DataType, shape: number[]): string => {
    graph.valueInfo.set(name, { name, dtype, shape: [...shape] });
    return name;
  };
  // float32 unless every compared output is float64 (fp16 is widened: sums of squares overflow it)
  const allDouble = terms.every((t) => model.graph.outputs.find((o) => o.name === t.output)?.dtype === DataType.DOUBLE);
  const F = allDouble ? DataType.DOUBLE : DataType.FLOAT;
  const reduce = (x: string, shape: number[], axes: number[], keepdims: boolean, mean: boolean): string => {
    const kept = keepdims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_d, i) => !axes.includes(i));
    const v = mean ? b.reduce('ReduceMean', x, axes, keepdims) : b.reduceSum(x, axes, keepdims);
    return rec(v, F, kept);
  };
  const meanAll = (x: string, shape: number[]): string =>
    shape.length === 0
      ? x
      : reduce(
          x,
          shape,
          shape.map((_d, i) => i),
          false,
          true,
        );

  const targets: Record<string, string> = {};
  const parts: string[] = [];
  for (const term of terms) {
    const info = model.graph.outputs.find((o) => o.name === term.output);
    if (!info)
      throw new EngineError(
        'INVALID_ARGUMENT',
        `loss term refers to '${term.output}', which is not a graph output (outputs: ${model.graph.outputs.map((o) => o.name).join(', ')})`,
      );
    if (!isFloatType(info.dtype))
      throw new EngineError('INVALID_ARGUMENT', `loss term on '${term.output}': output type ${DataType[info.dtype]} is not floating point`);
    const shape = info.shape;
    if (!shape || !shape.every((d): d is number => typeof d === 'number' && d >= 0)) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `loss term on '${term.output}': the output shape is not static; specialise the model first`,
      );
    }
    const tName = term.target ?? `${term.output}_target`;
    if (!graph.inputs.some((v) => v.name === tName)) {
      if (graph.initializers.has(tName) || graph.nodes.some((n) => n.outputs.includes(tName))) {
        throw new EngineError('INVALID_ARGUMENT', `cannot add target input '${tName}': the model already has a value with that name`);
      }
      b.addInput(tName, info.dtype, [...shape]);
    }
    targets[term.output] = tName;
    const toF = (v: string): string => (info.dtype === F ? v : rec(b.cast(v, F), F, shape));
    const y = toF(term.output);
    const t = toF(tName);
    let value: string;
    if (term.kind === 'mse' || term.kind === 'mae') {
      const d = rec(b.op('Sub', [y, t]), F, shape);
      const e = term.kind === 'mse' ? rec(b.op('Mul', [d, d]), F, shape) : rec(b.op('Abs', [d]), F, shape);
      value = meanAll(e, shape);
    } else {
      let yy = y,
        tt = t,
        rows = shape;
      if (term.over === 'flattened' || shape.length === 0) {
        const n = shape.reduce((a, c) => a * c, 1);
        rows = [1, n];
        yy = rec(b.reshape(y, rows), F, rows);
        tt = rec(b.reshape(t, rows), F, rows);
      }
      const last = rows.length - 1;
      const dot = reduce(rec(b.op('Mul', [yy, tt]), F, rows), rows, [last], false, false);
      const ny = reduce(rec(b.op('Mul', [yy, yy]), F, rows), rows, [last], false, false);
      const nt = reduce(rec(b.op('Mul', [tt, tt]), F, rows), rows, [last], false, false);
      const rowShape = rows.slice(0, -1);
      const denom = rec(
        b.op('Max', [rec(b.op('Sqrt', [rec(b.op('Mul', [ny, nt]), F, rowShape)]), F, rowShape), b.scalar(1e-8, F, 'eps')]),
        F,
        rowShape,
      );
      const cos = rec(b.op('Div', [dot, denom]), F, rowShape);
      const oneMinus = rec(b.op('Sub', [b.scalar(1, F, 'one'), cos]), F, rowShape);
      value = meanAll(oneMinus, rowShape);
    }
    const w = term.weight ?? 1;
    parts.push(w === 1 ? value : rec(b.op('Mul', [value, b.scalar(w, F, 'weight')]), F, []));
  }
  const total = parts.length === 1 ? parts[0]! : rec(b.op('Sum', parts), F, []);
  if (graph.outputs.some((o) => o.name === lossName) || graph.inputs.some((v) => v.name === lossName)) {
    throw new EngineError('INVALID_ARGUMENT', `the model already has a value named '${lossName}'; choose another loss name`);
  }
  b.identity(total, lossName);
  b.addOutput(lossName, F, []);
  return { model: out, targets, loss: lossName };
}

export interface DifferentiateLossResult extends VjpResult {
  /** Output name -> target input name. */
  targets: Record<string, string>;
  loss: string;
}

/**
 * Append `spec` as a scalar `loss` output and build the forward+gradient model for it.
 * The produced model's inputs: the original inputs + the target inputs (no cotangent inputs);
 * outputs: the original outputs + `loss` + `<name>_grad` per wrt name (= dLoss/d name).
 */
export function differentiateLoss(
  model: Model,
  spec: LossSpec,
  opts: { wrt?: string[]; wrtInitializers?: string[]; lossName?: string },
): DifferentiateLossResult {
  const appended = appendLoss(model, spec, { ...(opts.lossName ? { lossName: opts.lossName } : {}) });
  const r = buildVjp(appended.model, {
    ...(opts.wrt ? { wrt: opts.wrt } : {}),
    ...(opts.wrtInitializers ? { wrtInitializers: opts.wrtInitializers } : {}),
    outputs: [appended.loss],
    constantCotangents: [appended.loss],
  });
  return { ...r, targets: appended.targets, loss: appended.loss };
}
