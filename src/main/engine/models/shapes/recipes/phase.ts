/**
 * One training phase of the shapes set, resumable: build the training graph, initialise (or
 * resume) the parameters, run the trainer with checkpoints in the work folder, and keep the
 * result as `<work>/<phase>.params` (+ `<phase>.log.json`). A phase whose result file exists
 * with the same fingerprint is not run again, so `npm run train:shapes` continues where a killed
 * run stopped: finished phases are skipped, the interrupted one resumes from its checkpoint.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Model } from '../../../onnx/ir.js';
import { loadCheckpoint, saveCheckpoint } from '../../../training/checkpoint.js';
import { initialiseParams, paramsOf, ParamSet, type InitRule } from '../../../training/params.js';
import { buildTrainingGraph } from '../../../training/train-graph.js';
import { TrainStep, type StepResult } from '../../../training/train-step.js';
import { train, type BatchSource, type LossRecord, type TrainProgress } from '../../../training/trainer.js';
import type { AdamWOptions, ScheduleOptions } from '../../../training/optim.js';

export interface PhaseProgress {
  phase: 'shapes-train';
  name: string;
  message: string;
  train?: TrainProgress;
}

export interface PhaseSpec {
  /** Phase name: file names in the work folder. */
  name: string;
  /** Forward model with a scalar `loss` output. */
  model: Model;
  /** Which parameters train (default: every `*.weight` / `*.bias`). */
  trainable?: (name: string) => boolean;
  initRules?: InitRule[];
  /** Values that replace initial parameters before training (e.g. from an earlier phase). */
  start?: ParamSet;
  shapes: Record<string, number[]>;
  monitor?: string[];
  steps: number;
  schedule: Omit<ScheduleOptions, 'total'>;
  adam?: AdamWOptions;
  clipNorm?: number;
  emaDecay?: number;
  seed: number;
  batches: BatchSource;
  onStep?: (step: number, r: StepResult) => void;
  /** Anything else that defines the run (architecture, data options): part of the fingerprint. */
  config: unknown;
  threads?: number;
}

export interface PhaseResult {
  name: string;
  /** Trained parameters (the EMA when the phase keeps one). */
  params: ParamSet;
  /** The raw (non-EMA) parameters. */
  raw: ParamSet;
  log: LossRecord[];
  /** Training wall seconds (summed over resumed runs). */
  seconds: number;
  /** CPU seconds (all threads) of the training loop. */
  cpuSeconds: number;
  steps: number;
  parameterCount: number;
  /** True when this call trained (false: loaded a finished result). */
  trained: boolean;
  /** Wall seconds of forward+backward+update per step, median over the logged steps. */
  secondsPerStep: number;
}

interface ResultMeta {
  fingerprint: string;
  log: [number, number, number, number, number][];
  seconds: number;
  cpuSeconds: number;
  steps: number;
  ema: boolean;
  dims: Record<string, number[]>;
}

/** sha256 (16 hex digits) of the phase's defining configuration. */
export function fingerprintOf(spec: Pick<PhaseSpec, 'name' | 'steps' | 'schedule' | 'adam' | 'clipNorm' | 'emaDecay' | 'seed' | 'shapes' | 'config'>): string {
  const json = JSON.stringify({ name: spec.name, steps: spec.steps, schedule: spec.schedule, adam: spec.adam ?? null, clip: spec.clipNorm ?? null, ema: spec.emaDecay ?? null, seed: spec.seed, shapes: spec.shapes, config: spec.config });
  return createHash('sha256').update(json).digest('hex').slice(0, 16);
}

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function perStep(log: LossRecord[]): number {
  const d: number[] = [];
  for (let i = 1; i < log.length; i++) d.push(log[i]!.seconds - log[i - 1]!.seconds);
  return median(d);
}

/** Load a finished phase's parameters from the work folder, or undefined. */
export async function loadPhaseResult(workDir: string, name: string, fingerprint: string): Promise<PhaseResult | undefined> {
  const file = path.join(workDir, `${name}.params`);
  if (!existsSync(file)) return undefined;
  const ck = await loadCheckpoint<ResultMeta>(file);
  if (ck.meta.fingerprint !== fingerprint) return undefined;
  const set = (prefix: string): ParamSet =>
    new ParamSet(
      [...ck.tensors]
        .filter(([k]) => k.startsWith(prefix))
        .map(([k, v]) => ({ name: k.slice(prefix.length), dims: [...(ck.meta.dims[k.slice(prefix.length)] ?? [v.length])], values: v })),
    );
  const raw = set('raw:');
  const params = ck.meta.ema ? set('ema:') : raw;
  const log = ck.meta.log.map(([step, loss, lr, gradNorm, seconds]) => ({ step, loss, lr, gradNorm, seconds }));
  return { name, params, raw, log, seconds: ck.meta.seconds, cpuSeconds: ck.meta.cpuSeconds, steps: ck.meta.steps, parameterCount: raw.count, trained: false, secondsPerStep: perStep(log) };
}

