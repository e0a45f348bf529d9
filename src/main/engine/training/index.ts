/**
 * Generic training on onnxruntime with the project's own gradient transform: a forward graph with
 * a scalar loss becomes one train-step session (parameters as inputs, gradients as outputs);
 * AdamW, schedules, clipping and an EMA run in JS; data streams are seeded; checkpoints resume
 * exactly. See docs/shapes-world.md for the set trained with it.
 */
export { buildTrainingGraph, type BuildTrainingGraphOptions, type TrainingGraph } from './train-graph.js';
export { TrainStep, type StepResult } from './train-step.js';
export {
  AdamW,
  clipGradNorm,
  defaultDecays,
  Ema,
  learningRate,
  type AdamWOptions,
  type AdamWState,
  type ScheduleOptions,
} from './optim.js';
export {
  fanIn,
  initialiseParams,
  isParameterName,
  ParamSet,
  paramsOf,
  tensorFloats,
  writeParams,
  type InitKind,
  type InitRule,
  type Param,
} from './params.js';
export { loadCheckpoint, saveCheckpoint, type Checkpoint } from './checkpoint.js';
export {
  checkpointStep,
  train,
  type BatchSource,
  type LossRecord,
  type TrainOptions,
  type TrainProgress,
  type TrainResult,
} from './trainer.js';
export {
  addScalarOutput,
  gaussianKl,
  infoNce,
  l2Normalise,
  meanAbsoluteError,
  meanSquaredError,
  softmaxCrossEntropy,
  weightedSum,
} from './losses.js';
export { RandomStream, type RandomState } from './random.js';
export { lossCurvesSvg, type LossSeries, type PlotOptions } from './plot.js';
