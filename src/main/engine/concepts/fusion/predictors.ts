/**
 * Noise predictors for generate()'s `predictNoise` hook that combine several conditionings:
 *
 * - compose (A1111 `AND`): eps = eps_u + Σᵢ wᵢ·g·(epsᵢ − eps_u), weights as given; without
 *   classifier-free guidance (LCM, guidance ≤ 1) the weighted mean Σ wᵢ·epsᵢ / Σ wᵢ;
 * - alternate (`[a|b]`): step k uses parent schedule[k]'s conditioning alone;
 * - regions: eps = Σᵢ Mᵢ ⊙ (eps_u + g·(epsᵢ − eps_u)), masks per latent pixel summing to 1.
 *
 * The UNet runs once per step on the batch [uncond; cond₁ … condₙ] (chunked to `maxBatch`), or
 * one item at a time for exports with a fixed batch of 1, pairs for a fixed batch of 2.
 */
import { EngineError } from '../../errors.js';
import type { ModelSet } from '../../diffusion/load-model-set.js';
import type { NoisePredictor } from '../../diffusion/pipeline.js';
import { guidanceEmbedding, runUnet, usesCfg } from '../../diffusion/unet.js';

/** Largest batch sent to a symbolic-batch UNet at once (memory: SD 1.5 at 512 px is fine at 4). */
export const MAX_UNET_BATCH = 4;

/**
 * The UNet's prediction for one latent under each embedding: `embeddings.length` outputs of
 * `latentIn.length` values, in order.
 */
export async function predictEach(
  ms: ModelSet,
  latentIn: Float32Array,
  timestep: number,
  embeddings: readonly Float32Array[],
  h: number,
  w: number,
  guidance: number,
  maxBatch = MAX_UNET_BATCH,
): Promise<Float32Array[]> {
  const n = latentIn.length;
  const tc = ms.io.timestepCondDim ? guidanceEmbedding(guidance - 1, ms.io.timestepCondDim) : undefined;
  const fixed = ms.io.unetFixedBatch;
  const chunk = fixed ?? Math.max(1, maxBatch);
  const out: Float32Array[] = [];
  for (let s = 0; s < embeddings.length; s += chunk) {
    const items = embeddings.slice(s, s + chunk);
    // A fixed batch is filled up by repeating the last item; the repeats are thrown away.
    const batch = fixed ?? items.length;
    const x = new Float32Array(batch * n);
    const e = new Float32Array(batch * items[0]!.length);
    for (let b = 0; b < batch; b++) {
      x.set(latentIn, b * n);
      e.set(items[Math.min(b, items.length - 1)]!, b * items[0]!.length);
    }
    const r = await runUnet(ms, x, timestep, e, batch, h, w, tc);
    for (let b = 0; b < items.length; b++) out.push(r.slice(b * n, (b + 1) * n));
  }
  return out;
}

/**
 * A1111 `AND`: eps = eps_u + Σᵢ wᵢ·g·(epsᵢ − eps_u) (weights as given, not normalised; A1111's
 * default weight is 1 per clause). Without guidance: Σ wᵢ·epsᵢ / Σ wᵢ.
 */
export function composePredictor(ms: ModelSet, conds: readonly Float32Array[], weights: readonly number[]): NoisePredictor {
  if (conds.length !== weights.length) throw new EngineError('INVALID_ARGUMENT', 'compose needs one weight per conditioning');
  return async (latentIn, timestep, _cond, uncond, guidance, h, w) => {
    const cfg = usesCfg(ms, guidance);
    if (cfg && !uncond) throw new EngineError('INVALID_ARGUMENT', 'classifier-free guidance needs the unconditional embedding');
    const preds = await predictEach(ms, latentIn, timestep, cfg ? [uncond!, ...conds] : conds, h, w, guidance);
    return combineCompose(cfg ? preds[0]! : undefined, cfg ? preds.slice(1) : preds, weights, guidance);
  };
}