/**
 * Run (or resume, or skip when finished) a phase.
 * @param workDir checkpoints and results live here
 */
export async function runPhase(spec: PhaseSpec, workDir: string, opts: { signal?: AbortSignal; onProgress?: (e: PhaseProgress) => void } = {}): Promise<PhaseResult> {
  await mkdir(workDir, { recursive: true });
  const fingerprint = fingerprintOf(spec);
  const done = await loadPhaseResult(workDir, spec.name, fingerprint);
  const note = (message: string, t?: TrainProgress): void => opts.onProgress?.({ phase: 'shapes-train', name: spec.name, message, ...(t ? { train: t } : {}) });
  const all = paramsOf(spec.model, spec.trainable);
  if (done) {
    note(`already trained (${done.steps} steps); using ${path.join(workDir, `${spec.name}.params`)}`);
    return done;
  }
  initialiseParams(all, spec.seed, spec.initRules);
  if (spec.start) for (const p of spec.start.list) if (all.has(p.name)) all.get(p.name).values.set(p.values);
  const t0 = performance.now();
  const graph = buildTrainingGraph(spec.model, { params: all.names, shapes: spec.shapes, loss: 'loss', ...(spec.monitor ? { monitor: spec.monitor } : {}) });
  graph.params.assign(all);
  const step = await TrainStep.create(graph, spec.threads ? { threads: spec.threads } : {});
  note(`${all.count.toLocaleString('en-US')} parameters; training graph ${graph.report.nodesAfter} nodes, built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  try {
    const r = await train({
      name: spec.name,
      step,
      params: graph.params,
      steps: spec.steps,
      schedule: spec.schedule,
      ...(spec.adam ? { adam: spec.adam } : {}),
      ...(spec.clipNorm ? { clipNorm: spec.clipNorm } : {}),
      ...(spec.emaDecay !== undefined ? { emaDecay: spec.emaDecay } : {}),
      seed: spec.seed,
      batches: spec.batches,
      checkpoint: { file: path.join(workDir, `${spec.name}.ckpt`), everySteps: 250, everySeconds: 240 },
      fingerprint,
      logEvery: 25,
      ...(spec.onStep ? { onStep: spec.onStep } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: (e) => note(`step ${e.step}/${e.total} loss ${e.meanLoss.toFixed(4)} lr ${e.lr.toExponential(2)} |g| ${e.gradNorm.toFixed(2)} ${e.secondsPerStep.toFixed(2)} s/step, eta ${Math.round(e.etaSeconds / 60)} min`, e),
    });
    if (r.resumedFrom > 0) note(`resumed from step ${r.resumedFrom}`);
    const tensors = new Map<string, Float32Array>();
    for (const p of r.params.list) tensors.set('raw:' + p.name, p.values);
    if (r.ema) for (const p of r.ema.list) tensors.set('ema:' + p.name, p.values);
    const meta: ResultMeta = { fingerprint, log: r.log.map((l) => [l.step, l.loss, l.lr, l.gradNorm, l.seconds]), seconds: r.seconds, cpuSeconds: r.cpuSeconds, steps: r.step, ema: r.ema !== undefined, dims: Object.fromEntries(r.params.list.map((p) => [p.name, p.dims])) };
    await saveCheckpoint(path.join(workDir, `${spec.name}.params`), { meta, tensors });
    await writeFile(path.join(workDir, `${spec.name}.log.json`), JSON.stringify({ name: spec.name, seconds: r.seconds, cpuSeconds: r.cpuSeconds, log: meta.log }) + '\n');
    await rm(path.join(workDir, `${spec.name}.ckpt`), { force: true });
    return {
      name: spec.name,
      params: r.ema ?? r.params,
      raw: r.params,
      log: r.log,
      seconds: r.seconds,
      cpuSeconds: r.cpuSeconds,
      steps: r.step,
      parameterCount: r.params.count,
      trained: true,
      secondsPerStep: perStep(r.log),
    };
  } finally {
    await step.release();
  }
}

/** Read a phase's loss log written by runPhase. */
export async function readPhaseLog(workDir: string, name: string): Promise<{ seconds: number; log: LossRecord[] } | undefined> {
  const file = path.join(workDir, `${name}.log.json`);
  if (!existsSync(file)) return undefined;
  const j = JSON.parse(await readFile(file, 'utf8')) as { seconds: number; log: [number, number, number, number, number][] };
  return { seconds: j.seconds, log: j.log.map(([step, loss, lr, gradNorm, seconds]) => ({ step, loss, lr, gradNorm, seconds })) };
}
