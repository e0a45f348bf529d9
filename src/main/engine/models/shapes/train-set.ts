/**
 * Training the whole shapes set, phase by phase, with the project's own gradient engine on
 * onnxruntime (training/): tokenizer -> CLIP (text encoder + image tower) -> VAE -> captioner ->
 * UNet (frozen text encoder and VAE) -> export (fp16) -> evaluation with the world's checker,
 * which also picks the guidance scale written as the set's default.
 *
 * Every phase is seeded and resumable (recipes/phase.ts): run it again after a kill and finished
 * phases are loaded, the interrupted one continues from its last checkpoint.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ClipTokenizer } from '../../diffusion/tokenizer/index.js';
import { loadModelSet } from '../../diffusion/load-model-set.js';
import { throwIfAborted } from '../../errors.js';
import { sessionFromModel } from '../../runtime/session-from-model.js';
import { RandomStream } from '../../training/random.js';
import { ParamSet } from '../../training/params.js';
import type { LossRecord } from '../../training/trainer.js';
import { buildCaptionerModel } from './captioner.js';
import { LOGIT_SCALE_PARAM } from './clip.js';
import { renderBatch, sampleScenes } from './data.js';
import { evaluateCaptioner, evaluateGeneration, evaluateImages, evaluationScenes, renderHeldOut, ratio, type FidelityReport } from './evaluate.js';
import { writeShapesSet, type TrainedShapesSet } from './export.js';
import { clipPhase, textParamsAt77 } from './recipes/clip.js';
import { captionerPhase } from './recipes/captioner.js';
import type { ShapesTrainConfig } from './recipes/config.js';
import { frozenTextEncoder, frozenVae, loadInto } from './recipes/frozen.js';
import { runPhase, type PhaseProgress, type PhaseResult } from './recipes/phase.js';
import { latentPool, unetPhase } from './recipes/unet.js';
import { vaePhase } from './recipes/vae.js';
import { shapesBpe } from './text.js';

export interface TrainShapesOptions {
  config: ShapesTrainConfig;
  /** Checkpoints, phase results, caches. */
  workDir: string;
  /** Where the finished set is written (e.g. models/shapes). */
  outDir: string;
  threads?: number;
  signal?: AbortSignal;
  onProgress?: (e: PhaseProgress | { phase: 'shapes-train'; name: string; message: string }) => void;
}

export interface PhaseSummary {
  name: string;
  steps: number;
  parameters: number;
  /** Training wall seconds (summed over resumed runs). */
  seconds: number;
  cpuSeconds: number;
  secondsPerStep: number;
  firstLoss: number;
  /** Mean loss of the last 5% of steps. */
  finalLoss: number;
  log: LossRecord[];
}

export interface TrainShapesResult {
  outDir: string;
  phases: PhaseSummary[];
  scalingFactor: number;
  /** Wall seconds of this call (all phases, export, evaluation). */
  seconds: number;
  evaluation: Record<string, unknown>;
}

