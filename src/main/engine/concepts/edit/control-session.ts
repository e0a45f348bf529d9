/**
 * The attention-control session: the model set's UNet with the control inputs and outputs of
 * control-graph.ts, opened once per model set (a second onnxruntime session, like the attention
 * capture's; the plain UNet session is never touched).
 */
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { EngineError } from '../../errors.js';
import type { ModelSet } from '../../diffusion/load-model-set.js';
import { readModel, serializeForSession } from '../../onnx/model-io.js';
import { createSession, type Session } from '../../runtime/session.js';
import { floatTensor, tensorToFloat32, timestepTensor } from '../../runtime/tensors.js';
import type { CaptureInput } from '../../attention/index.js';
import { addAttentionControl, type ControlledLayer } from './control-graph.js';

/** Replacement probabilities for one layer: `feed` where `use`, broadcast against [condBatch, heads, queries, keys]. */
export interface LayerFeed {
  data: Float32Array;
  dims: readonly number[];
  /** 0/1 per element of a tensor of `useDims`. */
  use: Uint8Array;
  useDims: readonly number[];
}

/** The computed probabilities of one layer for the first item of the conditional half. */
export interface LayerProbabilities {
  layer: ControlledLayer;
  heads: number;
  queries: number;
  keys: number;
  /** [heads, queries, keys] row-major. */
  data: Float32Array;
}

export interface ControlRunInput extends CaptureInput {
  /** Layers with at most this many query positions emit their probabilities (default 0: none). */
  maxQueries?: { cross?: number; self?: number };
  /** Per layer index, the probabilities to use instead of the computed ones (default: none). */
  cross?: ReadonlyMap<number, LayerFeed>;
  self?: ReadonlyMap<number, LayerFeed>;
}

export interface ControlRunOutput {
  /** out_sample, `batch * C * h * w`. */
  eps: Float32Array;
  /** Per cross layer (findCrossAttention order), its probabilities when emitted. */
  cross: (LayerProbabilities | undefined)[];
  self: (LayerProbabilities | undefined)[];
}

export interface AttentionControl {
  readonly cross: readonly ControlledLayer[];
  readonly self: readonly ControlledLayer[];
  readonly session: Session;
  run(input: ControlRunInput): Promise<ControlRunOutput>;
  release(): Promise<void>;
}

/** Any gate value at least every layer's query count. */
export const ALL_QUERIES = Number.MAX_SAFE_INTEGER;

const cache = new WeakMap<ModelSet, Promise<AttentionControl>>();

/**
 * The model set's attention-control session, opened on first use and cached.
 * @throws AttentionCaptureError when the UNet's attention cannot be controlled (fused attention
 *   ops, no cross-attention)
 */
export function openAttentionControl(ms: ModelSet): Promise<AttentionControl> {
  let p = cache.get(ms);
  if (!p) {
    p = open(ms);
    cache.set(ms, p);
    p.catch(() => cache.delete(ms));
  }
  return p;
}

/** Release the cached control session of a model set, if one was opened. */
export async function releaseAttentionControl(ms: ModelSet): Promise<void> {
  const p = cache.get(ms);
  if (!p) return;
  cache.delete(ms);
  await (await p.catch(() => undefined))?.release();
}

const NOTHING_FED = new ort.Tensor('float32', new Float32Array(1), [1, 1, 1, 1]);
const NOTHING_USED = new ort.Tensor('bool', new Uint8Array(1), [1, 1, 1, 1]);

function gate(n: number | undefined): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.of(BigInt(Math.max(0, Math.min(ALL_QUERIES, Math.floor(n ?? 0))))), [1]);
}

async function open(ms: ModelSet): Promise<AttentionControl> {
  const unet = await readModel(path.join(ms.dir, 'unet', 'model.onnx'));
  const graph = addAttentionControl(unet);
  const prepared = await serializeForSession(graph.model);
  let session: Session;
  try {
    session = await createSession((prepared.path ?? prepared.bytes)!, { provider: ms.provider, name: `${ms.name}/unet+control` });
  } finally {
    await prepared.dispose();
  }
  const { io } = ms;
  const layers = [...graph.cross, ...graph.self];
  const fetch = [io.names.unetOutput, ...layers.map((l) => l.output)];
  let released = false;
  const read = (out: Record<string, ort.Tensor>, l: ControlledLayer): LayerProbabilities | undefined => {
    const t = out[l.output]!;
    const [b, heads, queries, keys] = t.dims as [number, number, number, number];
    if (!b) return undefined;
    const data = tensorToFloat32(t).slice(0, heads * queries * keys);
    return { layer: l, heads, queries, keys, data };
  };
  const control: AttentionControl = {
    cross: graph.cross,
    self: graph.self,
    session,
    async run(input) {
      const { batch, height: h, width: w } = input;
      const C = io.latentChannels;
      const feeds: Record<string, ort.Tensor> = {
        sample: floatTensor(input.sample, [batch, C, h, w], io.unetType),
        timestep: timestepTensor(input.timestep, io.timestepType, batch),
        encoder_hidden_states: floatTensor(input.ehs, [batch, io.sequenceLength, io.hiddenSize], io.unetType),
        [graph.maxQueries.cross]: gate(input.maxQueries?.cross),
        [graph.maxQueries.self]: gate(input.maxQueries?.self),
      };
      if (io.timestepCondDim) {
        const cond = input.timestepCond ?? new Float32Array(io.timestepCondDim);
        const rep = new Float32Array(batch * io.timestepCondDim);
        for (let b = 0; b < batch; b++) rep.set(cond, b * io.timestepCondDim);
        feeds.timestep_cond = floatTensor(rep, [batch, io.timestepCondDim], io.unetType);
      }
      for (const l of layers) {
        const f = (l.kind === 'cross' ? input.cross : input.self)?.get(l.index);
        feeds[l.feed] = f ? new ort.Tensor('float32', f.data, [...f.dims]) : NOTHING_FED;
        feeds[l.use] = f ? new ort.Tensor('bool', f.use, [...f.useDims]) : NOTHING_USED;
      }
      const out = await session.run(feeds, fetch);
      const eps = tensorToFloat32(out[io.names.unetOutput]!);
      if (eps.length !== batch * C * h * w)
        throw new EngineError('INVALID_MODEL', `the UNet returned ${eps.length} values for a [${batch},${C},${h},${w}] latent`);
      return { eps, cross: graph.cross.map((l) => read(out, l)), self: graph.self.map((l) => read(out, l)) };
    },
    async release() {
      if (released) return;
      released = true;
      if (cache.get(ms) !== undefined) cache.delete(ms);
      await session.release();
    },
  };
  return control;
}
