/**
 * One denoising evaluation: the UNet on a latent with classifier-free guidance. Handles the
 * export differences (fp16 activations, int64/float timesteps, fixed or symbolic batch, LCM's
 * guidance embedding) so callers work in float32 throughout.
 */
import { EngineError } from '../errors.js';
import type { Session } from '../runtime/session.js';
import { floatTensor, tensorToFloat32, timestepTensor } from '../runtime/tensors.js';
import type { ModelSet } from './load-model-set.js';

/** The UNet session (inversion builds its VJP graphs from the same model file: `${modelSet.dir}/unet/model.onnx`). */
export function unetSession(ms: ModelSet): Session {
  return ms.unet;
}

/**
 * diffusers' get_guidance_scale_embedding (LCM): w' = 1000 w, [sin(w' f_k), cos(w' f_k)] with
 * f_k = exp(-k ln(10000) / (dim/2 - 1)).
 */
export function guidanceEmbedding(w: number, dim: number): Float32Array {
  const half = dim / 2;
  const out = new Float32Array(dim);
  const scale = Math.log(10000) / (half - 1);
  for (let k = 0; k < half; k++) {
    const a = w * 1000 * Math.exp(-k * scale);
    out[k] = Math.sin(a);
    out[half + k] = Math.cos(a);
  }
  return out;
}

/**
 * Raw UNet call on a batch.
 * @param sample `batch * C * h * w` (already multiplied by the scheduler's model-input scale)
 * @param ehs `batch * 77 * D` text embeddings
 * @returns out_sample, `batch * C * h * w`
 */
export async function runUnet(
  ms: ModelSet,
  sample: Float32Array,
  timestep: number,
  ehs: Float32Array,
  batch: number,
  h: number,
  w: number,
  timestepCond?: Float32Array,
): Promise<Float32Array> {
  const { io } = ms;
  const C = io.latentChannels;
  const feeds: Record<string, import('onnxruntime-node').Tensor> = {
    sample: floatTensor(sample, [batch, C, h, w], io.unetType),
    timestep: timestepTensor(timestep, io.timestepType, batch),
    encoder_hidden_states: floatTensor(ehs, [batch, io.sequenceLength, io.hiddenSize], io.unetType),
  };
  if (io.timestepCondDim) {
    const cond = timestepCond ?? new Float32Array(io.timestepCondDim);
    const rep = new Float32Array(batch * io.timestepCondDim);
    for (let b = 0; b < batch; b++) rep.set(cond, b * io.timestepCondDim);
    feeds.timestep_cond = floatTensor(rep, [batch, io.timestepCondDim], io.unetType);
  }
  const out = await ms.unet.run(feeds, [io.names.unetOutput]);
  const res = tensorToFloat32(out[io.names.unetOutput]!);
  if (res.length !== batch * C * h * w)
    throw new EngineError('INVALID_MODEL', `the UNet returned ${res.length} values for a [${batch},${C},${h},${w}] latent`);
  return res;
}

/** Whether a guidance scale turns on classifier-free guidance (diffusers: guidance > 1, and never for LCM). */
export function usesCfg(ms: ModelSet, guidance: number): boolean {
  return guidance > 1 && !ms.io.timestepCondDim;
}

/**
 * Guided noise prediction eps_u + g (eps_c - eps_u) for one latent, or the conditional prediction
 * alone when guidance is off (see usesCfg). Runs one batch of 2 when the UNet's batch dim is
 * symbolic, else two runs.
 * @param latentIn model input, `C * h * w`
 * @param cond, uncond `77 * D` embeddings (uncond only needed with CFG)
 */
export async function predictNoise(
  ms: ModelSet,
  latentIn: Float32Array,
  timestep: number,
  cond: Float32Array,
  uncond: Float32Array | undefined,
  guidance: number,
  h: number,
  w: number,
): Promise<Float32Array> {
  const tc = ms.io.timestepCondDim ? guidanceEmbedding(guidance - 1, ms.io.timestepCondDim) : undefined;
  if (!usesCfg(ms, guidance)) {
    if (ms.io.unetFixedBatch !== 2) return runUnet(ms, latentIn, timestep, cond, 1, h, w, tc);
    // Exports with a fixed batch of 2 (made for guidance): run the conditional input twice.
    const x2 = new Float32Array(2 * latentIn.length);
    x2.set(latentIn, 0);
    x2.set(latentIn, latentIn.length);
    const e2 = new Float32Array(2 * cond.length);
    e2.set(cond, 0);
    e2.set(cond, cond.length);
    return (await runUnet(ms, x2, timestep, e2, 2, h, w, tc)).slice(0, latentIn.length);
  }
  if (!uncond) throw new EngineError('INVALID_ARGUMENT', 'classifier-free guidance needs the unconditional embedding');
  const n = latentIn.length;
  let epsU: Float32Array;
  let epsC: Float32Array;
  if (ms.io.unetFixedBatch === 1) {
    epsU = await runUnet(ms, latentIn, timestep, uncond, 1, h, w);
    epsC = await runUnet(ms, latentIn, timestep, cond, 1, h, w);
  } else {
    const x2 = new Float32Array(2 * n);
    x2.set(latentIn, 0);
    x2.set(latentIn, n);
    const e2 = new Float32Array(uncond.length + cond.length);
    e2.set(uncond, 0);
    e2.set(cond, uncond.length);
    const out = await runUnet(ms, x2, timestep, e2, 2, h, w);
    epsU = out.subarray(0, n);
    epsC = out.subarray(n);
  }
  const eps = new Float32Array(n);
  for (let j = 0; j < n; j++) eps[j] = epsU[j]! + guidance * (epsC[j]! - epsU[j]!);
  return eps;
}