function summary(r: PhaseResult): PhaseSummary {
  const tail = r.log.slice(Math.floor(r.log.length * 0.95));
  return {
    name: r.name,
    steps: r.steps,
    parameters: r.parameterCount,
    seconds: r.seconds,
    cpuSeconds: r.cpuSeconds,
    secondsPerStep: r.secondsPerStep,
    firstLoss: r.log[0]?.loss ?? NaN,
    finalLoss: tail.reduce((a, l) => a + l.loss, 0) / Math.max(1, tail.length),
    log: r.log,
  };
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

function describe(f: FidelityReport): Record<string, unknown> {
  const bySlot = Object.fromEntries(Object.entries(f.all.bySlot).map(([k, v]) => [k, v.total ? +(v.correct / v.total).toFixed(4) : null]));
  return { accuracy: +f.accuracy.toFixed(4), one: +ratio(f.one).toFixed(4), two: +ratio(f.two).toFixed(4), exact: f.exact, n: f.n, bySlot };
}

/** Train (or resume) every phase, write the set to `outDir`, evaluate it. */
export async function trainShapesSet(o: TrainShapesOptions): Promise<TrainShapesResult> {
  const cfg = o.config;
  const t0 = performance.now();
  const note = (name: string, message: string): void => o.onProgress?.({ phase: 'shapes-train', name, message });
  const phaseOpts = { ...(o.signal ? { signal: o.signal } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) };
  await mkdir(o.workDir, { recursive: true });
  const withThreads = <T extends object>(spec: T): T => (o.threads ? { ...spec, threads: o.threads } : spec);

  const bpe = shapesBpe();
  const tok = new ClipTokenizer(bpe.vocab, bpe.merges);
  note('tokenizer', `${tok.vocabSize} ids; every world word is one token`);

  const clip = await runPhase(withThreads(clipPhase(cfg, tok)), o.workDir, phaseOpts);
  const text77 = textParamsAt77(clip.params, cfg.arch, tok.vocabSize, cfg.seed + 1);
  const textWithProjection = new ParamSet([...text77.list, clip.params.get('text_projection.weight')]);

  const vae = await runPhase(withThreads(vaePhase(cfg)), o.workDir, phaseOpts);
  const fvae = await frozenVae(cfg.arch, vae.params);
  const fixed: PhaseResult[] = [clip, vae];
  try {
    // scaling factor: 1 / std of the posterior means over training images (SD's convention)
    const rng = new RandomStream(cfg.seed, 'scaling-factor');
    const n = Math.min(512, cfg.unet.poolSize);
    let sum = 0;
    let sq = 0;
    let count = 0;
    for (let i = 0; i < n; i += 64) {
      const m = Math.min(64, n - i);
      const z = await fvae.encode(renderBatch(sampleScenes(rng, m), rng), m);
      for (const v of z) {
        sum += v;
        sq += v * v;
        count++;
      }
    }
    const std = Math.sqrt(sq / count - (sum / count) ** 2);
    const scalingFactor = +(1 / std).toPrecision(5);
    note('vae', `scaling factor ${scalingFactor} (latent std ${std.toFixed(4)})`);

    const captioner = await runPhase(withThreads(captionerPhase(cfg, fvae)), o.workDir, phaseOpts);
    fixed.push(captioner);

    throwIfAborted(o.signal);
    const poolKey = JSON.stringify({ vae: vae.log.length, vaeLoss: vae.log.at(-1)?.loss ?? 0, n: cfg.unet.poolSize, seed: cfg.seed, sf: scalingFactor });
    const pool = await latentPool(o.workDir, cfg.unet.poolSize, cfg.seed + 5, fvae, scalingFactor, poolKey, (d) => {
      if (d % 4096 < 64 || d === cfg.unet.poolSize) note('unet', `latent pool ${d}/${cfg.unet.poolSize}`);
    }, o.signal);
    const text = await frozenTextEncoder(cfg.arch, tok.vocabSize, text77);
    let unet: PhaseResult;
    try {
      unet = await runPhase(withThreads(unetPhase(cfg, tok, text, pool)), o.workDir, phaseOpts);
    } finally {
      await text.release();
    }
    fixed.push(unet);

    // export with provisional defaults, evaluate, then rewrite with the chosen ones
    const base: TrainedShapesSet = {
      arch: cfg.arch,
      bpe,
      text: textWithProjection,
      clipImage: clip.params,
      vae: vae.params,
      scalingFactor,
      unet: unet.params,
      captioner: captioner.params,
      defaults: { width: 64, height: 64, steps: cfg.eval.steps[0]!, guidance: cfg.eval.guidances[0]!, scheduler: 'ddim' },
      training: {},
    };
    const staging = path.join(o.workDir, 'set');
    await rm(staging, { recursive: true, force: true });
    await writeShapesSet(staging, base);

    const evaluation: Record<string, unknown> = {};
    const scenes = evaluationScenes(cfg.eval.prompts);
    const ms = await loadModelSet(staging, o.threads ? { threads: o.threads } : {});
    let best = { accuracy: -1, steps: base.defaults.steps, guidance: base.defaults.guidance };
    const sweep: Record<string, unknown>[] = [];
    try {
      for (const steps of cfg.eval.steps) {
        for (const guidance of cfg.eval.guidances) {
          const te = performance.now();
          const f = await evaluateGeneration(ms, scenes, { steps, guidance, scheduler: 'ddim', ...(o.signal ? { signal: o.signal } : {}) });
          note('evaluate', `ddim ${steps} steps guidance ${guidance}: slot accuracy ${pct(f.accuracy)} (one object ${pct(ratio(f.one))}, two ${pct(ratio(f.two))}), exact ${f.exact}/${f.n}, ${((performance.now() - te) / 1000).toFixed(0)} s`);
          sweep.push({ steps, guidance, ...describe(f) });
          if (f.accuracy > best.accuracy) best = { accuracy: f.accuracy, steps, guidance };
        }
      }
    } finally {
      await ms.release();
    }
    evaluation.generation = { scenes: scenes.length, scheduler: 'ddim', sweep, chosen: best };

    // the captioner and the VAE on held-out renders (more scenes: these are cheap)
    const heldOut = evaluationScenes(cfg.eval.captionerScenes, 23);
    const px = renderHeldOut(heldOut);
    const capSession = await sessionFromModel(loadInto(buildCaptionerModel(cfg.arch.captioner), captioner.params));
    try {
      const onRenders = await evaluateCaptioner(capSession, heldOut, px);
      const trips = new Float32Array(px.length);
      for (let i = 0; i < heldOut.length; i += 64) {
        const m = Math.min(64, heldOut.length - i);
        const dec = await fvae.decode(await fvae.encode(px.subarray(i * 12288, (i + m) * 12288), m), m);
        for (let j = 0; j < dec.length; j++) trips[i * 12288 + j] = Math.max(-1, Math.min(1, dec[j]!));
      }
      const onTrips = await evaluateCaptioner(capSession, heldOut, trips);
      const vaeTrip = evaluateImages(heldOut, trips);
      evaluation.captioner = { renders: describe(onRenders), vaeRoundTrips: describe(onTrips) };
      evaluation.vaeRoundTrip = describe(vaeTrip);
      note('evaluate', `captioner slot accuracy: renders ${pct(onRenders.accuracy)}, VAE round trips ${pct(onTrips.accuracy)}; checker on VAE round trips ${pct(vaeTrip.accuracy)}`);
    } finally {
      await capSession.release();
    }

    const phases = fixed.map(summary);
    const final: TrainedShapesSet = {
      ...base,
      defaults: { ...base.defaults, steps: best.steps, guidance: best.guidance },
      training: {
        config: cfg.name,
        seed: cfg.seed,
        command: 'npm run train:shapes',
        phases: phases.map((p) => ({ name: p.name, steps: p.steps, parameters: p.parameters, seconds: Math.round(p.seconds), cpuSeconds: Math.round(p.cpuSeconds), secondsPerStep: +p.secondsPerStep.toFixed(3), finalLoss: +p.finalLoss.toFixed(5) })),
        scalingFactor,
        logitScale: clip.params.get(LOGIT_SCALE_PARAM).values[0],
        evaluation,
      },
    };
    // overwrite our files only: other components of the set (lm/) live in the same folder
    await writeShapesSet(o.outDir, final);
    await writeFile(path.join(o.workDir, 'report.json'), JSON.stringify({ ...final.training, phases: phases.map((p) => ({ ...p, log: undefined })) }, null, 2) + '\n');
    return { outDir: o.outDir, phases, scalingFactor, seconds: (performance.now() - t0) / 1000, evaluation };
  } finally {
    await fvae.release();
  }
}
