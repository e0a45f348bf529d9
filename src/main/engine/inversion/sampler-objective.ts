/**
 * The `pixel` (EDITOR's) and `latent` objectives: sample K steps from fixed noise with
 * classifier-free guidance (embedding-renderer.ts), then compare the result with the target.
 *
 *   pixel:  L = mean((VAE_dec(x_K / s) - target_image)^2)    target in [-1, 1], model resolution
 *   latent: L = mean((x_K - target_latent)^2)                 target = s * VAE_enc(target).mean
 *
 * Gradients flow back through the sampler (sampler-chain.ts) into the conditioning c.
 */
import { buildVjp } from '../autodiff/vjp.js';
import { differentiateLoss } from '../autodiff/loss.js';
import { sessionFromModel } from '../runtime/session-from-model.js';
import { GUIDED_INPUTS, GUIDED_OUTPUT } from './guided-unet.js';
import type { InversionModels } from './inversion-models.js';
import type { Objective } from './refine.js';
import type { Renderer } from './embedding-renderer.js';
import { sampleBackward } from './sampler-chain.js';
import { floatFeed, readFloat } from './ir-feeds.js';

export interface SamplerObjectiveOptions {
  kind: 'pixel' | 'latent';
  /** pixel: target image CHW [-1,1] at the renderer's size; latent: target latent [C, h, w] (already scaled). */
  target: Float32Array;
}

/**
 * Builds the VJP sessions once; each lossAndGrad runs K forward UNet calls (through the
 * renderer's session) and K forward+VJP calls, plus the decoder's forward+VJP for `pixel`.
 */
export async function createSamplerObjective(
  m: InversionModels,
  r: Renderer,
  o: SamplerObjectiveOptions,
): Promise<Objective & { release(): Promise<void> }> {
  const { plan, latentDims, decoder } = r;
  const latentSize = latentDims.reduce((a, b) => a * b, 1);
  const vjp = buildVjp(r.guided.model, { wrt: [GUIDED_INPUTS.x, GUIDED_INPUTS.cond], outputs: [GUIDED_OUTPUT] });
  const vjpSession = await sessionFromModel(vjp.model, m.sessionOptions);
  const gx = vjp.gradOutputs[GUIDED_INPUTS.x]!;
  const gc = vjp.gradOutputs[GUIDED_INPUTS.cond]!;
  const cot = vjp.cotangentInputs[GUIDED_OUTPUT]!;
  // The pixel objective differentiates the MSE through the decoder in one session run.
  const decLoss =
    o.kind === 'pixel'
      ? differentiateLoss(decoder.model, { kind: 'mse', output: decoder.output.name }, { wrt: [decoder.input.name] })
      : undefined;
  const decSession = decLoss ? await sessionFromModel(decLoss.model, m.sessionOptions) : undefined;
  const targetFeed = decLoss ? floatFeed(o.target, decoder.output.shape as number[], decoder.output.dtype) : undefined;

  const finalLoss = async (xK: Float32Array): Promise<{ loss: number; grad: Float32Array }> => {
    if (decLoss && decSession) {
      const gName = decLoss.gradOutputs[decoder.input.name]!;
      const res = await decSession.run({ [decoder.input.name]: r.decoderInput(xK), [decLoss.targets[decoder.output.name]!]: targetFeed! }, [
        decLoss.loss,
        gName,
      ]);
      // z = x_K / s, so dL/dx_K = dL/dz / s.
      return { loss: readFloat(res[decLoss.loss]!)[0]!, grad: readFloat(res[gName]!).map((v) => v / m.latentScale) };
    }
    const grad = new Float32Array(latentSize);
    let s = 0;
    for (let j = 0; j < latentSize; j++) {
      const d = xK[j]! - o.target[j]!;
      s += d * d;
      grad[j] = (2 * d) / latentSize;
    }
    return { loss: s / latentSize, grad };
  };

  return {
    name: o.kind,
    async lossAndGrad(c, _iteration, signal) {
      const fwd = await r.sample(c, signal ? { signal } : {});
      const { loss, grad } = await finalLoss(fwd.latents[plan.steps]!);
      const { gCond } = await sampleBackward(
        plan,
        fwd,
        grad,
        async (i, xIn, gEps) => {
          const res = await vjpSession.run(
            { ...r.stepFeeds(plan, i, c), [GUIDED_INPUTS.x]: floatFeed(xIn, latentDims), [cot]: floatFeed(gEps, latentDims) },
            [gx, gc],
          );
          return { gxIn: readFloat(res[gx]!), gCond: readFloat(res[gc]!) };
        },
        signal ? { signal } : {},
      );
      return { loss, grad: gCond ?? new Float32Array(c.length) };
    },
    async release() {
      await Promise.all([vjpSession.release(), decSession?.release()]);
    },
  };
}
