/**
 * Forward-only rendering of a conditioning embedding: K guided sampler steps from fixed seeded
 * noise, then the VAE decoder. Shared by the sampler objectives (their forward pass), previews
 * and candidate ranking, so every image the inversion shows is made the same way.
 */
import * as ort from 'onnxruntime-node';
import { getScheduler, type SamplingPlan, type SchedulerName } from '../diffusion/schedulers/index.js';
import { gaussian } from '../diffusion/rng.js';
import type { ValueInfo } from '../onnx/ir.js';
import { specialise } from '../onnx/specialise.js';
import { sessionFromModel } from '../runtime/session-from-model.js';
import { buildGuidedUnet, GUIDED_INPUTS, GUIDED_OUTPUT, type GuidedUnet } from './guided-unet.js';
import type { InversionModels } from './inversion-models.js';
import { sampleForward, type ChainForward } from './sampler-chain.js';
import { floatFeed, readFloat, timestepFeed } from './ir-feeds.js';

export interface RenderSettings {
  width: number;
  height: number;
  steps: number;
  scheduler: SchedulerName;
  guidance: number;
  /** Seed of the initial noise (stream 0) and of ancestral step noise (stream i + 1). */
  seed: number;
  /** Unconditional embedding T("") [tokens * dim]. */
  uncond: Float32Array;
}

export interface Renderer {
  readonly settings: RenderSettings;
  readonly plan: SamplingPlan;
  readonly guided: GuidedUnet;
  readonly latentDims: number[];
  readonly embDims: number[];
  /** The decoder as specialised to this latent size (input and output value info). */
  readonly decoder: { model: ReturnType<typeof specialise>; input: ValueInfo; output: ValueInfo };
  /** Feeds of the guided UNet at step i of `plan` for conditioning c (x is added by the caller). */
  stepFeeds(plan: SamplingPlan, i: number, c: Float32Array): Record<string, ort.Tensor>;
  /** Run the sampler; `plan` defaults to the settings' plan (ranking may use more steps). */
  sample(c: Float32Array, opts?: { signal?: AbortSignal; plan?: SamplingPlan }): Promise<ChainForward>;
  /** Decoder input for a final latent (divided by the latent scale, in the decoder's dtype). */
  decoderInput(xK: Float32Array): ort.Tensor;
  /** Sample and decode: image CHW in [-1, 1] at width x height. */
  render(c: Float32Array, opts?: { signal?: AbortSignal; steps?: number }): Promise<Float32Array>;
  release(): Promise<void>;
}

export async function createRenderer(m: InversionModels, s: RenderSettings): Promise<Renderer> {
  const h = s.height / m.vaeFactor;
  const w = s.width / m.vaeFactor;
  const latentSize = m.latentChannels * h * w;
  const plan = getScheduler(s.scheduler).plan(m.scheduler, s.steps);
  // As diffusers (and generate()): classifier-free guidance only when guidance > 1.
  const cfg = s.guidance > 1;
  const guided = buildGuidedUnet(
    m.unet,
    { latentHeight: h, latentWidth: w, channels: m.latentChannels, tokens: m.tokens, dim: m.dim },
    cfg,
  );
  const unetSession = await sessionFromModel(guided.model, m.sessionOptions);
  const latentDims = [1, m.latentChannels, h, w];
  const embDims = [1, m.tokens, m.dim];
  const decModel = specialise(m.vaeDecoder, { [m.vaeDecoder.graph.inputs[0]!.name]: latentDims });
  const decoder = { model: decModel, input: decModel.graph.inputs[0]!, output: decModel.graph.outputs[0]! };
  const decSession = await sessionFromModel(decModel, m.sessionOptions);
  const z0 = gaussian(s.seed, latentSize);
  const uncondFeed = floatFeed(s.uncond, embDims);
  const guidanceFeed = new ort.Tensor('float32', Float32Array.of(s.guidance), []);

  const stepFeeds = (p: SamplingPlan, i: number, c: Float32Array): Record<string, ort.Tensor> => ({
    [GUIDED_INPUTS.cond]: floatFeed(c, embDims),
    [GUIDED_INPUTS.t]: timestepFeed(p.timesteps[i]!, guided.timestepType),
    ...(cfg ? { [GUIDED_INPUTS.uncond]: uncondFeed, [GUIDED_INPUTS.guidance]: guidanceFeed } : {}),
  });

  const sample = (c: Float32Array, o: { signal?: AbortSignal; plan?: SamplingPlan } = {}) => {
    const p = o.plan ?? plan;
    return sampleForward(
      p,
      z0,
      async (i, xIn) => {
        const res = await unetSession.run({ ...stepFeeds(p, i, c), [GUIDED_INPUTS.x]: floatFeed(xIn, latentDims) }, [GUIDED_OUTPUT]);
        return readFloat(res[GUIDED_OUTPUT]!);
      },
      { ...(o.signal ? { signal: o.signal } : {}), stepNoise: (i) => gaussian(s.seed, latentSize, i + 1) },
    );
  };

  const decoderInput = (xK: Float32Array) =>
    floatFeed(
      xK.map((v) => v / m.latentScale),
      latentDims,
      decoder.input.dtype,
    );

  return {
    settings: s,
    plan,
    guided,
    latentDims,
    embDims,
    decoder,
    stepFeeds,
    sample,
    decoderInput,
    async render(c, o = {}) {
      const p = o.steps && o.steps !== plan.steps ? getScheduler(s.scheduler).plan(m.scheduler, o.steps) : plan;
      const fwd = await sample(c, { ...(o.signal ? { signal: o.signal } : {}), plan: p });
      const res = await decSession.run({ [decoder.input.name]: decoderInput(fwd.latents[p.steps]!) }, [decoder.output.name]);
      return Float32Array.from(readFloat(res[decoder.output.name]!));
    },
    async release() {
      await Promise.all([unetSession.release(), decSession.release()]);
    },
  };
}
