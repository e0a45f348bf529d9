/**
 * Guided noise prediction through the capture session: the same batching and arithmetic as
 * diffusion/unet.ts predictNoise (one batch [uncond; cond] for symbolic-batch exports, two runs for
 * a fixed batch of 1, the conditional input twice for a fixed batch of 2 without guidance), with the
 * conditional half's attention added to an accumulator. Where the export runs uncond and cond
 * separately, the unconditional pass uses the plain UNet session (its maps are not wanted).
 */
import { EngineError } from '../errors.js';
import type { ModelSet } from '../diffusion/load-model-set.js';
import type { NoisePredictor } from '../diffusion/pipeline.js';
import { guidanceEmbedding, runUnet, usesCfg } from '../diffusion/unet.js';
import type { AttentionCapture } from './capture-session.js';
import type { AttentionAccumulator } from './maps.js';

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * A NoisePredictor for generate() that records each step's cross-attention into `acc`.
 * `filter(step, timestep)` (default: every step) says which steps' maps are added.
 */
export function capturingPredictor(
  ms: ModelSet,
  capture: AttentionCapture,
  acc: AttentionAccumulator,
  filter: (step: number, timestep: number) => boolean = () => true,
): NoisePredictor {
  return async (latentIn, timestep, cond, uncond, guidance, h, w, step) => {
    const record = filter(step, timestep);
    const tc = ms.io.timestepCondDim ? guidanceEmbedding(guidance - 1, ms.io.timestepCondDim) : undefined;
    const run = async (sample: Float32Array, ehs: Float32Array, batch: number, withTc: boolean) => {
      const r = await capture.run({ sample, timestep, ehs, batch, height: h, width: w, ...(withTc && tc ? { timestepCond: tc } : {}) });
      if (record) acc.add(r.maps, timestep);
      return r.eps;
    };
    const n = latentIn.length;
    if (!usesCfg(ms, guidance)) {
      if (ms.io.unetFixedBatch !== 2) return run(latentIn, cond, 1, true);
      return (await run(concat(latentIn, latentIn), concat(cond, cond), 2, true)).slice(0, n);
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
    return eps;
  };
}
