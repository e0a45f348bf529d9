/**
 * Inversion phase 4, ranking: regenerate each distinct prompt (the decoded ones, the start text
 * and the best snapshot's runners-up) and score it against the target.
 */
import { imageToPng } from '../image/image-io.js';
import type { DecodedSnapshots, SnapshotText } from './decode-snapshots.js';
import type { InversionModels } from './inversion-models.js';
import type { Candidate, ImageScorer, InvertProgress, TargetImage } from './invert.js';
import type { InvertSettings } from './presets.js';
import type { Refinement } from './refine-embedding.js';

function mse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
}

/**
 * The prompts to rank, each once: the best embedding's first (so a cancelled run still ranks,
 * and returns, it), then the start text, then the other decodings and the runners-up.
 */
export function promptsToRank(d: DecodedSnapshots, startText: string, startLoss: number): SnapshotText[] {
  const unique = new Map<string, SnapshotText>();
  const best = d.decoded.at(-1);
  if (best) unique.set(best.prompt, best);
  if (!unique.has(startText)) unique.set(startText, { prompt: startText, iteration: 0, loss: startLoss, e2tDistance: 0 });
  for (const t of [...d.decoded, ...d.alternatives]) if (!unique.has(t.prompt)) unique.set(t.prompt, t);
  return [...unique.values()];
}

/**
 * Score each prompt's regeneration (settings.rankSteps sampler steps, same seed): CLIP image
 * similarity with a scorer, else the negative pixel MSE. Once cancelled, stops after the first.
 * @returns the candidates, best first
 */
export async function rankCandidates(
  m: InversionModels,
  prompts: SnapshotText[],
  r: Refinement,
  target: TargetImage,
  s: InvertSettings,
  o: { scorer?: ImageScorer; signal?: AbortSignal; emit: (e: InvertProgress) => void },
): Promise<Candidate[]> {
  const candidates: Candidate[] = [];
  for (const [i, p] of prompts.entries()) {
    if (o.signal?.aborted && candidates.length > 0) break;
    o.emit({ phase: 'ranking', iteration: i + 1, total: prompts.length, message: p.prompt });
    const { embedding } = await m.encodePrompt(p.prompt);
    const img = await r.renderer.render(embedding, { steps: s.rankSteps });
    const regenerated = { data: img, width: target.width, height: target.height };
    const score = o.scorer ? await o.scorer.score(regenerated, target) : -mse(img, target.data);
    candidates.push({ ...p, score, png: await imageToPng(img, target.width, target.height) });
  }
  return candidates.sort((a, b) => b.score - a.score);
}
