/**
 * PH2P (Mahajan et al., CVPR 2024, "Prompting Hard or Hardly Prompting"): optimise the input
 * token embeddings of a hard prompt with the diffusion model's own noise-prediction loss at the
 * later timesteps, t ~ U[500, 900], projecting them to the nearest vocabulary tokens on every
 * forward (delayed projection), with L-BFGS. The answer is the projected tokens after the last
 * iteration, decoded to text; the loss is that of the `denoise` objective (denoise-objective.ts)
 * chained through the text encoder to its input embeddings.
 *
 * Fixed by the method's description: the loss, the timestep range, the projection on each
 * forward, L-BFGS. L-BFGS runs with torch.optim.LBFGS's defaults (lr 1, history 100), one loss
 * evaluation per step; the prompt length (16, as PEZ) and the iterations are ours: the PH2P
 * reference code was not reachable from here (docs/evaluation.md). With lr 0.1 the prompt never
 * left its random start on the demo set (40 iterations); with lr 1 it does.
 */
import { EngineError } from '../../errors.js';
import { createDenoiseObjective } from '../denoise-objective.js';
import type { InversionModels } from '../inversion-models.js';
import type { InvertProgress, TargetImage } from '../invert.js';
import { Lbfgs } from './lbfgs.js';
import { optimiseProjectedPrompt, printableVocabulary, type ProjectedPromptResult } from './projected-prompt.js';
import { createTextTower, type TextTower } from './text-tower.js';
import type { MethodResult } from './types.js';

export interface Ph2pSettings {
  /** Prompt tokens L. */
  length: number;
  iterations: number;
  lr: number;
  /** L-BFGS curvature pairs kept. */
  history: number;
  /** Timestep range of the loss (inclusive). */
  tMin: number;
  tMax: number;
  /** Seeds the start tokens and the (timestep, noise) draws. */
  seed: number;
  snapshotEvery: number;
}

export const PH2P_PRESETS = {
  paper: { length: 16, iterations: 3000, lr: 1, history: 100, tMin: 500, tMax: 900, seed: 0, snapshotEvery: 100 },
  fast: { length: 16, iterations: 100, lr: 1, history: 100, tMin: 500, tMax: 900, seed: 0, snapshotEvery: 25 },
} as const satisfies Record<string, Ph2pSettings>;

export interface Ph2pOptions {
  settings: Ph2pSettings;
  /** The diffusion text encoder made differentiable (createPh2pTower), kept by the caller across images; else built and released here. */
  tower?: TextTower;
  signal?: AbortSignal;
  onProgress?: (e: InvertProgress) => void;
}

/** The text encoder's conditioning output: `last_hidden_state` when present, else its first 3-D output. */
function conditioningOutput(m: InversionModels): string {
  const outs = m.textEncoder.graph.outputs;
  return (outs.find((o) => o.name === 'last_hidden_state') ?? outs.find((o) => o.shape?.length === 3) ?? outs[0]!).name;
}

/** Candidates from a projected-prompt run: each distinct snapshot text once (the answer first), scored by −loss. */
export function promptCandidates(
  r: ProjectedPromptResult,
  answer: Int32Array,
  decode: (ids: Int32Array) => string,
  answerLoss: number,
): MethodResult['candidates'] {
  const seen = new Set<string>();
  const out: MethodResult['candidates'] = [];
  const add = (ids: Int32Array, iteration: number, loss: number) => {
    const prompt = decode(ids);
    if (seen.has(prompt)) return;
    seen.add(prompt);
    out.push({ prompt, score: -loss, iteration, loss, e2tDistance: 0 });
  };
  add(answer, r.iterations, answerLoss);
  add(r.best.ids, r.best.iteration, r.best.loss);
  for (const s of r.snapshots) add(s.ids, s.iteration, s.loss);
  return out;
}

/**
 * Invert `target` with PH2P.
 * @throws EngineError('MODEL_FOLDER') when the model set has no VAE encoder (the loss needs the target latent)
 */
export async function invertPh2p(m: InversionModels, target: TargetImage, o: Ph2pOptions): Promise<MethodResult> {
  const s = o.settings;
  const started = performance.now();
  if (!m.encodeLatent)
    throw new EngineError(
      'MODEL_FOLDER',
      'PH2P needs a VAE encoder (vae_encoder/model.onnx) in the model folder: its loss is on the target latent',
    );
  o.onProgress?.({ phase: 'encoding', message: 'target latent' });
  const targetLatent = await m.encodeLatent(target);
  const tower = o.tower ?? (await createPh2pTower(m));
  let objective: Awaited<ReturnType<typeof createDenoiseObjective>> | undefined;
  try {
    if (tower.tokens !== m.tokens || tower.outputSize !== m.tokens * m.dim)
      throw new EngineError(
        'INVALID_MODEL',
        `the text encoder gives ${tower.outputSize} values for ${tower.tokens} positions; the UNet expects ${m.tokens}×${m.dim}`,
      );
    const denoise = await createDenoiseObjective(m, {
      targetLatent,
      width: target.width,
      height: target.height,
      seed: s.seed,
      tMin: s.tMin,
      tMax: s.tMax,
    });
    objective = denoise;
    const r = await optimiseProjectedPrompt({
      tower,
      length: s.length,
      iterations: s.iterations,
      optimiser: new Lbfgs(s.length * tower.dim, { history: s.history }),
      lr: () => s.lr,
      seed: s.seed,
      allowed: printableVocabulary(tower),
      snapshotEvery: s.snapshotEvery,
      async lossAndGrad(ids, iteration) {
        const c = await tower.forward(ids);
        const { loss, grad } = await denoise.lossAndGrad(c, iteration, o.signal);
        return { loss, grad: await tower.inputGrad(ids, grad) };
      },
      ...(o.signal ? { signal: o.signal } : {}),
      onProgress: (e) => o.onProgress?.({ phase: 'refining', ...e }),
    });
    const decode = (ids: Int32Array) => tower.decode(ids);
    const candidates = promptCandidates(r, r.last, decode, r.snapshots.at(-1)!.loss);
    o.onProgress?.({ phase: 'done' });
    return {
      method: 'ph2p',
      initialPrompt: decode(r.initialIds),
      prompt: candidates[0]!.prompt,
      tokens: Array.from(r.last),
      candidates,
      loss: r.losses,
      iterations: r.iterations,
      seconds: (performance.now() - started) / 1000,
      objective: 'denoise',
      rankedBy: 'none',
      width: target.width,
      height: target.height,
      ...(r.stopped ? { stopped: r.stopped } : {}),
      ...(r.message ? { message: r.message } : {}),
    };
  } finally {
    await objective?.release();
    if (!o.tower) await tower.release();
  }
}

/** PH2P's differentiable text encoder for a model set (build once, reuse for many images). */
export function createPh2pTower(m: InversionModels): Promise<TextTower> {
  return createTextTower(m.textEncoder, m.tokenizer, {
    output: conditioningOutput(m),
    ...(m.sessionOptions ? { sessionOptions: m.sessionOptions } : {}),
  });
}