/** The AND arithmetic on given predictions (exported for tests and the grid). */
export function combineCompose(
  epsU: Float32Array | undefined,
  epsC: readonly Float32Array[],
  weights: readonly number[],
  guidance: number,
): Float32Array {
  const n = epsC[0]!.length;
  const out = new Float32Array(n);
  if (epsU) {
    out.set(epsU);
    epsC.forEach((e, i) => {
      const k = weights[i]! * guidance;
      for (let j = 0; j < n; j++) out[j] = out[j]! + k * (e[j]! - epsU[j]!);
    });
    return out;
  }
  const total = weights.reduce((a, b) => a + b, 0) || 1;
  epsC.forEach((e, i) => {
    const k = weights[i]! / total;
    for (let j = 0; j < n; j++) out[j] = out[j]! + k * e[j]!;
  });
  return out;
}

/**
 * Which parent conditions each of `steps` steps: parent i takes a share of the steps in
 * proportion to wᵢ, interleaved as evenly as possible (smooth weighted round robin). Equal
 * weights give strict alternation 0, 1, 0, 1, … ([a|b]).
 */
export function alternationSchedule(weights: readonly number[], steps: number): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new EngineError('INVALID_ARGUMENT', 'alternate needs a weight above 0');
  const current = weights.map(() => 0);
  const out: number[] = [];
  for (let s = 0; s < steps; s++) {
    let best = 0;
    weights.forEach((w, i) => {
      current[i] = current[i]! + w;
      if (current[i]! > current[best]! + 1e-12) best = i;
    });
    current[best] = current[best]! - total;
    out.push(best);
  }
  return out;
}

/** `[a|b]`: each step guided by one parent, per `schedule` (see alternationSchedule). */
export function alternatePredictor(ms: ModelSet, conds: readonly Float32Array[], schedule: readonly number[]): NoisePredictor {
  return async (latentIn, timestep, _cond, uncond, guidance, h, w, step) => {
    const c = conds[schedule[step % schedule.length]!]!;
    const cfg = usesCfg(ms, guidance);
    if (cfg && !uncond) throw new EngineError('INVALID_ARGUMENT', 'classifier-free guidance needs the unconditional embedding');
    const preds = await predictEach(ms, latentIn, timestep, cfg ? [uncond!, c] : [c], h, w, guidance);
    if (!cfg) return preds[0]!;
    const out = new Float32Array(latentIn.length);
    for (let j = 0; j < out.length; j++) out[j] = preds[0]![j]! + guidance * (preds[1]![j]! - preds[0]![j]!);
    return out;
  };
}

/**
 * Regions: eps = Σᵢ Mᵢ ⊙ guidedᵢ with guidedᵢ = eps_u + g·(epsᵢ − eps_u) (epsᵢ alone without
 * guidance); `masks` are h×w, normalised per pixel, broadcast over the latent channels.
 */
export function regionPredictor(ms: ModelSet, conds: readonly Float32Array[], masks: readonly Float32Array[]): NoisePredictor {
  return async (latentIn, timestep, _cond, uncond, guidance, h, w) => {
    for (const m of masks)
      if (m.length !== h * w) throw new EngineError('SHAPE_MISMATCH', `a region mask has ${m.length} values; the latent is ${h}x${w}`);
    const cfg = usesCfg(ms, guidance);
    if (cfg && !uncond) throw new EngineError('INVALID_ARGUMENT', 'classifier-free guidance needs the unconditional embedding');
    const preds = await predictEach(ms, latentIn, timestep, cfg ? [uncond!, ...conds] : conds, h, w, guidance);
    const epsU = cfg ? preds[0]! : undefined;
    const epsC = cfg ? preds.slice(1) : preds;
    const n = latentIn.length;
    const hw = h * w;
    const out = new Float32Array(n);
    epsC.forEach((e, i) => {
      const m = masks[i]!;
      for (let j = 0; j < n; j++) {
        const guided = epsU ? epsU[j]! + guidance * (e[j]! - epsU[j]!) : e[j]!;
        out[j] = out[j]! + m[j % hw]! * guided;
      }
    });
    return out;
  };
}
