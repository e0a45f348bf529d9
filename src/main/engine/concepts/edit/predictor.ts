/**
 * Guided noise prediction through the attention-control session, for generate()'s `predictNoise`
 * hook: the same batching and arithmetic as diffusion/unet.ts predictNoise (one batch
 * [uncond; cond] for symbolic-batch exports, two runs for a fixed batch of 1, the conditional
 * input twice for a fixed batch of 2 without guidance — the second, controlled copy is used),
 * with each step's controls asked for before the UNet runs and its attention handed on after.
 * Attention is only ever replaced in the conditional pass, as prompt-to-prompt does.
 *
 * Optionally SEGA-style negative guidance on a concept (the removed words of a removal):
 *   d = −s · (ε(concept) − ε(∅)), kept where |d| is in the top (1 − threshold) of its channel,
 *   d += momentum · m,  m = β · m + (1 − β) · d,  and ε += d once past the warm-up steps.
 */
import { EngineError } from '../../errors.js';
import type { ModelSet } from '../../diffusion/load-model-set.js';
import type { NoisePredictor } from '../../diffusion/pipeline.js';
import { guidanceEmbedding, predictNoise, runUnet, usesCfg } from '../../diffusion/unet.js';
import type { AttentionControl, ControlRunOutput, LayerFeed } from './control-session.js';
import type { SuppressOptions } from './plan.js';

/** What one step's conditional pass reads out and feeds in. */
export interface StepControl {
  /** Layers with at most this many query positions emit their probabilities (0: none). */
  maxQueries: { cross: number; self: number };
  cross?: ReadonlyMap<number, LayerFeed>;
  self?: ReadonlyMap<number, LayerFeed>;
}

export interface ControlledPredictorOptions {
  /** The controls of step `step` (may wait, e.g. for the source run's attention of that step). */
  control: (step: number, timestep: number) => StepControl | Promise<StepControl>;
  /** The conditional pass's emitted probabilities. */
  onAttention?: (step: number, timestep: number, out: Pick<ControlRunOutput, 'cross' | 'self'>) => void;
  /** Negative guidance on a concept embedding [77·D]; needs classifier-free guidance. */
  suppress?: { embedding: Float32Array; options: Required<SuppressOptions>; steps: number };
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** torch.quantile's linear interpolation between order statistics. */
function quantile(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Keeps the entries of each channel whose magnitude reaches the channel's q-quantile. */
function keepTop(d: Float32Array, channels: number, q: number): void {
  const hw = d.length / channels;
  const mags = new Float64Array(hw);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < hw; i++) mags[i] = Math.abs(d[c * hw + i]!);
    const t = quantile(mags.slice().sort(), q);
    for (let i = 0; i < hw; i++) if (mags[i]! < t) d[c * hw + i] = 0;
  }
}

/** A NoisePredictor through the control session (see the module comment). */
export function controlledPredictor(ms: ModelSet, control: AttentionControl, o: ControlledPredictorOptions): NoisePredictor {
  let momentum: Float32Array | undefined;
  return async (latentIn, timestep, cond, uncond, guidance, h, w, step) => {
    const ctl = await o.control(step, timestep);
    const tc = ms.io.timestepCondDim ? guidanceEmbedding(guidance - 1, ms.io.timestepCondDim) : undefined;
    const run = async (sample: Float32Array, ehs: Float32Array, batch: number, withTc: boolean): Promise<Float32Array> => {
      const r = await control.run({
        sample,
        timestep,
        ehs,
        batch,
        height: h,
        width: w,
        maxQueries: ctl.maxQueries,
        ...(ctl.cross ? { cross: ctl.cross } : {}),
        ...(ctl.self ? { self: ctl.self } : {}),
        ...(withTc && tc ? { timestepCond: tc } : {}),
      });
      o.onAttention?.(step, timestep, r);
      return r.eps;
    };
    const n = latentIn.length;
    if (!usesCfg(ms, guidance)) {
      if (o.suppress) throw new EngineError('INVALID_ARGUMENT', 'suppressing removed words needs classifier-free guidance (guidance > 1)');
      if (ms.io.unetFixedBatch !== 2) return run(latentIn, cond, 1, true);
      return (await run(concat(latentIn, latentIn), concat(cond, cond), 2, true)).slice(n);
    }
    if (!uncond) throw new EngineError('INVALID_ARGUMENT', 'classifier-free guidance needs the unconditional embedding');
    let epsU: Float32Array;
    let epsC: Float32Array;
    if (ms.io.unetFixedBatch === 1) {
      epsU = await runUnet(ms, latentIn, timestep, uncond, 1, h, w);
      epsC = await run(latentIn, cond, 1, false);
    } else {
      const out = await run(concat(latentIn, latentIn), concat(uncond, cond), 2, false);
      epsU = out.subarray(0, n);
      epsC = out.subarray(n);
    }
    const eps = new Float32Array(n);
    for (let j = 0; j < n; j++) eps[j] = epsU[j]! + guidance * (epsC[j]! - epsU[j]!);
    if (o.suppress) {
      const { embedding, options: s, steps } = o.suppress;
      const epsE = await predictNoise(ms, latentIn, timestep, embedding, undefined, 1, h, w);
      const d = new Float32Array(n);
      for (let j = 0; j < n; j++) d[j] = -s.scale * (epsE[j]! - epsU[j]!);
      keepTop(d, ms.io.latentChannels, s.threshold);
      momentum ??= new Float32Array(n);
      for (let j = 0; j < n; j++) {
        d[j] = d[j]! + s.momentum * momentum[j]!;
        momentum[j] = s.beta * momentum[j]! + (1 - s.beta) * d[j]!;
      }
      if (step >= Math.floor(s.warmup * steps)) for (let j = 0; j < n; j++) eps[j] = eps[j]! + d[j]!;
    }
    return eps;
  };
}
