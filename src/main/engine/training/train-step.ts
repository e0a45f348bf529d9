/**
 * One onnxruntime session over a training graph: feed a batch and the current parameter values,
 * get the loss, the gradients and the monitored outputs.
 */
import * as ort from 'onnxruntime-node';
import { EngineError } from '../errors.js';
import { sessionFromModel } from '../runtime/session-from-model.js';
import { sessionOptions } from '../runtime/session.js';
import type { ParamSet } from './params.js';
import type { TrainingGraph } from './train-graph.js';

export interface StepResult {
  loss: number;
  /** Parameter name -> dLoss/dParam (float32, the parameter's size). */
  grads: Map<string, Float32Array>;
  /** Monitored outputs by name. */
  monitor: Record<string, ort.Tensor>;
}

/** A loaded training graph. Create with `TrainStep.create`, call `release()` when done. */
export class TrainStep {
  private constructor(
    readonly graph: TrainingGraph,
    private readonly session: ort.InferenceSession,
  ) {}

  /**
   * @param opts.threads intra-op threads (default onnxruntime's: one per core)
   */
  static async create(graph: TrainingGraph, opts: { threads?: number } = {}): Promise<TrainStep> {
    const session = await sessionFromModel(graph.model, sessionOptions('cpu', opts.threads));
    return new TrainStep(graph, session);
  }

  /**
   * Forward + backward for one batch.
   * @param feeds every data input of the graph (see `graph.dataInputs`)
   * @param params current values (same names and sizes as `graph.params`)
   */
  async run(feeds: Record<string, ort.Tensor>, params: ParamSet): Promise<StepResult> {
    const all: Record<string, ort.Tensor> = { ...feeds };
    for (const p of params.list) all[p.name] = new ort.Tensor('float32', p.values, p.dims);
    for (const v of this.graph.dataInputs)
      if (!all[v.name]) throw new EngineError('INVALID_ARGUMENT', `training step: input '${v.name}' not fed`);
    const gradNames = Object.values(this.graph.grads);
    const fetch = [this.graph.loss, ...this.graph.monitor, ...gradNames];
    let out: ort.InferenceSession.ReturnType;
    try {
      out = await this.session.run(all, fetch);
    } catch (e) {
      throw new EngineError('RUNTIME', `training step failed: ${String((e as Error)?.message ?? e).split('\n')[0]}`, { cause: e });
    }
    const loss = Number((out[this.graph.loss]!.data as Float32Array)[0]);
    const grads = new Map<string, Float32Array>();
    for (const [param, g] of Object.entries(this.graph.grads)) grads.set(param, out[g]!.data as Float32Array);
    const monitor: Record<string, ort.Tensor> = {};
    for (const m of this.graph.monitor) monitor[m] = out[m]!;
    return { loss, grads, monitor };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
