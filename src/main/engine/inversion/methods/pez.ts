/**
 * PEZ (Wen et al., NeurIPS 2023, "Hard Prompts Made Easy"): L = 16 token embeddings, started from
 * random vocabulary tokens, optimised with AdamW (lr 0.1, weight decay 0.1) for the CLIP
 * text–image cosine (loss 1 − cos), projected to the nearest vocabulary embedding (cosine) on
 * every forward; the answer is the projected prompt with the highest cosine seen (the reference's
 * `best_text`). 3000 iterations in the reference (`paper`), 300 in `fast`.
 *
 * Differences from the reference (YuxinWenRick/hard-prompts-made-easy, read, not copied): the
 * projection never picks BOS, EOS or the padding token (the reference may pick them, which ends
 * the prompt early) nor a token that is not printable text on its own (a byte fragment, a
 * control character: printableVocabulary); padding after EOS is the tokenizer's own, not id 0.
 */
import { AdamW } from '../optimiser.js';
import type { InvertProgress, TargetImage } from '../invert.js';
import type { ClipTowers } from './clip-towers.js';
import { promptCandidates } from './ph2p.js';
import { optimiseProjectedPrompt, printableVocabulary } from './projected-prompt.js';
import { createTextTower, type TextTower } from './text-tower.js';
import type { MethodResult } from './types.js';

export interface PezSettings {
  length: number;
  iterations: number;
  lr: number;
  weightDecay: number;
  seed: number;
  snapshotEvery: number;
}

export const PEZ_PRESETS = {
  paper: { length: 16, iterations: 3000, lr: 0.1, weightDecay: 0.1, seed: 0, snapshotEvery: 100 },
  fast: { length: 16, iterations: 300, lr: 0.1, weightDecay: 0.1, seed: 0, snapshotEvery: 50 },
} as const satisfies Record<string, PezSettings>;

export interface PezOptions {
  settings: PezSettings;
  /** The CLIP text tower made differentiable (createTextTower on clip.textModel), kept by the caller across images; else built and released here. */
  tower?: TextTower;
  signal?: AbortSignal;
  onProgress?: (e: InvertProgress) => void;
}

/**
 * 1 − cos(t, v) and its gradient with respect to t, for a unit-length v.
 * d cos / dt = v / |t| − (t·v) t / |t|³.
 */
export function cosineLoss(t: Float32Array, v: Float32Array): { loss: number; grad: Float32Array } {
  let tt = 0;
  let tv = 0;
  for (let i = 0; i < t.length; i++) {
    tt += t[i]! * t[i]!;
    tv += t[i]! * v[i]!;
  }
  const n = Math.sqrt(tt);
  if (n === 0) return { loss: 1, grad: new Float32Array(t.length) };
  const cos = tv / n;
  const grad = new Float32Array(t.length);
  for (let i = 0; i < t.length; i++) grad[i] = -(v[i]! / n - (tv * t[i]!) / (n * n * n));
  return { loss: 1 - cos, grad };
}

export async function invertPez(clip: ClipTowers, target: TargetImage, o: PezOptions): Promise<MethodResult> {
  const s = o.settings;
  const started = performance.now();
  o.onProgress?.({ phase: 'encoding', message: 'target image embedding' });
  const v = await clip.embedImage(target);
  const tower = o.tower ?? (await createPezTower(clip));
  try {
    const r = await optimiseProjectedPrompt({
      tower,
      length: s.length,
      iterations: s.iterations,
      optimiser: new AdamW(s.length * tower.dim, { weightDecay: s.weightDecay }),
      lr: () => s.lr,
      seed: s.seed,
      allowed: printableVocabulary(tower),
      snapshotEvery: s.snapshotEvery,
      async lossAndGrad(ids) {
        const t = await tower.forward(ids);
        const { loss, grad } = cosineLoss(t, v);
        return { loss, grad: await tower.inputGrad(ids, grad) };
      },
      ...(o.signal ? { signal: o.signal } : {}),
      onProgress: (e) => o.onProgress?.({ phase: 'refining', ...e }),
    });
    const decode = (ids: Int32Array) => tower.decode(ids);
    const candidates = promptCandidates(r, r.best.ids, decode, r.best.loss);
    o.onProgress?.({ phase: 'done' });
    return {
      method: 'pez',
      initialPrompt: decode(r.initialIds),
      prompt: candidates[0]!.prompt,
      tokens: Array.from(r.best.ids),
      candidates,
      loss: r.losses,
      iterations: r.iterations,
      seconds: (performance.now() - started) / 1000,
      objective: 'clip-text',
      rankedBy: 'loss',
      width: target.width,
      height: target.height,
      ...(r.stopped ? { stopped: r.stopped } : {}),
      ...(r.message ? { message: r.message } : {}),
    };
  } finally {
    if (!o.tower) await tower.release();
  }
}

/** PEZ's differentiable text tower for `clip` (build once, reuse for many images). */
export function createPezTower(clip: ClipTowers): Promise<TextTower> {
  return createTextTower(clip.textModel, clip.tokenizer, {
    output: clip.textOutput,
    ...(clip.sessionOptions ? { sessionOptions: clip.sessionOptions } : {}),
  });
}
