/**
 * What every inversion method (EDITOR and the baselines) reports: the EDITOR result shape
 * (prompt, candidates, loss curve, seconds), so the evaluation harness, the CLI and the studio
 * treat them alike.
 */
import type { Candidate, InvertProgress, InvertResult } from '../invert.js';

export const METHOD_NAMES = ['editor', 'ph2p', 'pez', 'caption'] as const;
export type MethodName = (typeof METHOD_NAMES)[number];

export function isMethodName(v: string): v is MethodName {
  return (METHOD_NAMES as readonly string[]).includes(v);
}

/** The objective a method optimised: EDITOR's (pixel, latent, denoise), PEZ's CLIP text–image cosine, none for the caption. */
export type MethodObjective = InvertResult['objective'] | 'clip-text' | 'none';

/**
 * EDITOR's InvertResult with the method named and the fields whose meaning differs widened:
 * `objective` (PEZ optimises `clip-text`, the caption nothing) and `rankedBy` (how the answer
 * was chosen among the candidates: EDITOR's regeneration scores, the method's own loss, or
 * nothing to choose).
 */
export interface MethodResult extends Omit<InvertResult, 'objective' | 'rankedBy'> {
  method: MethodName;
  objective: MethodObjective;
  rankedBy: InvertResult['rankedBy'] | 'loss' | 'none';
  /** Token ids of the answer when the method optimised tokens (PH2P, PEZ): [L]. */
  tokens?: number[];
}

export type { Candidate, InvertProgress };
