/**
 * The `denoise` objective (PH2P's): noise-prediction loss at a random timestep,
 *
 *   L = mean((UNet(sqrt(ab_t) x0 + sqrt(1 - ab_t) n, t, c) - n)^2),   t ~ U[tMin, tMax], n ~ N(0, I)
 *
 * with x0 the scaled VAE latent of the target. One UNet VJP per iteration, no guidance; the
 * draws are seeded by (seed, iteration) so runs are reproducible.
 */
import { differentiateLoss } from '../autodiff/loss.js';
import { alphasCumprod } from '../diffusion/schedulers/index.js';
import { gaussian, philox4x32 } from '../diffusion/rng.js';
import { sessionFromModel } from '../runtime/session-from-model.js';
import { buildGuidedUnet, GUIDED_INPUTS, GUIDED_OUTPUT } from './guided-unet.js';
import type { InversionModels } from './inversion-models.js';
import type { Objective } from './refine.js';
import { floatFeed, readFloat, timestepFeed } from './ir-feeds.js';

export interface DenoiseObjectiveOptions {
  /** Target latent [C, h, w], already multiplied by the latent scale. */
  targetLatent: Float32Array;
  width: number;
  height: number;
  seed: number;
  /** Timestep range (PH2P: 500..900 inclusive). */
  tMin?: number;
  tMax?: number;
}

export async function createDenoiseObjective(
  m: InversionModels,
  o: DenoiseObjectiveOptions,
): Promise<Objective & { release(): Promise<void> }> {
  const h = o.height / m.vaeFactor;
  const w = o.width / m.vaeFactor;
  const n = m.latentChannels * h * w;
  const dims = [1, m.latentChannels, h, w];
  const guided = buildGuidedUnet(
    m.unet,
    { latentHeight: h, latentWidth: w, channels: m.latentChannels, tokens: m.tokens, dim: m.dim },
    false,
  );
  // The MSE lives in the graph, so one run gives the loss and dLoss/dc.
  const diff = differentiateLoss(guided.model, { kind: 'mse', output: GUIDED_OUTPUT }, { wrt: [GUIDED_INPUTS.cond] });
  const session = await sessionFromModel(diff.model, m.sessionOptions);
  const abar = alphasCumprod(m.scheduler);
  const tMin = o.tMin ?? 500;
  const tMax = o.tMax ?? 900;
  const gradName = diff.gradOutputs[GUIDED_INPUTS.cond]!;
  const targetName = diff.targets[GUIDED_OUTPUT]!;

  return {
    name: 'denoise',
    async lossAndGrad(c, iteration) {
      // Philox keyed by (seed, iteration) gives the timestep; the noise uses stream iteration+1.
      const [r] = philox4x32([iteration >>> 0, 0x7e57, 0, 0], [o.seed >>> 0, 0xd1ce]);
      const t = tMin + (r! % (tMax - tMin + 1));
      const noise = gaussian(o.seed, n, iteration + 1);
      const a = Math.sqrt(abar[t]!);
      const s = Math.sqrt(1 - abar[t]!);
      const xt = new Float32Array(n);
      for (let j = 0; j < n; j++) xt[j] = a * o.targetLatent[j]! + s * noise[j]!;
      const res = await session.run(
        {
          [GUIDED_INPUTS.x]: floatFeed(xt, dims),
          [GUIDED_INPUTS.cond]: floatFeed(c, [1, m.tokens, m.dim]),
          [GUIDED_INPUTS.t]: timestepFeed(t, guided.timestepType),
          [targetName]: floatFeed(noise, dims),
        },
        [diff.loss, gradName],
      );
      return { loss: readFloat(res[diff.loss]!)[0]!, grad: Float32Array.from(readFloat(res[gradName]!)) };
    },
    release: () => session.release(),
  };
}
