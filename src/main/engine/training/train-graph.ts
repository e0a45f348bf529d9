/**
 * The training graph: a forward model with a scalar loss, turned into one ONNX model that
 * returns the loss and dLoss/dParam for every trainable parameter, with the parameters as graph
 * inputs so a single onnxruntime session serves every optimisation step (the optimiser feeds
 * the current values each step; nothing is rebuilt).
 *
 * Steps: the trainable initializers become graph inputs of the same name and shape (their initial
 * values are returned as a ParamSet); the graph is specialised to the batch's static shapes (the
 * gradient transform needs them); then `buildVjp` differentiates the loss with a constant
 * cotangent of 1 with respect to those inputs. Frozen initializers stay constants, which lets
 * onnxruntime fold and pre-pack them, and their gradients are never built.
 *
 * Plain inputs rather than overridable initializers (an initializer shadowed by an input of the
 * same name): the model bytes then carry no weights, so building the session costs no copy of
 * them, and nothing can silently fall back to a stale stored value.
 */
import { cloneModel } from '../onnx/clone.js';
import { DataType } from '../onnx/dtype.js';
import type { Model, ValueInfo } from '../onnx/ir.js';
import { specialise } from '../onnx/specialise.js';
import { buildVjp, type VjpReport } from '../autodiff/vjp.js';
import { EngineError } from '../errors.js';
import { ParamSet, tensorFloats, type Param } from './params.js';

export interface TrainingGraph {
  /** Forward + loss + VJP; inputs = data inputs + one input per parameter. */
  model: Model;
  /** Initial parameter values, in input order. */
  params: ParamSet;
  /** Name of the scalar loss output. */
  loss: string;
  /** Parameter name -> its gradient output. */
  grads: Record<string, string>;
  /** Data inputs (everything the caller feeds besides the parameters), with static shapes. */
  dataInputs: ValueInfo[];
  /** Further outputs the caller asked to keep for monitoring (e.g. logits). */
  monitor: string[];
  report: VjpReport;
}

export interface BuildTrainingGraphOptions {
  /** Initializers to train (state-dict names); all other initializers are frozen constants. */
  params: string[];
  /** Static shapes of the data inputs, e.g. `{ sample: [64, 4, 8, 8], timestep: [64] }`. */
  shapes: Record<string, number[]>;
  /** Name of the scalar float32 loss output the model already has. */
  loss: string;
  /** Outputs besides the loss to fetch each step (monitoring only). */
  monitor?: string[];
}

/**
 * Build the training graph of `model` (not modified).
 * @throws EngineError('INVALID_ARGUMENT') for unknown parameter names, non-float parameters, or
 *   a loss output that is missing or not a float32 scalar.
 */
export function buildTrainingGraph(model: Model, opts: BuildTrainingGraphOptions): TrainingGraph {
  const m = cloneModel(model);
  const g = m.graph;
  const lossInfo = g.outputs.find((o) => o.name === opts.loss);
  if (!lossInfo)
    throw new EngineError(
      'INVALID_ARGUMENT',
      `the model has no output '${opts.loss}' (outputs: ${g.outputs.map((o) => o.name).join(', ')})`,
    );
  if (lossInfo.dtype !== DataType.FLOAT) throw new EngineError('INVALID_ARGUMENT', `loss output '${opts.loss}' must be float32`);

  const list: Param[] = [];
  for (const name of opts.params) {
    const t = g.initializers.get(name);
    if (!t) throw new EngineError('INVALID_ARGUMENT', `parameter '${name}' is not an initializer of ${g.name}`);
    if (t.dtype !== DataType.FLOAT) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `parameter '${name}' is ${DataType[t.dtype]}; build the training graph with float32 weights (fp16 is for storage)`,
      );
    }
    list.push({ name, dims: [...t.dims], values: tensorFloats(t) });
    g.initializers.delete(name);
    g.inputs.push({ name, dtype: DataType.FLOAT, shape: [...t.dims] });
  }
  const keepOutputs = new Set([opts.loss, ...(opts.monitor ?? [])]);
  g.outputs = g.outputs.filter((o) => keepOutputs.has(o.name));
  for (const o of opts.monitor ?? [])
    if (!g.outputs.some((v) => v.name === o)) throw new EngineError('INVALID_ARGUMENT', `monitor output '${o}' is not a graph output`);

  const spec = specialise(m, opts.shapes);
  const vjp = buildVjp(spec, { wrt: opts.params, outputs: [opts.loss], constantCotangents: [opts.loss] });
  const paramNames = new Set(opts.params);
  return {
    model: vjp.model,
    params: new ParamSet(list),
    loss: opts.loss,
    grads: vjp.gradOutputs,
    dataInputs: vjp.model.graph.inputs.filter((v) => !paramNames.has(v.name)),
    monitor: [...(opts.monitor ?? [])],
    report: vjp.report,
  };
}
