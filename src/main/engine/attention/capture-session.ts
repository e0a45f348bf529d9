/**
 * The capture session: the model set's UNet with the reduced cross-attention outputs
 * (capture-graph.ts), opened once per model set and kept apart from the plain UNet session, so a
 * generation that does not ask for maps runs exactly as before.
 */
import path from 'node:path';
import type * as ort from 'onnxruntime-node';
import { EngineError } from '../errors.js';
import type { ModelSet } from '../diffusion/load-model-set.js';
import { readModel, serializeForSession } from '../onnx/model-io.js';
import { createSession, type Session } from '../runtime/session.js';
import { floatTensor, tensorToFloat32, timestepTensor } from '../runtime/tensors.js';
import { addAttentionOutputs } from './capture-graph.js';
import type { CrossAttentionLayer } from './find-cross-attention.js';
import { mapSize, type LayerAttention } from './maps.js';

/** One UNet evaluation's inputs (the same as runUnet's). */
export interface CaptureInput {
  /** `batch * C * h * w`, already scaled by the scheduler's model-input scale. */
  sample: Float32Array;
  timestep: number;
  /** `batch * 77 * D`; with guidance the batch is [uncond; cond]. */
  ehs: Float32Array;
  batch: number;
  /** Latent size. */
  height: number;
  width: number;
  /** LCM's guidance embedding (zeros when absent and the UNet has the input). */
  timestepCond?: Float32Array;
}

export interface CaptureOutput {
  /** out_sample, `batch * C * h * w`. */
  eps: Float32Array;
  /** Per layer, the maps of the first item of the conditional half of the batch. */
  maps: LayerAttention[];
}

export interface AttentionCapture {
  readonly layers: readonly CrossAttentionLayer[];
  readonly session: Session;
  /** One UNet evaluation with capture. */
  run(input: CaptureInput): Promise<CaptureOutput>;
  /** Releases the session and forgets it (the next openAttentionCapture opens a new one). */
  release(): Promise<void>;
}

const cache = new WeakMap<ModelSet, Promise<AttentionCapture>>();

/**
 * The model set's capture session, opened on first use (reads `unet/model.onnx` again, finds the
 * cross-attention, writes the edited graph next to the weights for onnxruntime) and cached.
 * @throws AttentionCaptureError when the UNet has no capturable cross-attention (fused attention
 *   ops, or none at all)
 */
export function openAttentionCapture(ms: ModelSet): Promise<AttentionCapture> {
  let p = cache.get(ms);
  if (!p) {
    p = open(ms);
    cache.set(ms, p);
    p.catch(() => cache.delete(ms));
  }
  return p;
}

/** Release the cached capture session of a model set, if one was opened. */
export async function releaseAttentionCapture(ms: ModelSet): Promise<void> {
  const p = cache.get(ms);
  if (!p) return;
  cache.delete(ms);
  await (await p.catch(() => undefined))?.release();
}

async function open(ms: ModelSet): Promise<AttentionCapture> {
  const unet = await readModel(path.join(ms.dir, 'unet', 'model.onnx'));
  const graph = addAttentionOutputs(unet);
  const prepared = await serializeForSession(graph.model);
  let session: Session;
  try {
    session = await createSession((prepared.path ?? prepared.bytes)!, { provider: ms.provider, name: `${ms.name}/unet+attention` });
  } finally {
    await prepared.dispose();
  }
  const { io } = ms;
  const fetch = [io.names.unetOutput, ...graph.outputs];
  let released = false;
  const capture: AttentionCapture = {
    layers: graph.layers,
    session,
    async run(input) {
      const { batch, height: h, width: w } = input;
      const C = io.latentChannels;
      const feeds: Record<string, ort.Tensor> = {
        sample: floatTensor(input.sample, [batch, C, h, w], io.unetType),
        timestep: timestepTensor(input.timestep, io.timestepType, batch),
        encoder_hidden_states: floatTensor(input.ehs, [batch, io.sequenceLength, io.hiddenSize], io.unetType),
      };
      if (io.timestepCondDim) {
        const cond = input.timestepCond ?? new Float32Array(io.timestepCondDim);
        const rep = new Float32Array(batch * io.timestepCondDim);
        for (let b = 0; b < batch; b++) rep.set(cond, b * io.timestepCondDim);
        feeds.timestep_cond = floatTensor(rep, [batch, io.timestepCondDim], io.unetType);
      }
      const out = await session.run(feeds, fetch);
      const eps = tensorToFloat32(out[io.names.unetOutput]!);
      if (eps.length !== batch * C * h * w)
        throw new EngineError('INVALID_MODEL', `the UNet returned ${eps.length} values for a [${batch},${C},${h},${w}] latent`);
      const maps = graph.outputs.map((name, i): LayerAttention => {
        const t = out[name]!;
        const [, queries, positions] = t.dims as [number, number, number];
        const data = (t.data as Float32Array).slice(0, queries * positions);
        return { layer: graph.layers[i]!, ...mapSize(queries, h, w), positions, data };
      });
      return { eps, maps };
    },
    async release() {
      if (released) return;
      released = true;
      if (cache.get(ms) !== undefined) cache.delete(ms);
      await session.release();
    },
  };
  return capture;
}
