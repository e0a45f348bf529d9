/**
 * The training loop: batches from a seeded stream, forward + backward in one onnxruntime run,
 * gradient clipping, AdamW with a schedule, an optional EMA of the weights, a loss log, and
 * checkpoints that make a killed run continue exactly where it stopped.
 *
 * A checkpoint holds the parameters, AdamW's moments and step count, the EMA, the data stream's
 * state, the step, the loss log and the run's fingerprint (a resumed run with another
 * configuration is refused rather than silently mixed). The next step after a resume is
 * bit-identical to the one the uninterrupted run would have taken (test/main/engine/training).
 */
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type * as ort from 'onnxruntime-node';
import { CancelledError, EngineError } from '../errors.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { AdamW, clipGradNorm, Ema, learningRate, type AdamWOptions, type ScheduleOptions } from './optim.js';
import type { ParamSet } from './params.js';
import { RandomStream, type RandomState } from './random.js';
import type { StepResult, TrainStep } from './train-step.js';

/** Where batches come from. All randomness must be drawn from `rng` (that is what makes resume exact). */
export interface BatchSource {
  next(rng: RandomStream, step: number): Promise<Record<string, ort.Tensor>> | Record<string, ort.Tensor>;
}

/** One logged step. */
export interface LossRecord {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Training wall seconds since the phase began (summed over resumed runs). */
  seconds: number;
}

export interface TrainProgress {
  phase: 'train';
  name: string;
  /** Steps done. */
  step: number;
  total: number;
  loss: number;
  /** Mean loss over the last `logEvery` steps. */
  meanLoss: number;
  lr: number;
  gradNorm: number;
  secondsPerStep: number;
  etaSeconds: number;
}

export interface TrainOptions {
  /** Phase name (messages, progress). */
  name: string;
  step: TrainStep;
  /** Parameters, updated in place; their values are the start when there is no checkpoint. */
  params: ParamSet;
  /** Total optimisation steps of the phase. */
  steps: number;
  schedule: Omit<ScheduleOptions, 'total'>;
  adam?: AdamWOptions;
  /** Clip the global gradient norm to this (0 / undefined: no clipping). */
  clipNorm?: number;
  /** Keep an EMA of the weights with this decay. */
  emaDecay?: number;
  /** Seed of the data stream. */
  seed: number;
  batches: BatchSource;
  checkpoint?: {
    file: string;
    /** Save every this many steps (default 200). */
    everySteps?: number;
    /** And at least this often in seconds (default 300). */
    everySeconds?: number;
  };
  /** Identifies the configuration; a checkpoint with another fingerprint is refused. */
  fingerprint?: string;
  /** Progress every this many steps (default 10). */
  logEvery?: number;
  /** Called after every step with its result (monitoring, e.g. accuracy from logits). */
  onStep?: (step: number, result: StepResult) => void;
  /** Stop (saving a checkpoint) after this many steps in this call: a controlled interruption. */
  stopAfter?: number;
  signal?: AbortSignal;
  onProgress?: (e: TrainProgress) => void;
}

export interface TrainResult {
  params: ParamSet;
  /** The EMA weights (when emaDecay was given). */
  ema?: ParamSet;
  /** Steps done in all (== steps when finished). */
  step: number;
  finished: boolean;
  /** The step this call resumed from (0 = fresh start). */
  resumedFrom: number;
  log: LossRecord[];
  /** Training wall seconds of the phase, summed over resumed runs. */
  seconds: number;
  /** CPU seconds of this process (all threads) spent in the training loop, summed over resumed runs. */
  cpuSeconds: number;
}

interface CheckpointMeta {
  name: string;
  fingerprint: string;
  step: number;
  adamT: number;
  emaT: number;
  rng: { words: RandomState; spare: number | null };
  seconds: number;
  cpuSeconds?: number;
  log: [number, number, number, number, number][];
}

/** Whether the checkpoint at `file` records a finished phase of `steps` steps. */
export async function checkpointStep(file: string): Promise<number | undefined> {
  if (!existsSync(file)) return undefined;
  const ck = await loadCheckpoint<CheckpointMeta>(file);
  return ck.meta.step;
}

/**
 * Run (or continue) a training phase.
 * @throws CancelledError when `signal` fires (after saving a checkpoint); EngineError('INVALID_ARGUMENT')
 *   when the checkpoint belongs to another configuration; EngineError('NUMERIC') when the loss diverges.
 */
export async function train(o: TrainOptions): Promise<TrainResult> {
  const params = o.params;
  const adam = new AdamW(params, o.adam);
  const ema = o.emaDecay !== undefined ? new Ema(params, o.emaDecay) : undefined;
  let rng = new RandomStream(o.seed, `data:${o.name}`);
  let step = 0;
  let seconds = 0;
  let cpuSeconds = 0;
  let log: LossRecord[] = [];
  const fingerprint = o.fingerprint ?? '';
  const ckFile = o.checkpoint?.file;

  if (ckFile && existsSync(ckFile)) {
    const ck = await loadCheckpoint<CheckpointMeta>(ckFile);
    const meta = ck.meta;
    if (meta.name !== o.name || meta.fingerprint !== fingerprint) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `checkpoint ${ckFile} belongs to another configuration (${meta.name}, ${meta.fingerprint || 'no fingerprint'}); delete it or use another work folder`,
      );
    }
    const pick = (prefix: string): Map<string, Float32Array> => {
      const m = new Map<string, Float32Array>();
      for (const p of params.list) {
        const t = ck.tensors.get(prefix + p.name);
        if (!t) throw new EngineError('INVALID_ARGUMENT', `checkpoint ${ckFile} lacks ${prefix}${p.name}`);
        m.set(p.name, t);
      }
      return m;
    };
    params.assign(pick('param:'));
    adam.load({ t: meta.adamT, m: pick('adam.m:'), v: pick('adam.v:') });
    if (ema) {
      ema.shadow.assign(pick('ema:'));
      ema.t = meta.emaT;
    }
    rng = RandomStream.fromState(meta.rng);
    step = meta.step;
    seconds = meta.seconds;
    cpuSeconds = meta.cpuSeconds ?? 0;
    log = meta.log.map(([s, loss, lr, gradNorm, sec]) => ({ step: s, loss, lr, gradNorm, seconds: sec }));
  }
  const resumedFrom = step;

  const save = async (): Promise<void> => {
    if (!ckFile) return;
    const tensors = new Map<string, Float32Array>();
    for (const p of params.list) tensors.set('param:' + p.name, p.values);
    for (const [n, v] of adam.m) tensors.set('adam.m:' + n, v);
    for (const [n, v] of adam.v) tensors.set('adam.v:' + n, v);
    if (ema) for (const p of ema.shadow.list) tensors.set('ema:' + p.name, p.values);
    const meta: CheckpointMeta = {
      name: o.name,
      fingerprint,
      step,
      adamT: adam.t,
      emaT: ema?.t ?? 0,
      rng: rng.state,
      seconds,
      cpuSeconds,
      log: log.map((r) => [r.step, r.loss, r.lr, r.gradNorm, r.seconds]),
    };
    await saveCheckpoint(ckFile, { meta, tensors });
  };

  const schedule: ScheduleOptions = { ...o.schedule, total: o.steps };
  const everySteps = o.checkpoint?.everySteps ?? 200;
  const everySeconds = o.checkpoint?.everySeconds ?? 300;
  const logEvery = o.logEvery ?? 10;
  let lastSave = performance.now();
  let done = 0;
  let windowLoss = 0;
  let windowCount = 0;
  const started = performance.now();

  while (step < o.steps) {
    if (o.signal?.aborted) {
      await save();
      throw new CancelledError(`training phase ${o.name} cancelled at step ${step}; run again to continue`);
    }
    if (o.stopAfter !== undefined && done >= o.stopAfter) break;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const feeds = await o.batches.next(rng, step);
    const result = await o.step.run(feeds, params);
    if (!Number.isFinite(result.loss))
      throw new EngineError('NUMERIC', `training phase ${o.name}: the loss is ${result.loss} at step ${step} (lower the learning rate)`);
    const gradNorm = clipGradNorm(result.grads, o.clipNorm ?? 0);
    const lr = learningRate(step, schedule);
    adam.step(params, result.grads, lr);
    ema?.update(params);
    o.onStep?.(step, result);
    step++;
    done++;
    seconds += (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    cpuSeconds += (c.user + c.system) / 1e6;
    log.push({ step, loss: result.loss, lr, gradNorm, seconds });
    windowLoss += result.loss;
    windowCount++;
    if (step % logEvery === 0 || step === o.steps) {
      const perStep = (performance.now() - started) / 1000 / done;
      o.onProgress?.({
        phase: 'train',
        name: o.name,
        step,
        total: o.steps,
        loss: result.loss,
        meanLoss: windowLoss / windowCount,
        lr,
        gradNorm,
        secondsPerStep: perStep,
        etaSeconds: perStep * (o.steps - step),
      });
      windowLoss = 0;
      windowCount = 0;
    }
    if (step % everySteps === 0 || performance.now() - lastSave > everySeconds * 1000) {
      await save();
      lastSave = performance.now();
    }
  }
  await save();
  return {
    params,
    ...(ema ? { ema: ema.shadow } : {}),
    step,
    finished: step >= o.steps,
    resumedFrom,
    log,
    seconds,
    cpuSeconds,
  };
}
